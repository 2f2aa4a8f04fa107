"""Writes on users. Every change lands in the audit trail in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.accounts.models import User
from apps.audit.services import emit

# Fields whose old/new values may appear in the audit trail (never the password hash).
AUDITED_USER_FIELDS = ("email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_create(*, email: str, password: str | None, actor: User | None = None, source: str = "api",
                **fields: Any) -> User:
    user = User.objects.create_user(email, password, **fields)
    user_record_created(user=user, actor=actor, source=source)
    return user


@transaction.atomic
def user_record_created(*, user: User, actor: User | None, source: str) -> None:
    """Audit a user created by us or by a form that saved it (the admin)."""
    emit(action="user.created", actor=actor, target=user, metadata={"source": source},
         changes={name: [None, getattr(user, name)] for name in AUDITED_USER_FIELDS})


def user_changes(before: User | None, after: User) -> dict[str, list[Any]]:
    if before is None:
        return {}
    return {
        name: [getattr(before, name), getattr(after, name)]
        for name in AUDITED_USER_FIELDS
        if getattr(before, name) != getattr(after, name)
    }


@transaction.atomic
def user_record_update(*, user: User, before: User | None, actor: User | None, source: str) -> None:
    """Audit an update already saved by a form (the admin), with the fields that changed."""
    changes = user_changes(before, user)
    if changes:
        emit(action="user.updated", actor=actor, target=user, changes=changes, metadata={"source": source})
    if changes.get("is_active") == [True, False]:
        from apps.accounts.services.sessions import session_revoke_all

        session_revoke_all(user=user, reason="user_suspended", actor=actor)


@transaction.atomic
def user_record_signin(*, user: User, method: str, session_id: str | None = None) -> None:
    metadata = {"method": method} | ({"session_id": session_id} if session_id else {})
    emit(action="user.signed_in", actor=user, target=user, metadata=metadata)


@transaction.atomic
def user_record_signin_failure(*, email: str, method: str, reason: str, user: User | None = None) -> None:
    """A failed attempt is the system's record about a claimed identity, never the user's own act."""
    emit(action="user.signin_failed", outcome="failure", target=user,
         metadata={"method": method, "email": email[:254], "reason": reason})


@transaction.atomic
def user_record_signout(*, user: User, method: str, session_id: str | None = None) -> None:
    metadata = {"method": method} | ({"session_id": session_id} if session_id else {})
    emit(action="user.signed_out", actor=user, target=user, metadata=metadata)


@transaction.atomic
def user_signup(*, request: Any, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Self-service sign-up: the account, its allauth e-mail address, a verification e-mail after commit."""
    from allauth.account.internal.flows.email_verification import send_verification_email_for_user
    from allauth.account.utils import setup_user_email

    from apps.accounts.errors import EmailTaken

    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken("An account with this e-mail address already exists.")
    user = User.objects.create_user(email, password, first_name=first_name, last_name=last_name)
    setup_user_email(request, user, [])
    user_record_signed_up(user=user, method="password")
    send_verification_email_for_user(request, user)
    return user


@transaction.atomic
def user_record_signed_up(*, user: User, method: str) -> None:
    """Self-service sign-up, from the API or allauth's pages: both events, in the caller's transaction."""
    emit(action="user.signed_up", actor=user, target=user, metadata={"method": method})
    user_record_created(user=user, actor=user, source="signup")


@transaction.atomic
def user_password_change(*, user: User, current_password: str, new_password: str,
                         keep_session_id: Any = None) -> int:
    """Change the password (after checking the current one); every other session ends (ASVS 3.3)."""
    from django.contrib.auth import password_validation

    from apps.accounts.errors import InvalidCredentials
    from apps.accounts.services.sessions import session_revoke_all

    if not user.check_password(current_password):
        raise InvalidCredentials("The current password is incorrect.")
    password_validation.validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    emit(action="user.password_changed", actor=user, target=user, metadata={"method": "api"})
    return session_revoke_all(user=user, reason="password_changed", actor=user, keep=keep_session_id)


PROFILE_FIELDS = ("first_name", "last_name", "display_name", "locale", "timezone", "metadata")


@transaction.atomic
def user_profile_update(*, user: User, data: dict[str, Any]) -> User:
    changes = {name: [getattr(user, name), value] for name, value in data.items()
               if name in PROFILE_FIELDS and getattr(user, name) != value}
    if not changes:
        return user
    for name, (_, new) in changes.items():
        setattr(user, name, new)
    user.full_clean(exclude=["password"])
    user.save(update_fields=[*changes, "updated_at"])
    emit(action="user.updated", actor=user, target=user, changes=changes, metadata={"source": "api"})
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete the account for good (sessions, tokens and e-mail addresses with it); the audit trail keeps
    its snapshot. Refused while a higher app objects (e.g. the user is an organization's sole owner)."""
    from apps.accounts import hooks
    from apps.core.errors import Conflict

    blockers = hooks.deletion_blockers(user)
    if blockers:
        raise Conflict("The account cannot be deleted yet: " + "; ".join(blockers) + ".",
                       extra={"blockers": blockers})
    emit(action="user.deleted", actor=user, target=user, metadata={"source": "api"})
    user.delete()


@transaction.atomic
def user_record_email(*, user: User, action: str, email: str, previous: str | None = None) -> None:
    """E-mail addresses added, removed or made primary on allauth's pages."""
    changes = {"email": [previous, email]} if action == "user.email_changed" else {}
    emit(action=action, actor=user, target=user, changes=changes, metadata={"email": email})
