"""Organizations and memberships. Every change that touches owners locks the organization row first,
so "at least one owner" holds even when removals, demotions and departures race."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import Target, emit
from apps.core.errors import PermissionDenied
from apps.orgs import hooks
from apps.orgs.errors import AlreadyMember, LastOwner, SlugTaken, UnknownRole
from apps.orgs.models import Membership, MembershipStatus, Organization
from apps.orgs.roles import SystemRole, system_role_id

SETTINGS_FIELDS = ("name", "mfa_required", "allowed_email_domains", "ip_allowlist", "session_max_age", "default_role")


def _lock(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


OWNER_ROLE_ID = system_role_id(SystemRole.OWNER)


def role_validate(role: Any, *, organization: Organization):  # noqa: ANN201 - an apps.rbac Role
    """The Role a name (a system role or one of this organization's custom roles) stands for."""
    if not isinstance(role, str):
        if getattr(role, "organization_id", None) in (None, organization.pk) and getattr(role, "pk", None):
            return role
        raise UnknownRole("That role is not a role of this organization.")
    found = hooks.role_resolve(organization=organization, name=role)
    if found is None:
        raise UnknownRole(f"{role!r} is not a role of this organization.")
    return found


def _clean_settings(data: dict[str, Any], organization: Organization) -> dict[str, Any]:
    if "ip_allowlist" in data:
        try:
            data["ip_allowlist"] = [str(ipaddress.ip_network(c, strict=False)) for c in data["ip_allowlist"]]
        except ValueError as exc:
            raise ValidationError({"ip_allowlist": [f"Not a CIDR: {exc}"]}) from None
    if "allowed_email_domains" in data:
        data["allowed_email_domains"] = sorted({d.strip().lower().lstrip("@") for d in data["allowed_email_domains"]})
    if "default_role" in data:
        data["default_role"] = role_validate(data["default_role"], organization=organization)
        if data["default_role"].pk == OWNER_ROLE_ID:
            raise ValidationError({"default_role": ["Owners are made explicitly, never by default."]})
    return data


@transaction.atomic
def organization_create(*, user: User, name: str, slug: str, **org_settings: Any) -> Organization:
    """A new organization with its creator as owner."""
    organization = Organization(name=name, slug=slug.lower())
    for field, value in _clean_settings(org_settings, organization).items():
        setattr(organization, field, value)
    organization.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError:
        raise SlugTaken(f"The slug {slug!r} is taken.") from None
    Membership.objects.create(organization=organization, user=user, role_id=OWNER_ROLE_ID)
    emit(action="organization.created", actor=user, organization_id=organization.pk, target=organization,
         metadata={"slug": organization.slug})
    emit(action="member.added", actor=user, organization_id=organization.pk, target=user,
         metadata={"role": SystemRole.OWNER, "source": "creator"})
    return organization


@transaction.atomic
def organization_update(*, organization: Organization, actor: User, data: dict[str, Any]) -> Organization:
    data = _clean_settings({k: v for k, v in data.items() if k in SETTINGS_FIELDS}, organization)
    changes = {k: [getattr(organization, k), v] for k, v in data.items() if getattr(organization, k) != v}
    if not changes:
        return organization
    for name, (_, new) in changes.items():
        setattr(organization, name, new)
    organization.full_clean(validate_constraints=False)
    organization.save(update_fields=[*changes, "updated_at"])
    if "default_role" in changes:  # the audit trail records role names, as the API shows them
        changes["default_role"] = [str(role) for role in changes["default_role"]]
    emit(action="organization.updated", actor=actor, organization_id=organization.pk, target=organization,
         changes=changes)
    return organization


@transaction.atomic
def organization_delete(*, organization: Organization, actor: User) -> None:
    """Soft delete: invisible at once, purged after ORG_DELETE_GRACE_DAYS (restorable by staff until then)."""
    organization = _lock(organization)
    organization.deleted_at = timezone.now()
    organization.save(update_fields=["deleted_at", "updated_at"])
    purge_after = organization.deleted_at + timedelta(days=settings.ORG_DELETE_GRACE_DAYS)
    emit(action="organization.deleted", actor=actor, organization_id=organization.pk, target=organization,
         metadata={"purge_after": purge_after.isoformat()})


@transaction.atomic
def organization_restore(*, organization: Organization, actor: User) -> bool:
    """Staff undo a soft delete within the grace period. False if it was not deleted."""
    organization = _lock(organization)
    if organization.deleted_at is None:
        return False
    organization.deleted_at = None
    organization.save(update_fields=["deleted_at", "updated_at"])
    emit(action="organization.restored", actor=actor, organization_id=organization.pk, target=organization)
    return True


def organizations_purge() -> int:
    """Delete organizations whose grace period is over; their audit chains stay (no foreign keys)."""
    horizon = timezone.now() - timedelta(days=settings.ORG_DELETE_GRACE_DAYS)
    purged = 0
    for org_id in Organization.objects.filter(deleted_at__lt=horizon).values_list("pk", flat=True):
        with transaction.atomic():
            organization = Organization.objects.select_for_update().filter(pk=org_id, deleted_at__lt=horizon).first()
            if organization is None:
                continue  # restored or purged meanwhile
            emit(action="organization.purged", organization_id=org_id, target=organization,
                 metadata={"slug": organization.slug})
            organization.delete()
            purged += 1
    return purged


@transaction.atomic
def member_add(*, organization: Organization, user: User, role: Any, actor: User | None, source: str) -> Membership:
    role = role_validate(role, organization=organization)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(organization=organization, user=user, role=role, invited_by=actor)
    except IntegrityError:
        raise AlreadyMember(f"{user.email} is already a member.") from None
    emit(action="member.added", actor=actor, organization_id=organization.pk, target=user,
         metadata={"role": role.name, "source": source})
    return membership


def _actor_is_owner(organization: Organization, actor: Any) -> bool:
    """Whether the actor is an active owner (an API key or the system never is)."""
    if actor is None or getattr(actor, "api_key", None) is not None or not getattr(actor, "is_authenticated", False):
        return False
    return Membership.objects.filter(organization=organization, user=actor, role_id=OWNER_ROLE_ID,
                                     status=MembershipStatus.ACTIVE).exists()


def _keeps_an_owner(organization: Organization, leaving: Membership) -> None:
    """Raise unless someone other than `leaving` is an active owner (organization row locked by caller)."""
    if leaving.role_id != OWNER_ROLE_ID:
        return
    others = Membership.objects.filter(organization=organization, role_id=OWNER_ROLE_ID,
                                       status=MembershipStatus.ACTIVE).exclude(pk=leaving.pk)
    if not others.exists():
        raise LastOwner("Make someone else owner first: an organization keeps at least one owner.")


@transaction.atomic
def member_change_role(*, organization: Organization, member: Membership, role: Any, actor: User) -> Membership:
    role = role_validate(role, organization=organization)
    organization = _lock(organization)
    member = Membership.objects.select_for_update().select_related("role").get(pk=member.pk)
    if member.role_id == role.pk:
        return member
    if OWNER_ROLE_ID in (role.pk, member.role_id) and not _actor_is_owner(organization, actor):
        raise PermissionDenied("Only owners can make owners." if role.pk == OWNER_ROLE_ID else
                               "Only owners can change an owner's role.", extra={"permission": "org:transfer"})
    if role.pk != OWNER_ROLE_ID:
        _keeps_an_owner(organization, member)
    old = member.role.name
    member.role = role
    member.save(update_fields=["role", "updated_at"])
    emit(action="member.role_changed", actor=actor, organization_id=organization.pk, target=member.user,
         changes={"role": [old, role.name]})
    return member


@transaction.atomic
def member_remove(*, organization: Organization, member: Membership, actor: User, reason: str = "removed") -> None:
    organization = _lock(organization)
    member = Membership.objects.select_for_update().select_related("user").get(pk=member.pk)
    if member.role_id == OWNER_ROLE_ID and reason != "left" and not _actor_is_owner(organization, actor):
        raise PermissionDenied("Only owners can remove an owner.", extra={"permission": "org:transfer"})
    _keeps_an_owner(organization, member)
    user = member.user
    member.delete()
    emit(action="member.removed", actor=actor, organization_id=organization.pk, target=user,
         metadata={"reason": reason})


def member_leave(*, organization: Organization, member: Membership) -> None:
    member_remove(organization=organization, member=member, actor=member.user, reason="left")


@transaction.atomic
def ownership_transfer(*, organization: Organization, current: Membership, to_user_id: Any) -> Membership:
    """Make another member owner and the caller admin, in one step."""
    from apps.orgs.selectors import member_get

    organization = _lock(organization)
    target = member_get(organization=organization, user_id=to_user_id)
    if target.pk == current.pk:
        return current
    Membership.objects.filter(pk=target.pk).update(role_id=OWNER_ROLE_ID, updated_at=timezone.now())
    Membership.objects.filter(pk=current.pk).update(role_id=system_role_id(SystemRole.ADMIN), updated_at=timezone.now())
    emit(action="ownership.transferred", actor=current.user, organization_id=organization.pk, target=organization,
         metadata={"from_user_id": str(current.user_id), "to_user_id": str(target.user_id)})
    target.refresh_from_db()
    return target


@dataclass(frozen=True)
class RowResult:
    user_id: str
    ok: bool
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "ok": self.ok} | ({"code": self.code} if self.code else {})


