"""Sessions and refresh tokens: one session per sign-in, a rotating family of refresh tokens in it.

Every authenticated request asks `session_is_active()`, answered from the cache; revocation writes
the cache on commit, so a revoked session's access tokens stop working at once, not at expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from ua_parser import parse as parse_user_agent

from apps.accounts.errors import InvalidRefreshToken, RefreshTokenReused
from apps.accounts.models import RefreshToken, User, UserSession
from apps.accounts.services.tokens import access_token_issue
from apps.audit.services import Target, emit
from apps.core.context import current_context

REFRESH_TOKEN_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_response(self) -> dict[str, object]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": "Bearer", "expires_in": self.expires_in}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _active_key(session_id: uuid.UUID | str) -> str:
    return f"session-active:{session_id}"


def device_from_user_agent(user_agent: str) -> dict[str, str]:
    if not user_agent:
        return {}
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    os_name = parsed.os.family if parsed.os else "Other"
    device = parsed.device.family if parsed.device else "Other"
    return {"browser": browser, "os": os_name, "device": device}


def _new_refresh_token(session: UserSession) -> tuple[RefreshToken, str]:
    plain = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    expires_at = min(timezone.now() + timedelta(seconds=settings.REFRESH_TOKEN_INACTIVITY_SECONDS),
                     session.expires_at)
    row = RefreshToken.objects.create(session=session, token_hash=_hash(plain), expires_at=expires_at)
    return row, plain


def session_open(*, user: User, amr: list[str], ttl_seconds: int | None = None) -> UserSession:
    """Record a sign-in from the current request (device, IP) as a session row."""
    ctx = current_context()
    now = timezone.now()
    user_agent = ctx.user_agent if ctx else ""
    return UserSession.objects.create(
        user=user, ip=ctx.ip if ctx else None, user_agent=user_agent, device=device_from_user_agent(user_agent),
        amr=amr, auth_time=now, last_activity_at=now,
        expires_at=now + timedelta(seconds=min(ttl_seconds or settings.SESSION_ABSOLUTE_TTL_SECONDS,
                                               settings.SESSION_ABSOLUTE_TTL_SECONDS)),
    )


@transaction.atomic
def session_start(*, user: User, amr: list[str]) -> tuple[UserSession, TokenPair]:
    """Open a session for a user who just proved who they are, and issue its first token pair."""
    session = session_open(user=user, amr=amr)
    _, refresh = _new_refresh_token(session)
    access, expires_in = access_token_issue(session=session)
    return session, TokenPair(access, refresh, expires_in)


def session_refresh(*, refresh_token: str) -> tuple[UserSession, TokenPair]:
    """Rotate a refresh token. Reuse of a rotated token revokes the session (committed) and raises.

    Runs in its own transactions, not the request's: the revocation must stay even though the
    caller answers with an error.
    """
    reused_session: UserSession | None = None
    with transaction.atomic():
        row = (RefreshToken.objects.select_for_update().select_related("session")
               .filter(token_hash=_hash(refresh_token)).first())
        if row is None:
            raise InvalidRefreshToken("Unknown or expired refresh token.")
        # Lock the session too: a concurrent revocation or refresh of the same family waits here.
        session = UserSession.objects.select_for_update().get(pk=row.session_id)
        now = timezone.now()
        if session.revoked_at is not None or session.expires_at <= now:
            raise InvalidRefreshToken("The session has ended.")
        if row.rotated_at is not None:
            if not _grace_replay_allowed(row, now):
                session_revoke(session=session, reason="refresh_token_reused", actor=None)
                emit(action="session.refresh_reused", outcome="failure", actor=None,
                     target=Target(type="session", id=str(session.pk)),
                     metadata={"session_id": str(session.pk)})
                reused_session = session
            else:
                # Lost response: the client never got the successor; replace it, once.
                row.grace_used = True
                if row.replaced_by_id:
                    RefreshToken.objects.filter(pk=row.replaced_by_id, rotated_at__isnull=True).update(
                        rotated_at=now, expires_at=now)
        elif row.expires_at <= now:
            raise InvalidRefreshToken("Unknown or expired refresh token.")
        if reused_session is None:
            successor, plain = _new_refresh_token(session)
            row.rotated_at = row.rotated_at or now
            row.replaced_by = successor
            row.save(update_fields=["rotated_at", "replaced_by", "grace_used", "updated_at"])
            session.last_activity_at = now
            session.save(update_fields=["last_activity_at", "updated_at"])
            access, expires_in = access_token_issue(session=session)
    if reused_session is not None:
        raise RefreshTokenReused("This refresh token was already used; the session has been revoked.")
    return session, TokenPair(access, plain, expires_in)


def _grace_replay_allowed(row: RefreshToken, now: datetime) -> bool:
    grace = settings.REFRESH_REUSE_GRACE_SECONDS
    if grace <= 0 or row.grace_used or row.rotated_at is None:
        return False
    successor = row.replaced_by
    # Only the immediately previous token: its successor must itself be unused.
    return (now - row.rotated_at).total_seconds() <= grace and successor is not None and successor.rotated_at is None


@transaction.atomic
def session_revoke(*, session: UserSession, reason: str, actor: User | None) -> bool:
    """End a session now. Returns False if it had already ended."""
    now = timezone.now()
    updated = UserSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoke_reason=reason, updated_at=now)
    if not updated:
        return False
    RefreshToken.objects.filter(session_id=session.pk, rotated_at__isnull=True).update(expires_at=now)
    session.revoked_at, session.revoke_reason = now, reason
    emit(action="session.revoked", actor=actor, target=Target(type="session", id=str(session.pk)),
         metadata={"reason": reason})
    # Drop the cached "active" now (the next check reads the database) and pin "revoked" once committed,
    # in case a concurrent request re-cached the pre-commit state in between.
    cache.delete(_active_key(session.pk))
    transaction.on_commit(lambda: cache.set(_active_key(session.pk), "0",
                                            timeout=settings.ACCESS_TOKEN_TTL_SECONDS + 60))
    return True


@transaction.atomic
def session_revoke_all(*, user: User, reason: str, actor: User | None,
                       keep: UserSession | uuid.UUID | None = None) -> int:
    """End every active session of `user`, except `keep` (the caller's own, for "sign out others")."""
    keep_id = keep.pk if isinstance(keep, UserSession) else keep
    sessions = UserSession.objects.filter(user=user, revoked_at__isnull=True).exclude(pk=keep_id)
    return sum(session_revoke(session=s, reason=reason, actor=actor) for s in sessions)


def session_is_active(session_id: uuid.UUID | str) -> bool:
    """One cache hit in the common case; the database answers on a miss and fills the cache."""
    cached = cache.get(_active_key(session_id))
    if cached is not None:
        return cached == "1"
    row = UserSession.objects.filter(pk=session_id).values("revoked_at", "expires_at").first()
    now = timezone.now()
    active = bool(row) and row["revoked_at"] is None and row["expires_at"] > now
    ttl = min(300, int((row["expires_at"] - now).total_seconds())) if active else settings.ACCESS_TOKEN_TTL_SECONDS
    cache.set(_active_key(session_id), "1" if active else "0", timeout=max(ttl, 1))
    return active


def session_touch(session_id: uuid.UUID | str) -> None:
    """Record activity, at most once per SESSION_ACTIVITY_RESOLUTION_SECONDS per session."""
    if cache.add(f"session-touch:{session_id}", "1", timeout=settings.SESSION_ACTIVITY_RESOLUTION_SECONDS):
        now = timezone.now()
        UserSession.objects.filter(pk=session_id).update(last_activity_at=now, updated_at=now)


@transaction.atomic
def session_mark_reauthenticated(*, session: UserSession, method: str) -> None:
    now = timezone.now()
    amr = list(dict.fromkeys([*session.amr, method]))
    UserSession.objects.filter(pk=session.pk).update(auth_time=now, amr=amr, updated_at=now)
    session.auth_time, session.amr = now, amr
    emit(action="user.reauthenticated", actor=session.user, target=session.user,
         metadata={"method": method, "session_id": str(session.pk)})


def session_recently_authenticated(session: UserSession) -> bool:
    return (timezone.now() - session.auth_time).total_seconds() <= settings.REAUTHENTICATION_WINDOW_SECONDS
