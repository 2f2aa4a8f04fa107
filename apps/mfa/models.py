"""Second factors, all django-otp devices so that one verification path serves them all.

Written on django-otp's Device, ThrottlingMixin and oath module rather than its stock plugins because
the stock TOTP/HOTP/static devices keep seeds and codes in clear: here seeds and phone numbers are
encrypted (apps.core.crypto) and every code is stored only as a keyed hash.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from apps.core.crypto import EncryptedTextField


class FactorType(models.TextChoices):
    TOTP = "totp", "Authenticator app"
    HOTP = "hotp", "Hardware token"
    BACKUP_CODE = "backup_code", "Backup codes"
    SMS = "sms", "SMS"
    EMAIL = "email", "E-mail"
    WEBAUTHN = "webauthn", "Security key or passkey"


class Factor(TimestampMixin, ThrottlingMixin, Device):
    """Common to every factor: UUID id, owner, name, confirmed, created/last used, brute-force throttling."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    factor_type: FactorType

    class Meta:
        abstract = True

    def get_throttle_factor(self) -> int:
        return settings.MFA_THROTTLE_FACTOR


class TOTPDevice(Factor):
    """RFC 6238 authenticator app. `last_t` refuses a code twice (ASVS 2.8.4)."""

    factor_type = FactorType.TOTP
    key = EncryptedTextField(help_text="Hex seed, encrypted at rest.")
    step = models.PositiveSmallIntegerField(default=30)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1, help_text="Accepted steps before and after now.")
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1, help_text="Time step of the last accepted code.")

    class Meta:
        verbose_name = "authenticator app"


class HOTPDevice(Factor):
    """RFC 4226 hardware token (e.g. YubiKey OATH-HOTP); the counter only moves forward."""

    factor_type = FactorType.HOTP
    key = EncryptedTextField(help_text="Hex seed, encrypted at rest.")
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=10, help_text="Look-ahead window.")
    counter = models.BigIntegerField(default=0, help_text="Next expected counter value.")

    class Meta:
        verbose_name = "hardware token"


class BackupCodeDevice(Factor):
    """A set of single-use recovery codes, stored as keyed hashes."""

    factor_type = FactorType.BACKUP_CODE

    class Meta:
        verbose_name = "backup code set"


class BackupCode(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="mfa_backup_code_unique")]

    def __str__(self) -> str:
        return f"backup code of {self.device_id}"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "E-mail"


class MessageDevice(Factor):
    """A code sent by SMS or e-mail: 6 digits, 10 minutes, single use, kept only as a keyed hash."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    destination = EncryptedTextField(help_text="E.164 phone number or e-mail address, encrypted at rest.")
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SMS or e-mail factor"

    @property
    def factor_type(self) -> FactorType:  # type: ignore[override]
        return FactorType.SMS if self.channel == Channel.SMS else FactorType.EMAIL


class WebAuthnCredential(Factor):
    """A security key or passkey (WebAuthn). Only the public key is stored."""

    factor_type = FactorType.WEBAUTHN
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    discoverable = models.BooleanField(default=False, help_text="A passkey that can sign in on its own.")
    backed_up = models.BooleanField(default=False, help_text="Synced by its provider (multi-device passkey).")

    class Meta:
        verbose_name = "security key or passkey"


class MfaChallenge(models.Model):
    """The half-finished sign-in between the first factor and the second (`mfa_token`, 5 minutes)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_challenges")
    token_hash = models.CharField(max_length=64, unique=True)
    amr = models.JSONField(default=list, help_text="Methods already proven (e.g. [\"pwd\"]).")
    method = models.CharField(max_length=32, help_text="How the first factor was proven (password, magic_link…).")
    expires_at = models.DateTimeField()
    failures = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"MFA challenge {self.pk}"


class RememberedDevice(models.Model):
    """"Remember this device" for 30 days: a random token held by one browser or app, stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="remembered_devices")
    token_hash = models.CharField(max_length=64, unique=True)
    user_agent = models.CharField(max_length=512, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"remembered device {self.pk}"
