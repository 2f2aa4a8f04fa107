"""Access tokens: ES256 JWTs signed with keys kept encrypted in the database and published as JWKS.

Written on PyJWT + cryptography rather than djangorestframework-simplejwt: our contract needs a
per-request session check, race-safe refresh rotation with reuse detection and keys in the database,
none of which simplejwt does (../shared/DEPENDENCIES.md, trap 7). See docs/authentication.md.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from apps.accounts.models import SigningKey, UserSession

ALGORITHM = "ES256"
# Tolerated clock difference between Plinto's processes and verifiers, when checking exp/iat.
LEEWAY_SECONDS = 30


class InvalidAccessToken(Exception):
    """The token is malformed, forged, expired, for another audience or signed by an unknown key."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    amr: list[str]
    auth_time: int
    jti: str
    expires_at: int
    organization_id: str | None = None


# --- signing keys -------------------------------------------------------------------------------


def signing_key_create() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    kid = secrets.token_urlsafe(12)
    public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return SigningKey.objects.create(kid=kid, algorithm=ALGORITHM, private_key_pem=pem, public_jwk=public_jwk)


@transaction.atomic
def signing_key_rotate() -> SigningKey:
    """Add a key and sign with it from now on; older keys stay published until their tokens expire."""
    SigningKey.objects.select_for_update().filter(retired_at__isnull=True).update(retired_at=timezone.now())
    key = signing_key_create()
    signing_key_cache_clear()
    return key


_current_key: tuple[float, SigningKey] | None = None
CURRENT_KEY_CACHE_SECONDS = 30  # a rotation reaches every process within this; older keys stay valid anyway


def signing_key_current() -> SigningKey:
    """The key to sign with, read from the database at most every 30 s per process (it is on every refresh)."""
    global _current_key
    if _current_key is not None and time.monotonic() - _current_key[0] < CURRENT_KEY_CACHE_SECONDS:
        return _current_key[1]
    key = _signing_key_current_from_db()
    _current_key = (time.monotonic(), key)
    return key


def signing_key_cache_clear() -> None:
    """Forget the per-process caches of keys (after a rotation, or when the database is rolled back in tests)."""
    global _current_key
    _current_key = None
    _public_keys_cache.clear()


def _signing_key_current_from_db() -> SigningKey:
    key = SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at").first()
    if key is None:
        with transaction.atomic():
            # First token ever: create the key once even if two requests race here.
            SigningKey.objects.select_for_update().filter(retired_at__isnull=True).exists()
            key = SigningKey.objects.filter(retired_at__isnull=True).first() or signing_key_create()
    return key


def signing_keys_published(kid: str | None = None) -> list[SigningKey]:
    """The current key and every retired key that may still have unexpired tokens out there."""
    horizon = timezone.now() - timedelta(seconds=settings.ACCESS_TOKEN_TTL_SECONDS + LEEWAY_SECONDS)
    # The private half stays encrypted in the row: publishing and verifying never decrypt it.
    keys = SigningKey.objects.exclude(retired_at__lt=horizon).defer("private_key_pem").order_by("-created_at")
    return list(keys.filter(kid=kid) if kid is not None else keys)


def jwks() -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in signing_keys_published()]}


@lru_cache(maxsize=16)
def _private_key(kid: str, pem: str) -> ec.EllipticCurvePrivateKey:
    return serialization.load_pem_private_key(pem.encode(), password=None)  # type: ignore[return-value]


class _PublicKeysCache:
    """Published public keys by kid, per process. A kid not seen yet is looked up in the database
    (one indexed query), so a key added by another process verifies at once; the whole set is
    reloaded every minute so that keys past their publication horizon drop out."""

    RELOAD_AFTER_SECONDS = 60

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._loaded_at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._keys, self._loaded_at = {}, 0.0

    def get(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        now = time.monotonic()
        if now - self._loaded_at > self.RELOAD_AFTER_SECONDS:
            keys = {k.kid: ECAlgorithm.from_jwk(k.public_jwk) for k in signing_keys_published()}
            with self._lock:
                self._keys, self._loaded_at = keys, now
        key = self._keys.get(kid)
        if key is None:
            row = next(iter(signing_keys_published(kid)), None)
            if row is not None:
                key = ECAlgorithm.from_jwk(row.public_jwk)
                with self._lock:
                    self._keys[kid] = key
        return key


_public_keys_cache = _PublicKeysCache()


# --- access tokens -------------------------------------------------------------------------------


def access_token_issue(*, session: UserSession) -> tuple[str, int]:
    """Sign an access token for `session` (its active organization as `org`); returns (token, expires_in)."""
    key = signing_key_current()
    now = int(time.time())
    ttl = settings.ACCESS_TOKEN_TTL_SECONDS
    claims: dict[str, Any] = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(session.user_id),
        "sid": str(session.pk),
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + ttl,
        "auth_time": int(session.auth_time.timestamp()),
        "amr": list(session.amr),
    }
    if session.active_organization_id:
        claims["org"] = str(session.active_organization_id)
    token = jwt.encode(claims, _private_key(key.kid, key.private_key_pem), algorithm=ALGORITHM,
                       headers={"kid": key.kid, "typ": "at+jwt"})
    return token, ttl


def access_token_verify(token: str) -> AccessClaims:
    """Check signature (ES256 only), kid, issuer, audience and lifetime. Session state is checked by the caller."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("malformed token") from exc
    if header.get("alg") != ALGORITHM or header.get("typ") != "at+jwt":
        raise InvalidAccessToken("algorithm or token type not accepted")
    public_key = _public_keys_cache.get(str(header.get("kid", "")))
    if public_key is None:
        raise InvalidAccessToken("unknown signing key")
    try:
        claims = jwt.decode(
            token, public_key, algorithms=[ALGORITHM], audience=settings.JWT_AUDIENCE, issuer=settings.JWT_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "jti", "auth_time", "amr"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]), session_id=uuid.UUID(claims["sid"]), amr=list(claims["amr"]),
            auth_time=int(claims["auth_time"]), jti=claims["jti"], expires_at=int(claims["exp"]),
            organization_id=claims.get("org"),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidAccessToken(str(exc)) from exc

