"""Invitations: invite by e-mail, resend, revoke, accept (signed in, or signing up in the same step), expire.

The token is 256 random bits, e-mailed once as `<PUBLIC_URL>/invitations/accept/?token=<token>` and
stored only as its SHA-256: nobody (not the inviter, not the API, not the database) can recover it.
Resending issues a new token, so the old link dies. An invitation whose `expires_at` has passed is
"expired" for every reader at once; `invitations_expire` (beat) only writes that down and records
`invitation.expired`.

Acceptance locks the invitation row first, so two concurrent acceptances of one link make one
membership: the second waits, then finds the invitation accepted.

The invitation reads and errors live here, next to the writes, rather than in selectors.py/errors.py,
to keep the feature in its own files (they can move there without changing callers' behaviour).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services.notifications import email_send
from apps.audit.models import ActorType
from apps.audit.services import Actor, emit
from apps.core.errors import ApplicationError, Conflict, PermissionDenied, ResourceNotFound
from apps.orgs.errors import AlreadyMember
from apps.orgs.models import Invitation, InvitationStatus, Membership, Organization
from apps.orgs.perms import OWNERSHIP_TRANSFER
from apps.orgs.roles import SystemRole, system_role_id
from apps.orgs.services.organizations import member_add, role_validate

TOKEN_BYTES = 32  # 256 bits
DEFAULT_EXPIRES_IN_DAYS = 7
MIN_EXPIRES_IN_DAYS, MAX_EXPIRES_IN_DAYS = 1, 30
BULK_MAX_ROWS = 500
ACCEPT_PATH = "/invitations/accept/"


# --- errors -------------------------------------------------------------------------------------

class InvitationNotFound(ResourceNotFound):
    title = "Invitation not found"


class InvitationInvalid(ResourceNotFound):
    """The token is unknown, or its invitation was revoked, accepted or has expired (`reason` says which:
    only the holder of the e-mailed link can ask, so telling them why helps and leaks nothing)."""

    code, title = "invitation_invalid", "Invalid invitation"


class InvitationPending(Conflict):
    code, title = "invitation_pending", "Invitation already pending"


class InvitationNotPending(Conflict):
    code, title = "invitation_not_pending", "Invitation no longer pending"


class EmailDomainNotAllowed(ApplicationError):
    status, code, title = 400, "email_domain_not_allowed", "E-mail domain not allowed"


class InvalidEmail(ApplicationError):
    status, code, title = 400, "invalid_email", "Invalid e-mail address"


class InvitationEmailMismatch(PermissionDenied):
    code, title = "invitation_email_mismatch", "Invitation is for another e-mail address"


# --- tokens and reads ---------------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(token: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}{ACCEPT_PATH}?token={token}"


def invitation_status(invitation: Invitation, *, now: datetime | None = None) -> str:
    """What readers see: a pending invitation past its expiry is expired, swept or not."""
    if invitation.status == InvitationStatus.PENDING and invitation.expires_at <= (now or timezone.now()):
        return InvitationStatus.EXPIRED
    return invitation.status


def invitation_list(*, organization: Organization, status: str | None = None) -> QuerySet[Invitation]:
    """The organization's invitations with `effective_status` (see invitation_status), optionally filtered by it."""
    effective = Case(When(status=InvitationStatus.PENDING, expires_at__lte=timezone.now(),
                          then=Value(InvitationStatus.EXPIRED.value)),
                     default=F("status"), output_field=CharField())
    invitations = (Invitation.objects.filter(organization=organization).select_related("invited_by")
                   .annotate(effective_status=effective))
    return invitations.filter(effective_status=status) if status else invitations


def invitation_get(*, invitation_id: object) -> Invitation:
    """An invitation of a live organization by id, for any caller: access is the caller's to check next."""
    try:
        invitation = (Invitation.objects.select_related("organization", "invited_by")
                      .filter(pk=invitation_id, organization__deleted_at__isnull=True).first())
    except (ValidationError, ValueError):
        invitation = None
    if invitation is None:
        raise InvitationNotFound("No such invitation.")
    return invitation


def _usable(invitation: Invitation | None) -> Invitation:
    if invitation is None or invitation.organization.deleted_at is not None:
        raise InvitationInvalid("This invitation link is not valid.", extra={"reason": "unknown"})
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationInvalid("This invitation has already been accepted.", extra={"reason": "accepted"})
    if invitation.status == InvitationStatus.REVOKED:
        raise InvitationInvalid("This invitation was withdrawn.", extra={"reason": "revoked"})
    if invitation_status(invitation) == InvitationStatus.EXPIRED:
        raise InvitationInvalid("This invitation has expired; ask for a new one.", extra={"reason": "expired"})
    return invitation


def invitation_get_by_token(*, token: str) -> Invitation:
    """The pending, unexpired invitation a link carries; InvitationInvalid (404) otherwise."""
    return _usable(Invitation.objects.select_related("organization", "invited_by")
                   .filter(token_hash=token_hash(token)).first())


# --- writes -------------------------------------------------------------------------------------

