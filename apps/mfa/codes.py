"""One-time codes: generation, normalisation and keyed hashing (only hashes are ever stored)."""

import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by people


def code_hash(code: str, *, purpose: str) -> str:
    """HMAC-SHA256 under a key derived from SECRET_KEY: a stolen table cannot be brute-forced offline."""
    return salted_hmac(f"plinto.mfa.{purpose}", normalize(code), algorithm="sha256").hexdigest()


def code_matches(code: str, stored_hash: str, *, purpose: str) -> bool:
    return bool(stored_hash) and constant_time_compare(code_hash(code, purpose=purpose), stored_hash)


def normalize(code: str) -> str:
    return "".join(ch for ch in str(code).lower() if ch.isalnum())


def numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


def backup_code() -> str:
    """`xxxx-xxxx` from a 31-letter alphabet: about 40 bits, enough for a single-use, throttled code."""
    raw = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"
