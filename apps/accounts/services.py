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


@transaction.atomic
def user_record_signin(*, user: User, method: str) -> None:
    emit(action="user.signed_in", actor=user, target=user, metadata={"method": method})


@transaction.atomic
def user_record_signin_failure(*, email: str, method: str, reason: str) -> None:
    emit(action="user.signin_failed", outcome="failure", metadata={"method": method, "email": email[:254],
                                                                   "reason": reason})


@transaction.atomic
def user_record_signout(*, user: User, method: str) -> None:
    emit(action="user.signed_out", actor=user, target=user, metadata={"method": method})