def _normalized_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidEmail(f"{email!r} is not a valid e-mail address.") from None
    if len(email) > 254:
        raise InvalidEmail("E-mail addresses have at most 254 characters.")
    return email


def _expires_at(expires_in_days: int) -> datetime:
    if not MIN_EXPIRES_IN_DAYS <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        raise ValidationError({"expires_in_days": [
            f"Between {MIN_EXPIRES_IN_DAYS} and {MAX_EXPIRES_IN_DAYS} days."]})
    return timezone.now() + timedelta(days=expires_in_days)


def _audit_actor(inviter: Membership) -> Any:
    """Who acts: the member, or the API key acting for the organization (apps.rbac.access.KeyMembership)."""
    if inviter.user is not None:
        return inviter.user
    return Actor(type=ActorType.API_KEY, id=str(inviter.api_key.pk))


def _only_owners_invite_owners(inviter: Membership, role: Any) -> None:
    owner = system_role_id(SystemRole.OWNER)
    if role.pk == owner and getattr(inviter, "role_id", None) != owner:
        raise PermissionDenied("Only owners can invite owners.", extra={"permission": OWNERSHIP_TRANSFER})


def _domain_check(organization: Organization, email: str) -> None:
    allowed = organization.allowed_email_domains
    domain = email.rpartition("@")[2]
    if allowed and domain not in allowed:
        raise EmailDomainNotAllowed(f"This organization only invites addresses at: {', '.join(allowed)}.",
                                    extra={"allowed_email_domains": list(allowed)})


def _not_a_member(organization: Organization, email: str) -> None:
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member.")


def _mark_expired(invitations: list[Invitation], *, now: datetime) -> int:
    """Write down the expiry of pending invitations that are past it (rows locked by the caller)."""
    expired = [i for i in invitations if i.status == InvitationStatus.PENDING and i.expires_at <= now]
    Invitation.objects.filter(pk__in=[i.pk for i in expired]).update(status=InvitationStatus.EXPIRED, updated_at=now)
    for invitation in expired:
        emit(action="invitation.expired", actor=None, organization_id=invitation.organization_id, target=invitation,
             metadata={"email": invitation.email, "role": invitation.role.name})
    return len(expired)


def _send(invitation: Invitation, token: str) -> None:
    """Render the invitation e-mail now; email_send hands it to a Celery task once the transaction commits."""
    inviter = invitation.invited_by
    email_send(template_prefix="orgs/email/invitation", to=invitation.email, context={
        "organization_name": invitation.organization.name,
        "inviter_name": (inviter.display_name or inviter.get_full_name()) if inviter else "",
        "inviter_email": inviter.email if inviter else "",
        "role": invitation.role.name,
        "message": invitation.message,
        "link": invitation_link(token),
        "expires_at": invitation.expires_at,
    })


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


