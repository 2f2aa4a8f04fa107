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
    from apps.accounts.services.signin import email_is_verified

    return UserProfile(
        id=user.pk, email=user.email, first_name=user.first_name, last_name=user.last_name,
        display_name=user.display_name or user.get_full_name() or user.email, locale=user.locale,
        timezone=user.timezone, metadata=user.metadata, email_verified=email_is_verified(user),
        mfa_enabled=False,  # factors arrive with apps.mfa
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
