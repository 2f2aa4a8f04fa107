"""Browser sign-ins (allauth pages, the admin) as session rows, so they are listed and revocable too.

The Django session remembers its row's id; SessionRevocationMiddleware signs the browser out as soon
as that row is revoked (from the API, the Sessions page, a password reset or a suspension).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from apps.accounts.models import User
from apps.accounts.services.sessions import session_open, session_revoke
from apps.accounts.services.users import user_record_signin, user_record_signout

SESSION_KEY = "plinto_session_id"


def _amr_of(request: HttpRequest) -> list[str]:
    """RFC 8176 methods from allauth's record of how this browser authenticated (password if unknown)."""
    records = request.session.get("account_authentication_methods", []) if hasattr(request, "session") else []
    methods = {"password": "pwd", "code": "otp", "socialaccount": "fed", "mfa": "mfa", "magic_link": "email"}
    amr = [methods.get(r.get("method"), "pwd") for r in records] or ["pwd"]
    return list(dict.fromkeys(amr))


@transaction.atomic
def browser_signed_in(*, request: HttpRequest | None, user: User) -> None:
    session = session_open(user=user, amr=_amr_of(request) if request is not None else ["pwd"],
                           ttl_seconds=settings.SESSION_COOKIE_AGE)  # the row ends when the cookie does
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = str(session.pk)
    user_record_signin(user=user, method="browser", session_id=str(session.pk))


@transaction.atomic
def browser_signed_out(*, request: HttpRequest | None, user: User) -> None:
    session_id = request.session.get(SESSION_KEY) if request is not None and hasattr(request, "session") else None
    if session_id:
        from apps.accounts.models import UserSession

        session = UserSession.objects.filter(pk=session_id, user=user).first()
        if session is not None:
            session_revoke(session=session, reason="signed_out", actor=user)
    user_record_signout(user=user, method="browser", session_id=session_id)


@transaction.atomic
def browser_password_changed(*, request: HttpRequest | None, user: User) -> None:
    """A password changed or set on allauth's pages: audited, and every other session ends (ASVS 3.3)."""
    from apps.accounts.services.sessions import session_revoke_all
    from apps.audit.services import emit

    keep = request.session.get(SESSION_KEY) if request is not None and hasattr(request, "session") else None
    emit(action="user.password_changed", actor=user, target=user, metadata={"method": "page"})
    session_revoke_all(user=user, reason="password_changed", actor=user, keep=keep)
