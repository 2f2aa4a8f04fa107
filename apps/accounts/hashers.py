"""Password hashing: Argon2id for every new hash, verifiers for the hashes we inherit.

`PASSWORD_HASHERS` lists `Argon2idHasher` first, so Django hashes new passwords with it. The others
only verify hashes that came from elsewhere (Plinto's legacy bcrypt, Django's own hashers, user
imports from Auth0, Clerk or Firebase). Django's `check_password` calls the user's setter after a
successful check whenever the stored hash is not Argon2id with the current parameters, so every
inherited hash becomes Argon2id at its owner's next sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.contrib.auth import hashers as django_hashers
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_noop, ngettext

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane.
ARGON2_DEFAULTS = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}
BCRYPT_MAX_BYTES = 72


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def b64decode_lenient(value: str) -> bytes:
    """Standard or URL-safe base64, padded or not (exports differ). Raises ValueError if it is not base64."""
    value = value.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


# --- Argon2id ---------------------------------------------------------------------------------------


def argon2_parameters() -> dict[str, int]:
    """The configured Argon2id cost (settings.PASSWORD_ARGON2 over the OWASP defaults), checked."""
    params = {**ARGON2_DEFAULTS, **getattr(settings, "PASSWORD_ARGON2", {})}
    memory_cost, time_cost, parallelism = (int(params[k]) for k in ("memory_cost", "time_cost", "parallelism"))
    if time_cost < 1 or parallelism < 1 or memory_cost < 8 * parallelism:
        raise ImproperlyConfigured(
            "PASSWORD_ARGON2 needs time_cost >= 1, parallelism >= 1 and memory_cost (KiB) >= 8 * parallelism; "
            f"got {params!r}."
        )
    return {"memory_cost": memory_cost, "time_cost": time_cost, "parallelism": parallelism}


class Argon2idHasher(django_hashers.Argon2PasswordHasher):
    """Argon2id with the cost from settings, read at every call (no restart or cache reset needed).

    The algorithm keeps Django's name, "argon2", so hashes made by Django's stock hasher (100 MiB,
    p=8) still verify; `must_update` is true for any stored hash whose parameters differ from the
    configured ones, and Django re-hashes it after the next successful check.
    """

    algorithm = "argon2"

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return argon2_parameters()["memory_cost"]

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return argon2_parameters()["time_cost"]

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return argon2_parameters()["parallelism"]

    def verify(self, password: str, encoded: str) -> bool:
        argon2 = self._load_library()
        try:
            return super().verify(password, encoded)
        except argon2.exceptions.InvalidHashError:  # a damaged hash is a failed check, not a crash
            return False

    def must_update(self, encoded: str) -> bool:
        argon2 = self._load_library()
        try:
            return super().must_update(encoded)
        except argon2.exceptions.InvalidHashError:
            return True


# --- bcrypt -----------------------------------------------------------------------------------------


class BCryptPasswordHasher(django_hashers.BCryptPasswordHasher):
    """Verifies plain bcrypt hashes (`bcrypt$$2b$12$…`: Plinto's legacy ones, Auth0 and Clerk imports).

    bcrypt reads at most 72 bytes of a password. Every bcrypt that made these hashes (bcrypt < 5,
    OpenBSD, Node, PHP) ignored the bytes after the 72nd; bcrypt 5 raises ValueError instead, which
    would turn a long password into a server error. Checking the same 72 bytes the hash was made
    from is the exact comparison, and accepts nothing the stored hash did not already accept. New
    hashes are never bcrypt: encoding a longer password is refused rather than silently truncated.
    """

    def verify(self, password: str, encoded: str) -> bool:
        algorithm, data = encoded.split("$", 1)
        assert algorithm == self.algorithm
        bcrypt = self._load_library()
        try:
            return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], data.encode("ascii"))
        except ValueError:  # not a bcrypt hash this library can read ($2x$, damaged salt)
            return False

    def encode(self, password: str, salt: bytes) -> str:
        if len(password.encode()) > BCRYPT_MAX_BYTES:
            raise ValueError("bcrypt reads only 72 bytes of a password; new hashes must use Argon2id.")
        return super().encode(password, salt)

    def harden_runtime(self, password: str, encoded: str) -> None:
        # Only reached if bcrypt were the preferred hasher; keep it from raising on long passwords.
        super().harden_runtime(password.encode()[:BCRYPT_MAX_BYTES].decode(errors="ignore"), encoded)


# --- PBKDF2 with raw salts (imports) ---------------------------------------------------------------

PBKDF2_DIGESTS = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})
PBKDF2_MAX_ITERATIONS = 10_000_000
STORED_KEY_BYTES = 32  # 256 bits of a derived key or keystream are kept; see the two hashers below


def pbkdf2_imported_encode(*, digest: str, iterations: int, salt: bytes, key: bytes) -> str:
    """Encode a PBKDF2 result from another system: `pbkdf2_imported$<digest>$<iterations>$<salt>$<key>`.

    PBKDF2's output is a stream (T1 || T2 || …) cut to the wanted length, so its first bytes are
    the same whatever length the source asked for; keeping at most one digest block (and at most
    32 bytes) verifies the same password at the cost of a single block, and fits the password column.
    """
    if digest not in PBKDF2_DIGESTS:
        raise ValueError(f"unsupported PBKDF2 digest {digest!r}")
    if not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise ValueError(f"PBKDF2 iterations out of range: {iterations}")
    if not salt or not key:
        raise ValueError("PBKDF2 salt and key must not be empty")
    kept = key[: min(len(key), hashlib.new(digest).digest_size, STORED_KEY_BYTES)]
    return f"{ImportedPBKDF2PasswordHasher.algorithm}${digest}${iterations}${_b64encode(salt)}${_b64encode(kept)}"


class ImportedPBKDF2PasswordHasher(django_hashers.BasePasswordHasher):
    """Verifies PBKDF2 hashes Django's own hasher cannot read: binary salts, SHA-1/SHA-512, other lengths."""

    algorithm = "pbkdf2_imported"

    def decode(self, encoded: str) -> dict[str, Any]:
        algorithm, digest, iterations, salt, key = encoded.split("$")
        assert algorithm == self.algorithm
        if digest not in PBKDF2_DIGESTS or not 1 <= int(iterations) <= PBKDF2_MAX_ITERATIONS:
            raise ValueError("unsupported PBKDF2 parameters")
        return {"algorithm": algorithm, "digest": digest, "iterations": int(iterations),
                "salt": b64decode_lenient(salt), "hash": b64decode_lenient(key)}

    def verify(self, password: str, encoded: str) -> bool:
        try:
            decoded = self.decode(encoded)
        except ValueError:
            return False
        derived = hashlib.pbkdf2_hmac(decoded["digest"], password.encode(), decoded["salt"],
                                      decoded["iterations"], dklen=len(decoded["hash"]))
        return hmac.compare_digest(derived, decoded["hash"])

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError("pbkdf2_imported only verifies imported hashes; new hashes are Argon2id.")

    def safe_summary(self, encoded: str) -> dict[str, Any]:
        decoded = self.decode(encoded)
        return {
            gettext_noop("algorithm"): f"{self.algorithm} ({decoded['digest']})",
            gettext_noop("iterations"): decoded["iterations"],
            gettext_noop("salt"): django_hashers.mask_hash(_b64encode(decoded["salt"])),
            gettext_noop("hash"): django_hashers.mask_hash(_b64encode(decoded["hash"])),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # never the preferred hasher


# --- Firebase scrypt --------------------------------------------------------------------------------

FIREBASE_MAX_ROUNDS = 8  # Firebase's documented bounds for its hash config
FIREBASE_MAX_MEM_COST = 14


def _aes_ctr_keystream(key: bytes, length: int) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    return encryptor.update(b"\x00" * length) + encryptor.finalize()


def _firebase_derived_key(password: str, *, salt: bytes, separator: bytes, rounds: int, mem_cost: int) -> bytes:
    n = 2**mem_cost
    return hashlib.scrypt(password.encode(), salt=salt + separator, n=n, r=rounds, p=1, dklen=32,
                          maxmem=256 * rounds * n + 2**20)


def _firebase_check_params(rounds: int, mem_cost: int) -> None:
    if not (1 <= rounds <= FIREBASE_MAX_ROUNDS and 1 <= mem_cost <= FIREBASE_MAX_MEM_COST):
        raise ValueError(f"Firebase scrypt parameters out of range: rounds={rounds}, mem_cost={mem_cost}")


def firebase_scrypt_encode(*, password_hash: bytes, salt: bytes, signer_key: bytes, salt_separator: bytes,
                           rounds: int, mem_cost: int) -> str:
    """Encode a Firebase user's hash and its project's hash config as `firebase_scrypt$…`.

    Firebase's hash is AES-256-CTR(key=scrypt(password, salt + separator, N=2**mem_cost, r=rounds,
    p=1, 32 bytes), iv=0) applied to the project's signer key. CTR encryption XORs a keystream that
    depends only on that key, so `hash XOR signer key` is the keystream. We store its first 32 bytes
    instead of the 64-byte hash and 64-byte signer key: the check is the same, the encoding fits
    Django's 128-character password column, and the project's signer key is not copied into every row.
    Format: `firebase_scrypt$<rounds>$<mem_cost>$<salt>$<salt separator>$<keystream>` (base64).
    """
    _firebase_check_params(rounds, mem_cost)
    if not salt:
        raise ValueError("Firebase salt must not be empty")
    length = min(len(password_hash), len(signer_key), STORED_KEY_BYTES)
    if length < 16:
        raise ValueError("Firebase hash and signer key must be at least 16 bytes")
    keystream = bytes(h ^ k for h, k in zip(password_hash[:length], signer_key[:length], strict=True))
    return (f"{FirebaseScryptPasswordHasher.algorithm}${rounds}${mem_cost}${_b64encode(salt)}"
            f"${_b64encode(salt_separator)}${_b64encode(keystream)}")


class FirebaseScryptPasswordHasher(django_hashers.BasePasswordHasher):
    """Verifies Firebase Authentication's modified scrypt (see `firebase_scrypt_encode`)."""

    algorithm = "firebase_scrypt"

    def decode(self, encoded: str) -> dict[str, Any]:
        algorithm, rounds, mem_cost, salt, separator, keystream = encoded.split("$")
        assert algorithm == self.algorithm
        _firebase_check_params(int(rounds), int(mem_cost))
        return {"algorithm": algorithm, "rounds": int(rounds), "mem_cost": int(mem_cost),
                "salt": b64decode_lenient(salt), "separator": b64decode_lenient(separator),
                "hash": b64decode_lenient(keystream)}

    def verify(self, password: str, encoded: str) -> bool:
        try:
            decoded = self.decode(encoded)
        except ValueError:
            return False
        key = _firebase_derived_key(password, salt=decoded["salt"], separator=decoded["separator"],
                                    rounds=decoded["rounds"], mem_cost=decoded["mem_cost"])
        return hmac.compare_digest(_aes_ctr_keystream(key, len(decoded["hash"])), decoded["hash"])

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError("firebase_scrypt only verifies imported hashes; new hashes are Argon2id.")

    def safe_summary(self, encoded: str) -> dict[str, Any]:
        decoded = self.decode(encoded)
        return {
            gettext_noop("algorithm"): self.algorithm,
            gettext_noop("rounds"): decoded["rounds"],
            gettext_noop("memory cost"): decoded["mem_cost"],
            gettext_noop("salt"): django_hashers.mask_hash(_b64encode(decoded["salt"])),
            gettext_noop("hash"): django_hashers.mask_hash(_b64encode(decoded["hash"])),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # never the preferred hasher


# --- validators -------------------------------------------------------------------------------------


class MaximumLengthValidator:
    """Refuse passwords longer than `max_length` characters (any Unicode; nothing is ever truncated)."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It must contain at most %(max_length)d character.",
                    "This password is too long. It must contain at most %(max_length)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self) -> str:
        return ngettext(
            "Your password must contain at most %(max_length)d character.",
            "Your password must contain at most %(max_length)d characters.",
            self.max_length,
        ) % {"max_length": self.max_length}
