"""Enrolling, verifying and removing second factors. Every change is audited and e-mailed to the user."""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import time
from datetime import timedelta
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Value
from django.utils import timezone
from django_otp.oath import TOTP, hotp

from apps.accounts.models import User
from apps.accounts.services.notifications import email_send
from apps.audit.services import emit
from apps.mfa import codes
from apps.mfa.errors import FactorNotFound, InvalidMfaCode, MethodNotEnrolled, NoPendingEnrolment, SmsUnavailable
from apps.mfa.models import (
    BackupCode,
    BackupCodeDevice,
    Channel,
    Factor,
    FactorType,
    HOTPDevice,
    MessageDevice,
    TOTPDevice,
    WebAuthnCredential,
)

FACTOR_MODELS: tuple[type[Factor], ...] = (TOTPDevice, HOTPDevice, BackupCodeDevice, MessageDevice, WebAuthnCredential)
BACKUP_CODE_COUNT = 10


def factors_of(user: User, *, confirmed: bool = True) -> list[Factor]:
    found: list[Factor] = []
    for model in FACTOR_MODELS:
        found += list(model.objects.filter(user=user, confirmed=confirmed))
    return sorted(found, key=lambda f: f.created_at or timezone.now())


def methods_of(user: User) -> list[str]:
    """The methods this user can answer an MFA challenge with, in a stable order.

    One UNION query over the factor tables, reading no secret column: it runs on every sign-in and
    every /auth/me, so it must not decrypt seeds or cost a query per factor type.
    """
    typed = [model.objects.filter(user=user, confirmed=True)
             .annotate(kind=Value(str(model.factor_type), output_field=CharField())).values_list("kind")
             for model in (TOTPDevice, HOTPDevice, BackupCodeDevice, WebAuthnCredential)]
    messages = MessageDevice.objects.filter(user=user, confirmed=True).values_list("channel")
    found = {kind for (kind,) in typed[0].union(*typed[1:], messages)}
    order = [t.value for t in FactorType]
    return sorted(found, key=order.index)


def mfa_enabled(user: User, *, methods: list[str] | None = None) -> bool:
    """Backup codes alone do not turn MFA on: they only recover a real factor."""
    return any(m != FactorType.BACKUP_CODE for m in (methods if methods is not None else methods_of(user)))


def factor_record_added(factor: Factor) -> None:
    """Audit a confirmed factor and tell its owner by e-mail (ASVS 2.5.5)."""
    emit(action="factor.added", actor=factor.user, target=factor.user,
         metadata={"type": factor.factor_type, "factor_id": str(factor.pk)})
    email_send(template_prefix="mfa/email/factor_added", to=factor.user.email,
               context={"user": factor.user, "factor_label": FactorType(factor.factor_type).label})


# --- TOTP ---------------------------------------------------------------------------------------