@transaction.atomic
def invitation_create(*, inviter: Membership, email: str, role: str, message: str = "",
                      expires_in_days: int = DEFAULT_EXPIRES_IN_DAYS) -> Invitation:
    """Invite `email` as `role` and e-mail the link. The token leaves only in that e-mail."""
    organization = inviter.organization
    email = _normalized_email(email)
    role = role_validate(role, organization=organization)
    _only_owners_invite_owners(inviter, role)
    _domain_check(organization, email)
    _not_a_member(organization, email)
    pending = list(Invitation.objects.select_for_update().filter(
        organization=organization, email__iexact=email, status=InvitationStatus.PENDING))
    if _mark_expired(pending, now=timezone.now()) < len(pending):
        raise InvitationPending(f"{email} already has a pending invitation; resend or revoke it.")
    token, hashed = _new_token()
    invitation = Invitation(organization=organization, email=email, role=role, message=message, token_hash=hashed,
                            invited_by=inviter.user, expires_at=_expires_at(expires_in_days))
    # Foreign keys are the objects at hand; uniqueness is the database's (token: 256 random bits).
    invitation.full_clean(exclude=["organization", "invited_by"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:  # orgs_invitation_pending_unique, when a concurrent invitation won the race
        raise InvitationPending(f"{email} already has a pending invitation; resend or revoke it.") from None
    emit(action="invitation.sent", actor=_audit_actor(inviter), organization_id=organization.pk, target=invitation,
         metadata={"email": email, "role": role.name, "expires_at": invitation.expires_at.isoformat(), "resent": False})
    _send(invitation, token)
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: Membership,
                      expires_in_days: int = DEFAULT_EXPIRES_IN_DAYS) -> Invitation:
    """A new token and expiry for a pending or expired invitation; the old link stops working."""
    invitation = Invitation.objects.select_for_update(of=("self",)).select_related(
        "organization", "invited_by").get(pk=invitation.pk)
    if invitation.status in (InvitationStatus.ACCEPTED, InvitationStatus.REVOKED):
        raise InvitationNotPending(f"This invitation was {invitation.status}; send a new one instead.")
    _only_owners_invite_owners(actor, invitation.role)
    _not_a_member(invitation.organization, invitation.email)
    token, invitation.token_hash = _new_token()
    invitation.status = InvitationStatus.PENDING
    invitation.expires_at = _expires_at(expires_in_days)
    try:
        with transaction.atomic():
            invitation.save(update_fields=["token_hash", "status", "expires_at", "updated_at"])
    except IntegrityError:  # an expired one revived while another is pending for the address
        raise InvitationPending(f"{invitation.email} has another pending invitation.") from None
    emit(action="invitation.sent", actor=_audit_actor(actor), organization_id=invitation.organization_id,
         target=invitation,
         metadata={"email": invitation.email, "role": invitation.role.name,
                   "expires_at": invitation.expires_at.isoformat(), "resent": True})
    _send(invitation, token)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    """Withdraw a pending (or expired) invitation; its link stops working. Revoking twice is a no-op."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status == InvitationStatus.REVOKED:
        return
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationNotPending("This invitation was accepted; remove the member instead.")
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at", "updated_at"])
    emit(action="invitation.revoked", actor=actor, organization_id=invitation.organization_id, target=invitation,
         metadata={"email": invitation.email, "role": invitation.role.name})


def _lock_usable(token: str) -> Invitation:
    invitation = (Invitation.objects.select_for_update(of=("self",)).select_related("organization", "invited_by")
                  .filter(token_hash=token_hash(token)).first())
    return _usable(invitation)


def _join(invitation: Invitation, user: User, *, signed_up: bool) -> Membership:
    # The membership remembers who invited; member.added names the inviter as actor (None: system),
    # invitation.accepted names the user who accepted.
    membership = member_add(organization=invitation.organization, user=user, role=invitation.role,
                            actor=invitation.invited_by, source="invitation")
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_by", "accepted_at", "updated_at"])
    emit(action="invitation.accepted", actor=user, organization_id=invitation.organization_id, target=invitation,
         metadata={"email": invitation.email, "role": invitation.role.name, "signed_up": signed_up})
    return membership


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """A signed-in user accepts: their e-mail must be the invited one (case-insensitively)."""
    invitation = _lock_usable(token)
    if user.email.strip().lower() != invitation.email.lower():
        raise InvitationEmailMismatch(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    return _join(invitation, user, signed_up=False)


@transaction.atomic
def invitation_accept_with_signup(*, token: str, password: str, first_name: str = "",
                                  last_name: str = "") -> tuple[User, Membership]:
    """Create the account of the invited address and join, in one step.

    The address counts as verified: the token arrived in that mailbox. No verification e-mail is sent.
    """
    from allauth.account.models import EmailAddress
    from django.contrib.auth import password_validation

    from apps.accounts.errors import EmailTaken
    from apps.accounts.services.users import user_record_signed_up

    invitation = _lock_usable(token)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise EmailTaken(f"An account with {invitation.email} exists: sign in, then accept the invitation.")
    candidate = User(email=invitation.email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from None
    user = User.objects.create_user(invitation.email, password, first_name=first_name, last_name=last_name)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    user_record_signed_up(user=user, method="invitation")
    return user, _join(invitation, user, signed_up=True)


def invitations_expire(*, batch_size: int = 500) -> int:
    """Mark pending invitations past their expiry as expired (invitation.expired each). Safe to run twice
    or concurrently: rows are locked (others' locked rows skipped) and re-checked before the update."""
    total = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            batch = list(Invitation.objects.select_for_update(skip_locked=True)
                         .filter(status=InvitationStatus.PENDING, expires_at__lte=now)
                         .order_by("expires_at", "id")[:batch_size])
            if not batch:
                return total
            total += _mark_expired(batch, now=now)


# --- bulk ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvitationRowResult:
    email: str
    ok: bool
    code: str | None = None
    invitation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"email": self.email, "ok": self.ok}
        if self.code:
            body["code"] = self.code
        if self.invitation_id:
            body["invitation_id"] = self.invitation_id
        return body


def invitations_bulk(*, inviter: Membership, rows: list[dict[str, str]], message: str = "",
                     expires_in_days: int = DEFAULT_EXPIRES_IN_DAYS) -> list[InvitationRowResult]:
    """Invite many addresses; each row stands or falls alone (own savepoint), results in input order.
    A later row repeating an earlier address (case-insensitively) fails with `duplicate_in_request`."""
    seen: set[str] = set()
    results: list[InvitationRowResult] = []
    for row in rows:
        email = str(row.get("email", "")).strip()
        key = email.lower()
        if key in seen:
            results.append(InvitationRowResult(email=email, ok=False, code="duplicate_in_request"))
            continue
        seen.add(key)
        try:  # invitation_create is atomic: a savepoint per row, rolled back alone when the row fails
            invitation = invitation_create(inviter=inviter, email=email, role=str(row.get("role", "")),
                                           message=message, expires_in_days=expires_in_days)
        except ApplicationError as exc:
            results.append(InvitationRowResult(email=email, ok=False, code=exc.code))
        except ValidationError:
            results.append(InvitationRowResult(email=email, ok=False, code="invalid"))
        else:
            results.append(InvitationRowResult(email=email, ok=True, invitation_id=str(invitation.pk)))
    return results
