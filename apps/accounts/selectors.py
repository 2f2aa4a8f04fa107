"""Reads of the accounts domain. Fetch-by-id answers 404 for "missing" and "not yours" alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.errors import SessionNotFound
from apps.accounts.models import User, UserSession


@dataclass(frozen=True)
class UserProfile:
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    display_name: str
    locale: str
    timezone: str
    metadata: dict[str, Any]
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime
    organizations: list[dict[str, Any]] = field(default_factory=list)


def user_profile(*, user: User) -> UserProfile:
    from apps.accounts import hooks
    from apps.accounts.services.signin import email_is_verified

    return UserProfile(
        id=user.pk, email=user.email, first_name=user.first_name, last_name=user.last_name,
        display_name=user.display_name or user.get_full_name() or user.email, locale=user.locale,
        timezone=user.timezone, metadata=user.metadata, email_verified=email_is_verified(user),
        mfa_enabled=hooks.mfa_enabled(user),
        created_at=user.created_at,
    )


def session_list_active(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()) \
        .order_by("-last_activity_at")


def session_get(*, user: User, session_id: uuid.UUID | str, active_only: bool = False) -> UserSession:
    sessions = session_list_active(user=user) if active_only else UserSession.objects.filter(user=user)
    try:
        session = sessions.select_related("user").filter(pk=session_id).first()
    except ValidationError:  # not a UUID
        session = None
    if session is None:
        raise SessionNotFound("No such session.")
    return session


def session_reauthenticated_until(*, session: UserSession) -> datetime:
    return session.auth_time + timedelta(seconds=settings.REAUTHENTICATION_WINDOW_SECONDS)


def user_export(*, user: User) -> dict[str, Any]:
    """Everything Plinto holds about a person (GDPR art. 15/20), as plain JSON-ready data."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    from apps.audit.models import AuditEvent

    profile = user_profile(user=user)
    return {
        "profile": {**profile.__dict__, "id": str(profile.id), "created_at": profile.created_at.isoformat()},
        "email_addresses": list(EmailAddress.objects.filter(user=user).values("email", "verified", "primary")),
        "social_accounts": list(SocialAccount.objects.filter(user=user).values("provider", "uid", "date_joined")),
        "sessions": list(UserSession.objects.filter(user=user).values(
            "id", "ip", "user_agent", "device", "amr", "created_at", "last_activity_at", "expires_at",
            "revoked_at", "revoke_reason")),
        "activity": list(AuditEvent.objects.filter(actor_id=str(user.pk)).order_by("-occurred_at").values(
            "occurred_at", "action", "outcome", "ip", "user_agent", "organization_id")[:10_000]),
    }


def user_get_visible(*, viewer: User, user_id: uuid.UUID | str) -> User:
    """A user the viewer may see (self, staff, or an app's rule such as a shared organization), else 404."""
    from apps.accounts import hooks
    from apps.core.errors import ResourceNotFound

    try:
        user = User.objects.filter(pk=user_id, is_active=True).first()
    except ValidationError:
        user = None
    if user is None or not hooks.may_see_user(viewer, user):
        raise ResourceNotFound("No such user.")
    return user