@transaction.atomic
def totp_setup(*, user: User) -> tuple[TOTPDevice, str, str, str]:
    """A new, unconfirmed authenticator: (device, base32 secret, otpauth URI, QR code as SVG)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    key = secrets.token_bytes(20)
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", key=key.hex(), confirmed=False)
    secret = base64.b32encode(key).decode().rstrip("=")
    label = f"{quote(settings.MFA_TOTP_ISSUER)}:{quote(user.email)}"  # literal colon, as authenticator apps show it
    uri = (f"otpauth://totp/{label}?secret={secret}&issuer={quote(settings.MFA_TOTP_ISSUER)}"
           f"&algorithm=SHA1&digits={device.digits}&period={device.step}")
    return device, secret, uri, qr_svg(uri)


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@transaction.atomic
def totp_confirm(*, user: User, code: str) -> TOTPDevice:
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-created_at").first()
    if device is None:
        raise NoPendingEnrolment("Start with POST /api/v1/mfa/totp/setup.")
    if not _totp_check(device, code):
        raise InvalidMfaCode("That code is not valid; check the time on your device and try again.")
    device.confirmed = True
    device.save(update_fields=["confirmed", "last_t", "updated_at"])
    factor_record_added(device)
    return device


def _totp_check(device: TOTPDevice, code: str) -> bool:
    """RFC 6238 with ±tolerance steps; a step already used is refused (replay), so each code works once."""
    token = _digits(code, device.digits)
    if token is None:
        return False
    totp = TOTP(bytes.fromhex(device.key), device.step, 0, device.digits, device.drift)
    totp.time = time.time()
    if not totp.verify(token, device.tolerance, device.last_t + 1):  # returns a bool, sets drift on success
        return False
    device.last_t = totp.t()
    return True


def _digits(code: str, length: int) -> int | None:
    code = str(code).strip().replace(" ", "")
    return int(code) if code.isdigit() and len(code) == length else None


# --- HOTP (hardware tokens) -------------------------------------------------------------------


def _parse_secret(secret: str) -> bytes:
    """Base32 (as printed by most tokens) or hex (as YubiKey Manager shows it)."""
    cleaned = secret.strip().replace(" ", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        pass
    try:
        return base64.b32decode(cleaned.upper() + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise InvalidMfaCode("The secret is neither hex nor base32.") from None


@transaction.atomic
def hotp_enrol(*, user: User, secret: str, digits: int, counter: int, code: str, name: str = "") -> HOTPDevice:
    """Register a hardware token; it must prove itself with its next code before it counts."""
    key = _parse_secret(secret)
    if len(key) < 16:
        raise InvalidMfaCode("The secret is too short (at least 128 bits).")
    device = HOTPDevice(user=user, name=name or "Hardware token", key=key.hex(), digits=digits, counter=counter,
                        confirmed=True)
    if not _hotp_check(device, code):
        raise InvalidMfaCode("That code does not match the token's next codes.")
    device.save()
    factor_record_added(device)
    return device


def _hotp_check(device: HOTPDevice, code: str) -> bool:
    """RFC 4226 with a look-ahead window; the counter only moves forward, past the code used."""
    token = _digits(code, device.digits)
    if token is None:
        return False
    key = bytes.fromhex(device.key)
    for counter in range(device.counter, device.counter + device.tolerance + 1):
        if hotp(key, counter, device.digits) == token:
            device.counter = counter + 1
            return True
    return False


# --- backup codes -------------------------------------------------------------------------------


@transaction.atomic
def backup_codes_regenerate(*, user: User) -> list[str]:
    """Replace the user's backup codes with 10 new ones, returned once and stored only hashed."""
    BackupCodeDevice.objects.filter(user=user).delete()
    device = BackupCodeDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    plain = [codes.backup_code() for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.bulk_create([BackupCode(device=device, code_hash=codes.code_hash(c, purpose="backup"))
                                    for c in plain])
    emit(action="backup_codes.regenerated", actor=user, target=user, metadata={"count": len(plain)})
    return plain


def backup_codes_remaining(user: User) -> int:
    return BackupCode.objects.filter(device__user=user, device__confirmed=True, used_at__isnull=True).count()


def _backup_check(device: BackupCodeDevice, code: str) -> bool:
    digest = codes.code_hash(code, purpose="backup")
    used = BackupCode.objects.filter(device=device, code_hash=digest, used_at__isnull=True).update(
        used_at=timezone.now())
    return used == 1


# --- SMS and e-mail codes ---------------------------------------------------------------------------


@transaction.atomic
def message_setup(*, user: User, channel: str, destination: str) -> MessageDevice:
    """Start enrolling a phone number or e-mail address: a code is sent there to prove it."""
    if channel == Channel.SMS and settings.SMS_PROVIDER == "disabled":
        raise SmsUnavailable("SMS codes are not available on this installation.")
    MessageDevice.objects.filter(user=user, channel=channel, confirmed=False).delete()
    label = f"SMS to …{destination[-4:]}" if channel == Channel.SMS else f"E-mail to {destination}"
    device = MessageDevice.objects.create(user=user, channel=channel, destination=destination, name=label,
                                          confirmed=False)
    message_code_send(device=device)
    return device


def message_confirm(*, user: User, channel: str, code: str) -> MessageDevice:
    with transaction.atomic():
        device = (MessageDevice.objects.select_for_update().filter(user=user, channel=channel, confirmed=False)
                  .order_by("-created_at").first())
        if device is None:
            raise NoPendingEnrolment(f"Start with POST /api/v1/mfa/{channel}/setup.")
        allowed, _ = device.verify_is_allowed()
        if allowed and _message_check(device, code):
            device.confirmed = True
            device.throttle_reset(commit=False)
            device.save()
            factor_record_added(device)
            return device
        device.throttle_increment()  # committed: the error below must not undo the back-off
    raise InvalidMfaCode("That code is not valid or has expired.")


def message_code_send(*, device: MessageDevice) -> None:
    """A fresh 6-digit code (10 minutes, single use), sent after commit; rate-limited per user and number."""
    from apps.core.errors import RateLimited
    from apps.core.ratelimit import hit

    for key in (f"user:{device.user_id}", f"to:{codes.code_hash(device.destination, purpose='destination')}"):
        decision = hit("SMS_SEND", key)
        if not decision.allowed:
            raise RateLimited(retry_after=decision.retry_after, detail="Too many codes sent; try again later.")
    code = codes.numeric_code(6)
    device.code_hash = codes.code_hash(code, purpose="message")
    device.code_expires_at = timezone.now() + timedelta(seconds=settings.MFA_CODE_TTL_SECONDS)
    device.save(update_fields=["code_hash", "code_expires_at", "updated_at"])
    minutes = settings.MFA_CODE_TTL_SECONDS // 60
    if device.channel == Channel.SMS:
        from apps.mfa.tasks import sms_send_task

        body = f"{code} is your Plinto code. It expires in {minutes} minutes. Never share it."
        to, key = device.destination, f"mfa-{device.pk}-{device.code_hash[:16]}"
        # expires: a retry after the code's own lifetime would only deliver a dead code
        transaction.on_commit(lambda: sms_send_task.apply_async(
            kwargs={"to": to, "body": body, "idempotency_key": key}, expires=settings.MFA_CODE_TTL_SECONDS))
    else:
        email_send(template_prefix="mfa/email/code", to=device.destination,
                   context={"user": device.user, "code": code, "minutes": minutes})


def _message_check(device: MessageDevice, code: str) -> bool:
    fresh = device.code_expires_at is not None and device.code_expires_at > timezone.now()
    if fresh and codes.code_matches(code, device.code_hash, purpose="message"):
        device.code_hash, device.code_expires_at = "", None  # single use
        return True
    return False


# --- one verification path for every factor ----------------------------------------------------------

_CHECKS = {
    FactorType.TOTP: (TOTPDevice, _totp_check),
    FactorType.HOTP: (HOTPDevice, _hotp_check),
    FactorType.BACKUP_CODE: (BackupCodeDevice, _backup_check),
}


def factor_verify_code(*, user: User, method: str, code: str) -> Factor:
    """Check a code against the user's confirmed factors of `method`; raise InvalidMfaCode otherwise.

    Rows are locked, so two requests cannot both spend one code; django-otp's throttling backs off
    after each failure. The failure (throttle and audit event) is committed before the error is raised.
    """
    with transaction.atomic():
        devices = _locked_devices(user=user, method=method)
        check = _message_check if method in (FactorType.SMS, FactorType.EMAIL) else _CHECKS[FactorType(method)][1]
        for device in devices:
            allowed, _ = device.verify_is_allowed()
            if allowed and check(device, code):
                device.throttle_reset(commit=False)
                device.set_last_used_timestamp(commit=False)
                device.save()
                emit(action="factor.used", actor=user, target=user,
                     metadata={"type": device.factor_type, "factor_id": str(device.pk)})
                return device
    with transaction.atomic():
        devices = _locked_devices(user=user, method=method)
        for device in devices:
            device.throttle_increment()
        emit(action="factor.failed", actor=user, target=user, outcome="failure",
             metadata={"type": method, "factor_id": str(devices[0].pk), "reason": "invalid_code"})
    raise InvalidMfaCode("That code is not valid.")


def _locked_devices(*, user: User, method: str) -> list[Factor]:
    if method in (FactorType.SMS, FactorType.EMAIL):
        devices = MessageDevice.objects.select_for_update().filter(user=user, confirmed=True, channel=method)
    elif method in _CHECKS:
        devices = _CHECKS[FactorType(method)][0].objects.select_for_update().filter(user=user, confirmed=True)
    else:
        raise MethodNotEnrolled(f"{method!r} is not a code-based factor.")
    found = list(devices)
    if not found:
        raise MethodNotEnrolled(f"No {method} factor is enrolled.")
    return found


def factor_get(*, user: User, factor_id: str) -> Factor:
    for model in FACTOR_MODELS:
        try:
            factor = model.objects.filter(user=user, pk=factor_id).first()
        except ValidationError:  # not a UUID: matches nothing
            factor = None
        if factor is not None:
            return factor
    raise FactorNotFound("No such factor.")


@transaction.atomic
def factor_remove(*, user: User, factor_id: str, actor: User, reason: str = "removed_by_user") -> None:
    factor = factor_get(user=user, factor_id=factor_id)
    factor_type = factor.factor_type
    factor.delete()
    factor_record_removed(user=user, factor_type=factor_type, factor_id=str(factor_id), actor=actor, reason=reason)


def factor_record_removed(*, user: User, factor_type: str, factor_id: str, actor: User, reason: str) -> None:
    emit(action="factor.removed", actor=actor, target=user,
         metadata={"type": factor_type, "factor_id": factor_id, "reason": reason})
    email_send(template_prefix="mfa/email/factor_removed", to=user.email,
               context={"user": user, "factor_label": FactorType(factor_type).label})


@transaction.atomic
def mfa_reset(*, user: User, actor: User) -> int:
    """Staff recovery: remove every factor of a user (audited, and the user is told by e-mail)."""
    removed = 0
    for model in FACTOR_MODELS:
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    emit(action="mfa.reset", actor=actor, target=user, metadata={"factors": removed})
    email_send(template_prefix="mfa/email/mfa_reset", to=user.email, context={"user": user})
    return removed
