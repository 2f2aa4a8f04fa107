"""Password reset, e-mail verification and magic links: the REST side of allauth's flows.

The server-rendered pages under /accounts/ and the API call the same allauth flows, so both send the
same e-mails, accept the same tokens and end in the same receivers (apps/accounts/signals.py).
"""

from __future__ import annotations

import secrets

from allauth.account.forms import ResetPasswordForm, default_token_generator
from allauth.account.internal.flows.email_verification import (
    send_verification_email_for_user,
    verify_email,
)
from allauth.account.internal.flows.password_reset import finalize_password_reset, reset_password
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import url_str_to_user_pk
from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from apps.accounts.models import User
from apps.accounts.services.notifications import email_send
from apps.accounts.services.sessions import session_revoke_all
from apps.audit.services import emit
from apps.core.errors import ApplicationError, RateLimited

MAGIC_LINK_SALT = "plinto.accounts.magic-link"


class InvalidToken(ApplicationError):
    status, code, title = 400, "invalid_token", "Invalid or expired token"


def password_reset_request(*, request: HttpRequest, email: str) -> None:
    """E-mail a reset link if the address belongs to an account (allauth tells unknown ones so)."""
    form = ResetPasswordForm(data={"email": email})
    if form.is_valid():
        form.save(request)


def _user_from_reset_token(token: str) -> tuple[User, str]:
    uidb36, _, key = token.partition("-")
    try:
        user = User.objects.get(pk=url_str_to_user_pk(uidb36), is_active=True)
    except (User.DoesNotExist, ValueError, TypeError, ValidationError):
        raise InvalidToken("This reset link is invalid or has expired; request a new one.") from None
    if not default_token_generator.check_token(user, key):
        raise InvalidToken("This reset link is invalid or has expired; request a new one.")
    return user, key


@transaction.atomic
def password_reset_complete(*, request: HttpRequest, token: str, new_password: str) -> User:
    """Set a new password from an e-mailed token (1 h, single use: it dies with the old password)."""
    user, _ = _user_from_reset_token(token)
    password_validation.validate_password(new_password, user=user)
    reset_password(user, new_password)
    finalize_password_reset(request, user)  # allauth's signal → user_password_was_reset()
    return user


@transaction.atomic
def user_password_was_reset(*, user: User) -> None:
    """Every session ends after a reset (ASVS 3.3): whoever knew the old password is out."""
    from apps.accounts.services.signin import lockout_clear

    emit(action="user.password_reset", actor=user, target=user, metadata={"method": "email_link"})
    session_revoke_all(user=user, reason="password_reset", actor=user)
    lockout_clear(user.email)  # the lockout e-mail points here: a reset must let the owner back in


@transaction.atomic
def email_verify(*, request: HttpRequest, token: str) -> EmailAddress:
    confirmation = EmailConfirmationHMAC.from_key(token)
    if confirmation is None or confirmation.email_address.verified:
        raise InvalidToken("This verification link is invalid, expired or already used.")
    if not verify_email(request, confirmation.email_address):  # allauth's signal → user_email_was_verified()
        raise InvalidToken("This address is already verified by another account.")
    return confirmation.email_address


@transaction.atomic
def user_email_was_verified(*, email_address: EmailAddress) -> None:
    emit(action="user.email_verified", actor=email_address.user, target=email_address.user,
         metadata={"email": email_address.email})


def email_verification_resend(*, request: HttpRequest, user: User) -> bool:
    """Send a new verification e-mail; False when every address is verified already."""
    if not EmailAddress.objects.filter(user=user, verified=False).exists():
        return False
    if not send_verification_email_for_user(request, user):
        # allauth's cooldown between verification e-mails (shared with the pages) is still running
        cooldown = getattr(settings, "ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", 180)
        raise RateLimited(retry_after=cooldown, detail="A verification e-mail was sent recently; check your inbox.")
    return True


def magic_link_request(*, email: str, redirect_url: str | None) -> None:
    """E-mail a single-use sign-in link (15 min) if an active account has this address; silent otherwise."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return
    nonce = secrets.token_urlsafe(16)
    cache.set(f"magic-link:{nonce}", str(user.pk), timeout=settings.MAGIC_LINK_TTL_SECONDS)
    token = signing.dumps({"uid": str(user.pk), "nonce": nonce}, salt=MAGIC_LINK_SALT, compress=True)
    base = redirect_url or f"{settings.PUBLIC_URL.rstrip('/')}/accounts/magic-link/"
    link = f"{base}{'&' if '?' in base else '?'}token={token}"
    email_send(template_prefix="account/email/magic_link", to=user.email,
               context={"user": user, "link": link, "minutes": settings.MAGIC_LINK_TTL_SECONDS // 60})


def magic_link_consume(*, token: str) -> User:
    """Check a magic-link token and burn it; a second use, or one after 15 minutes, is refused."""
    try:
        data = signing.loads(token, salt=MAGIC_LINK_SALT, max_age=settings.MAGIC_LINK_TTL_SECONDS)
    except signing.BadSignature:
        raise InvalidToken("This sign-in link is invalid or has expired.") from None
    # delete() answers whether the key existed: only one request can win it.
    if not cache.delete(f"magic-link:{data.get('nonce')}"):
        raise InvalidToken("This sign-in link was already used.")
    user = User.objects.filter(pk=data.get("uid"), is_active=True).first()
    if user is None:
        raise InvalidToken("This sign-in link is invalid or has expired.")
    return user
