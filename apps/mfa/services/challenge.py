"""The second step of sign-in: an `mfa_token` (5 minutes, 5 wrong codes) answered with any enrolled factor."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services.signin import SigninResult, signin_complete
from apps.audit.services import emit
from apps.core.errors import ApplicationError
from apps.mfa.errors import InvalidMfaToken, MethodNotEnrolled
from apps.mfa.models import Channel, FactorType, MessageDevice, MfaChallenge, RememberedDevice
from apps.mfa.services import factors

# RFC 8176 authentication method references added by each second factor.
AMR_BY_METHOD: dict[str, list[str]] = {
    FactorType.TOTP: ["otp"],
    FactorType.HOTP: ["otp", "hwk"],
    FactorType.BACKUP_CODE: ["otp"],
    FactorType.SMS: ["sms"],
    FactorType.EMAIL: ["otp"],
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ChallengeStarted:
    mfa_token: str
    methods: list[str]

    def as_response(self) -> dict[str, Any]:
        return {"mfa_required": True, "mfa_token": self.mfa_token, "methods": self.methods}


def challenge_start(*, user: User, amr: list[str], method: str, remember_token: str | None = None
                    ) -> ChallengeStarted | None:
    """After the first factor: None when no second factor is due (none enrolled, or a remembered device)."""
    methods = factors.methods_of(user)
    if not factors.mfa_enabled(user, methods=methods) or remembered_device_valid(user=user, token=remember_token):
        return None
    token = secrets.token_urlsafe(32)
    MfaChallenge.objects.create(user=user, token_hash=_hash(token), amr=amr, method=method,
                                expires_at=timezone.now() + timedelta(seconds=settings.MFA_CHALLENGE_TTL_SECONDS))
    return ChallengeStarted(mfa_token=token, methods=methods)


def _challenge_locked(mfa_token: str) -> MfaChallenge:
    challenge = (MfaChallenge.objects.select_for_update().select_related("user")
                 .filter(token_hash=_hash(mfa_token)).first())
    if (challenge is None or challenge.completed_at or challenge.voided_at
            or challenge.expires_at <= timezone.now() or not challenge.user.is_active):
        raise InvalidMfaToken("This sign-in has expired; start again with your password.")
    return challenge


@transaction.atomic
def challenge_send(*, mfa_token: str, method: str) -> dict[str, Any]:
    """Deliver what the chosen method needs: a code by SMS or e-mail, or WebAuthn request options."""
    challenge = _challenge_locked(mfa_token)
    if method in (FactorType.SMS, FactorType.EMAIL):
        device = (MessageDevice.objects.filter(user=challenge.user, confirmed=True, channel=Channel(method))
                  .order_by("-last_used_at", "created_at").first())
        if device is None:
            raise MethodNotEnrolled(f"No {method} factor is enrolled.")
        factors.message_code_send(device=device)
        return {"sent": True, "method": method}
    if method == FactorType.WEBAUTHN:
        from apps.mfa import webauthn

        ceremony_id, options = webauthn.authentication_options(user=challenge.user)
        return {"ceremony_id": ceremony_id, "publicKey": options}
    return {"sent": False, "method": method}  # TOTP, HOTP, backup codes: nothing to send


def challenge_verify(*, mfa_token: str, method: str, code: str | None = None, credential: dict | None = None,
                     ceremony_id: str | None = None) -> SigninResult:
    """Complete the sign-in with a second factor. Five failures void the token (committed, then raised)."""
    with transaction.atomic():
        challenge = _challenge_locked(mfa_token)
        user = challenge.user
    try:
        if method == FactorType.WEBAUTHN:
            from apps.mfa import webauthn

            credential_used = webauthn.authentication_verify(ceremony_id=ceremony_id or "",
                                                             credential=credential or {}, user=user)
            added_amr = webauthn.amr_for(credential_used)
        else:
            factors.factor_verify_code(user=user, method=method, code=code or "")
            added_amr = AMR_BY_METHOD[FactorType(method)]
    except ApplicationError as exc:  # a wrong code, an unknown method, a refused security key…
        if not isinstance(exc, InvalidMfaToken):
            _challenge_fail(mfa_token)
        raise
    with transaction.atomic():
        challenge = _challenge_locked(mfa_token)  # a parallel request may have finished it meanwhile
        challenge.completed_at = timezone.now()
        challenge.save(update_fields=["completed_at", "updated_at"])
        amr = list(dict.fromkeys([*challenge.amr, *added_amr, "mfa"]))
        return signin_complete(user=user, amr=amr, method=f"{challenge.method}+{method}")


def _challenge_fail(mfa_token: str) -> None:
    with transaction.atomic():
        challenge = _challenge_locked(mfa_token)
        challenge.failures += 1
        if challenge.failures >= settings.MFA_CHALLENGE_MAX_FAILURES:
            challenge.voided_at = timezone.now()
            emit(action="mfa_challenge.voided", actor=None, target=challenge.user, outcome="failure",
                 metadata={"failures": challenge.failures})
        challenge.save(update_fields=["failures", "voided_at", "updated_at"])


# --- remember this device ---------------------------------------------------------------------------------


@transaction.atomic
def remembered_device_create(*, user: User, user_agent: str = "") -> str:
    """A 30-day token that lets this device skip the second factor; returned once, stored hashed."""
    token = secrets.token_urlsafe(32)
    RememberedDevice.objects.create(
        user=user, token_hash=_hash(token), user_agent=user_agent[:512],
        expires_at=timezone.now() + timedelta(days=settings.MFA_REMEMBER_DEVICE_DAYS))
    return token


def remembered_device_valid(*, user: User, token: str | None) -> bool:
    if not token:
        return False
    return RememberedDevice.objects.filter(user=user, token_hash=_hash(token), revoked_at__isnull=True,
                                           expires_at__gt=timezone.now()).exists()


@transaction.atomic
def remembered_devices_revoke(*, user_id: Any) -> int:
    return RememberedDevice.objects.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), updated_at=timezone.now())
