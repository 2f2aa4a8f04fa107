"""A software WebAuthn authenticator plus client for tests: ES256, "none" attestation, flags UP|UV.

`create(publicKey)` and `get(publicKey)` take the server's options JSON and return the credential in
the standard PublicKeyCredential JSON (`toJSON()` form, base64url), as a browser would send it.
`origin` and `rp_id` can be overridden per call to play a phishing site; each credential's
`sign_count` can be set, and `clone()` copies the keys, to play a cloned authenticator.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NotAllowedError(Exception):
    """What the browser would raise: no matching credential, or an excluded one already exists."""


@dataclass
class SoftCredential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    resident: bool
    sign_count: int = 0


class SoftAuthenticator:
    def __init__(self, *, origin: str = "http://localhost:8000", resident: bool = True, user_verified: bool = True,
                 backup_eligible: bool = False, backed_up: bool = False, counter: bool = True,
                 aaguid: bytes = bytes(16)) -> None:
        self.origin, self.resident, self.user_verified = origin, resident, user_verified
        self.backup_eligible, self.backed_up, self.counter, self.aaguid = backup_eligible, backed_up, counter, aaguid
        self.credentials: list[SoftCredential] = []

    def _flags(self) -> int:
        flags = UP | (UV if self.user_verified else 0)
        return flags | (BE if self.backup_eligible else 0) | (BS if self.backed_up else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def create(self, public_key: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
               challenge: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create(): a new ES256 credential with "none" attestation."""
        if not any(p["alg"] == ES256 for p in public_key["pubKeyCredParams"]):
            raise NotAllowedError("ES256 not offered")
        excluded = {unb64url(c["id"]) for c in public_key.get("excludeCredentials", [])}
        if any(c.credential_id in excluded for c in self.credentials):
            raise NotAllowedError("InvalidStateError: already registered")
        rp_id = rp_id or public_key["rp"]["id"]
        cred = SoftCredential(secrets.token_bytes(32), ec.generate_private_key(ec.SECP256R1()), rp_id,
                              unb64url(public_key["user"]["id"]), self.resident)
        self.credentials.append(cred)
        numbers = cred.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        cose = cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: x, -3: y})
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags() | AT])
                     + struct.pack(">I", cred.sign_count) + self.aaguid
                     + struct.pack(">H", len(cred.credential_id)) + cred.credential_id + cose)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", challenge or public_key["challenge"], origin)
        return {"id": b64url(cred.credential_id), "rawId": b64url(cred.credential_id), "type": "public-key",
                "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                             "transports": ["internal", "hybrid"]},
                "clientExtensionResults": {"credProps": {"rk": self.resident}}}

    def get(self, public_key: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
            challenge: str | None = None, credential: SoftCredential | None = None) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion signed over authenticatorData ‖ SHA-256(clientDataJSON)."""
        rp_id = rp_id or public_key.get("rpId") or "localhost"
        if credential is None:
            allowed = {unb64url(c["id"]) for c in public_key.get("allowCredentials", [])}
            matches = [c for c in self.credentials if c.rp_id == rp_id
                       and (c.credential_id in allowed if allowed else c.resident)]
            if not matches:
                raise NotAllowedError("no credential for this request")
            credential = matches[0]
        if self.counter:
            credential.sign_count += 1
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags()])
                     + struct.pack(">I", credential.sign_count))
        client_data = self._client_data("webauthn.get", challenge or public_key["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature),
                             "userHandle": b64url(credential.user_handle) if credential.resident else None}}

    def clone(self) -> SoftAuthenticator:
        """A copy holding the same private keys and counters, as an attacker's extracted copy would."""
        twin = copy.copy(self)
        twin.credentials = [copy.copy(c) for c in self.credentials]
        return twin