def members_bulk(*, organization: Organization, actor: User, action: str, user_ids: list[Any],
                 role: str | None = None) -> list[RowResult]:
    """Change roles or remove many members; each row stands or falls alone, in input order."""
    from apps.core.errors import ApplicationError
    from apps.orgs.selectors import member_get

    results: list[RowResult] = []
    for user_id in user_ids:
        try:
            with transaction.atomic():
                member = member_get(organization=organization, user_id=user_id)
                if action == "remove":
                    member_remove(organization=organization, member=member, actor=actor)
                else:
                    member_change_role(organization=organization, member=member, role=role or "", actor=actor)
        except ApplicationError as exc:
            results.append(RowResult(user_id=str(user_id), ok=False, code=exc.code))
        else:
            results.append(RowResult(user_id=str(user_id), ok=True))
    return results


def _session_for(claims: Any) -> Any:
    from apps.accounts.models import UserSession

    return UserSession.objects.get(pk=claims.session_id)


@transaction.atomic
def organization_switch(*, membership: Membership, claims: Any) -> tuple[str, int]:
    """A new access token for the same session, carrying the `org` claim."""
    from apps.accounts.services.tokens import access_token_issue

    session = _session_for(claims)
    session.active_organization_id = membership.organization_id
    session.save(update_fields=["active_organization_id", "updated_at"])
    emit(action="organization.switched", actor=membership.user, organization_id=membership.organization_id,
         target=Target(type="session", id=str(session.pk)), metadata={"session_id": str(session.pk)})
    return access_token_issue(session=session)
