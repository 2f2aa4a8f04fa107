"""Password sign-in with lockout, enumeration resistance and an audit event for every outcome.

Unknown and known e-mails take the same path: a dummy hash is checked for unknown ones, failures
are counted per e-mail whether or not an account exists, and a locked e-mail answers the same way
either way. Only a caller who knows the right password learns more (suspended, unverified).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

from apps.accounts.errors import AccountLocked, AccountSuspended, EmailVerificationRequired, InvalidCredentials
from apps.accounts.models import User, UserSession
from apps.accounts.services.sessions import TokenPair, session_start
from apps.accounts.services.users import user_record_signin, user_record_signin_failure
from apps.audit.services import emit
from apps.core.ratelimit import storage


@dataclass(frozen=True)
class SigninResult:
    user: User
    session: UserSession
    tokens: TokenPair


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real hash of a random password, so unknown e-mails cost the same hashing time as known ones."""
    return make_password(secrets.token_urlsafe(16))


def _email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _lock_key(email: str) -> str:
    return f"signin-lock:{_email_key(email)}"


def lockout_check(email: str) -> None:
    locked_until = cache.get(_lock_key(email))
    if locked_until is not None and locked_until > time.time():
        retry = max(1, math.ceil(locked_until - time.time()))
        raise AccountLocked("Too many failed sign-ins; try again later or reset your password.",
                            headers={"Retry-After": str(retry)})


def lockout_clear(email: str) -> None:
    cache.delete(_lock_key(email))
    MovingWindowRateLimiter(storage()).clear(_failure_window(), "signin-failures", _email_key(email))


def _failure_window() -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(settings.LOCKOUT_THRESHOLD, settings.LOCKOUT_WINDOW_SECONDS)


def _record_failure(*, email: str, user: User | None, reason: str) -> None:
    user_record_signin_failure(email=email, method="password", reason=reason, user=user)
    lockout_register_failure(email=email, user=user)


def lockout_register_failure(*, email: str, user: User | None) -> None:
    """Count a failure for the e-mail; past the threshold, lock it (and tell the owner, if any)."""
    limiter, window = MovingWindowRateLimiter(storage()), _failure_window()
    limiter.hit(window, "signin-failures", _email_key(email))
    if limiter.get_window_stats(window, "signin-failures", _email_key(email)).remaining > 0:
        return
    locked_until = time.time() + settings.LOCKOUT_SECONDS
    cache.set(_lock_key(email), locked_until, timeout=settings.LOCKOUT_SECONDS)
    if user is not None:
        with transaction.atomic():
            emit(action="user.locked_out", actor=None, target=user, outcome="failure", metadata={
                "failures": settings.LOCKOUT_THRESHOLD,
                "locked_until": datetime.fromtimestamp(locked_until, tz=UTC).isoformat(),
            })
            from apps.accounts.services.notifications import lockout_notify

            lockout_notify(user=user, minutes=settings.LOCKOUT_SECONDS // 60)


def email_is_verified(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def signin_with_password(*, email: str, password: str,
                         remember_token: str | None = None) -> SigninResult | dict[str, object]:
    """Check the password and open a session; raises InvalidCredentials the same way for every failure."""
    lockout_check(email)
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None or not user.has_usable_password():
        check_password(password, _dummy_hash())
        _record_failure(email=email, user=user, reason="unknown_email" if user is None else "no_password")
        raise InvalidCredentials("E-mail or password is incorrect.")
    if not user.check_password(password):  # on success this also upgrades an old hash to Argon2id
        _record_failure(email=email, user=user, reason="wrong_password")
        raise InvalidCredentials("E-mail or password is incorrect.")
    if not user.is_active:
        user_record_signin_failure(email=email, method="password", reason="suspended", user=user)
        raise AccountSuspended("This account is suspended; contact your administrator.")
    if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not email_is_verified(user):
        user_record_signin_failure(email=email, method="password", reason="email_unverified", user=user)
        raise EmailVerificationRequired("Verify your e-mail address first; we sent you a link.")
    lockout_clear(email)
    return signin_begin(user=user, amr=["pwd"], method="password", remember_token=remember_token)


def signin_begin(*, user: User, amr: list[str], method: str,
                 remember_token: str | None = None) -> SigninResult | dict[str, object]:
    """The first factor is proven: finish, or answer with an MFA challenge when a second factor is due."""
    from apps.accounts import hooks

    challenge = hooks.second_factor_challenge(user, amr, method, remember_token)
    if challenge is not None:
        return challenge
    return signin_complete(user=user, amr=amr, method=method)


@transaction.atomic
def signin_complete(*, user: User, amr: list[str], method: str) -> SigninResult:
    """The user has proved who they are: open the session, record the sign-in."""
    session, tokens = session_start(user=user, amr=amr)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    user_record_signin(user=user, method=method, session_id=str(session.pk))
    return SigninResult(user=user, session=session, tokens=tokens)
