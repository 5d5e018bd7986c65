"""Encrypted model fields for secrets at rest (CallRail keys, webhook signing keys).

Values are Fernet tokens made with the first key of settings.FIELD_ENCRYPTION_KEYS; every key in the
list can still decrypt, so keys rotate without downtime (add a new key first, re-save, drop the old).
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is invalid: each key must be 32 url-safe base64-encoded bytes "
            "(make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from None


def encryptor() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code only ever sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return encryptor().decrypt(value.encode()).decode()
        except InvalidToken:
            raise ImproperlyConfigured(
                f"{self.model.__name__}.{self.name} cannot be decrypted with FIELD_ENCRYPTION_KEYS "
                "(was a key removed before every value was re-encrypted?)"
            ) from None

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encryptor().encrypt(value.encode()).decode()


def mask_secret(value: str, visible: int = 4) -> str:
    """What a page may show of a secret: its last few characters."""
    if not value:
        return ""
    return "•" * 8 + value[-visible:] if len(value) > visible * 2 else "•" * 8
