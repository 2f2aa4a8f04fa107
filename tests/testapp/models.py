from django.db import models

from apps.core.crypto import EncryptedTextField


class Secret(models.Model):
    """Stands in for the real encrypted columns (TOTP seeds, signing keys) that later apps add."""

    label = models.CharField(max_length=50)
    value = EncryptedTextField(null=True)

    def __str__(self) -> str:
        return self.label
