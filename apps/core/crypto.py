"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under versioned keys.

`FIELD_ENCRYPTION_KEYS` lists Fernet keys newest first: values are encrypted with the first and
decrypted with whichever matches, so a new key can be added at the front without downtime, then
`manage.py rotate_field_keys` re-encrypts every encrypted column and the old key can be dropped.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionFailed(Exception):
    """A stored value matches none of the configured keys (key removed too early, or tampering)."""


def keys_from_settings() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty; generate one with `python -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())'`."
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                                       "(32 url-safe base64-encoded bytes).") from None
    return keys


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def _current() -> MultiFernet:
    return _fernet(keys_from_settings())


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("stored secret matches no key in FIELD_ENCRYPTION_KEYS") from None


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code sees plaintext.

    Not usable in lookups (each encryption is randomized): look rows up by another column.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored with EncryptedTextField, for rotation."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
