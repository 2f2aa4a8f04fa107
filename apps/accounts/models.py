import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone as dj_timezone

from apps.core.crypto import EncryptedTextField


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        # E-mail is the login and unique case-insensitively (see the constraint below).
        return self.get(email__iexact=email)

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)  # None → unusable password
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. The e-mail address is the login; there is no username."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # unique=True satisfies Django (auth.E003); the Lower() constraint below is what makes it case-insensitive.
    email = models.EmailField("e-mail address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=150, blank=True)
    locale = models.CharField(max_length=35, blank=True, help_text="BCP 47 language tag, e.g. en-GB.")
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA time zone, e.g. Europe/Paris.")
    metadata = models.JSONField(default=dict, blank=True, help_text="Integrator-defined attributes.")
    is_active = models.BooleanField(
        default=True, help_text="Unticked: the user is suspended and cannot sign in."
    )
    is_staff = models.BooleanField(default=False, help_text="May sign in to the operators' admin console.")
    date_joined = models.DateTimeField(default=dj_timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            # Upper(), because Django's `email__iexact` compiles to UPPER(email) = UPPER(%s) on PostgreSQL:
            # this index then serves every lookup by e-mail (sign-in, sign-up, reset) as well as uniqueness.
            models.UniqueConstraint(Upper("email"), name="accounts_user_email_ci_unique",
                                    violation_error_message="A user with this e-mail address already exists."),
        ]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


class UserSession(models.Model):
    """One sign-in: the family of refresh tokens issued from it and every access token naming it (`sid`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    device = models.JSONField(default=dict, blank=True, help_text="Browser and OS parsed from the user agent.")
    amr = models.JSONField(default=list, help_text="Authentication methods (RFC 8176), e.g. [\"pwd\", \"otp\"].")
    auth_time = models.DateTimeField(help_text="When the user last proved who they are in this session.")
    last_activity_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="Absolute end of the session, whatever the activity.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=64, blank=True)
    active_organization_id = models.UUIDField(
        null=True, blank=True, help_text="The `org` claim of this session's access tokens (switch-organization).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_activity_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_session_user_active")]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"


class RefreshToken(models.Model):
    """An opaque refresh token, stored only as its SHA-256. Each use rotates it (`rotated_at`, `replaced_by`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(UserSession, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(help_text="Inactivity limit: unused past this, the token is dead.")
    rotated_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="replaces")
    grace_used = models.BooleanField(default=False, help_text="Replayed once within the grace period.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"refresh token {self.pk}"


class SigningKey(models.Model):
    """An ES256 key pair for access tokens. The private key is encrypted at rest (FIELD_ENCRYPTION_KEYS)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=10, default="ES256")
    private_key_pem = EncryptedTextField()
    public_jwk = models.JSONField()
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Stopped signing; still published until its last token expires."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid}"
