"""Object grants: one permission on one object of the organization, to a member or to a team.

Stored as django-guardian rows in our swapped models (UserObjectGrant, TeamObjectGrant), each tagged
with the organization; the decision service reads them (selectors.member_access) and allows exactly
that permission on exactly that object. guardian's `permission` is a django.contrib.auth Permission
whose codename is our code (`teams:manage`) and whose content type is the object's model (created on
first use); a team is represented by one auth Group (`plinto-team:<team id>`) and the row also names
the team. guardian's own object-permission backend is not installed: nothing answers around rbac.

Rules of `grant_create`: the permission is in the catalog; the resource type is registered
(apps.rbac.resources) and the object is in *this* organization (else 404: another tenant's object
is indistinguishable from a missing one); a user subject is an active member, a team subject belongs
to the organization (else 404); the actor may use that permission on that object themselves (no
escalation, PrivilegeEscalation 403). A duplicate grant is idempotent: the existing grant comes back
(`created` False; the API answers 200 instead of 201) and no event is recorded.

`grant_delete` needs no live object or member: grants of a deleted team or a departed member can be
cleaned up. Deleting a team cascades its TeamObjectGrant rows; its Group row stays (harmless: no
permission row points at it any more). Each change emits grant.created / grant.deleted in the
transaction, which bumps the organization's access version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.audit.services import Target, emit
from apps.core.errors import Conflict
from apps.orgs.errors import MemberNotFound
from apps.orgs.models import Membership, MembershipStatus, Organization, Team
from apps.orgs.services.teams import TeamNotFound
from apps.rbac import catalog, resources
from apps.rbac.errors import GrantNotFound, ResourceObjectNotFound
from apps.rbac.models import TeamObjectGrant, UserObjectGrant
from apps.rbac.services.decisions import Caller, RequestFacts, Resource
from apps.rbac.services.roles import escalation_check

SUBJECT_TYPES = ("team", "user")  # sorted: also the tie-break order of the list
TEAM_GROUP_PREFIX = "plinto-team:"


@dataclass(frozen=True)
class Grant:
    """One grant as the API shows it, whichever table holds it."""

    subject_type: str
    subject_id: str
    permission: str
    resource_type: str
    resource_id: str
    granted_by: str | None
    created_at: dt.datetime
    row_id: int

    @property
    def sort_key(self) -> tuple[dt.datetime, str, int]:
        return (self.created_at, self.subject_type, self.row_id)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _resource_type(name: Any, field: str = "resource.type") -> resources.ResourceType:
    resource_type = resources.get(name) if isinstance(name, str) else None
    if resource_type is None:
        raise _error(field, f"Unknown resource type; one of {', '.join(resources.names())}.", "unknown_resource_type")
    return resource_type


def _catalog_permission(code: Any) -> str:
    if not isinstance(code, str) or not catalog.exists(code):
        raise _error("permission", f"{code!r} is not a permission in the catalog.", "unknown_permission")
    return code


def _auth_permission(code: str, model: type[models.Model]) -> Permission:
    """guardian's permission row for our code on this model (codename = code), created on first use."""
    description = next((p.description for p in catalog.all_permissions() if p.code == code), code)
    permission, _ = Permission.objects.get_or_create(content_type=ContentType.objects.get_for_model(model),
                                                     codename=code, defaults={"name": description[:255]})
    return permission


def team_group(team: Team) -> Group:
    group, _ = Group.objects.get_or_create(name=f"{TEAM_GROUP_PREFIX}{team.pk}")
    return group


def _type_names() -> dict[int, str]:
    return {ContentType.objects.get_for_model(resources.get(name).model).pk: name for name in resources.names()}


def _as_grant(row: UserObjectGrant | TeamObjectGrant, type_names: dict[int, str]) -> Grant:
    is_user = isinstance(row, UserObjectGrant)
    return Grant(subject_type="user" if is_user else "team",
                 subject_id=str(row.user_id if is_user else row.team_id),
                 permission=row.permission.codename, resource_type=type_names.get(row.content_type_id, ""),
                 resource_id=row.object_pk, granted_by=str(row.granted_by_id) if row.granted_by_id else None,
                 created_at=row.created_at, row_id=row.pk)


def _subject(organization: Organization, subject_type: Any, subject_id: Any) -> tuple[str, Membership | Team]:
    if subject_type not in SUBJECT_TYPES:
        raise _error("subject.type", "One of user, team.")
    pk = _uuid(subject_id)
    if subject_type == "user":
        member = (Membership.objects.select_related("user").filter(
            organization=organization, user_id=pk, status=MembershipStatus.ACTIVE).first() if pk else None)
        if member is None:
            raise MemberNotFound("No such member in this organization.")
        return "user", member
    team = Team.objects.filter(organization=organization, pk=pk).first() if pk else None
    if team is None:
        raise TeamNotFound("No such team in this organization.")
    return "team", team


# Reads ---------------------------------------------------------------------------------------------

def grant_list(*, organization: Organization, resource_type: str | None = None, resource_id: str | None = None,
               subject_type: str | None = None, subject_id: str | None = None,
               after: tuple[dt.datetime, str, int] | None = None, limit: int = 50) -> list[Grant]:
    """Up to `limit` grants of the organization ordered by (created_at, subject type, row id), after the
    key `after` (keyset pagination across both tables); filters as in the API."""
    user_rows: QuerySet = UserObjectGrant.objects.filter(organization=organization)
    team_rows: QuerySet = TeamObjectGrant.objects.filter(organization=organization)
    if resource_type:
        ct = ContentType.objects.get_for_model(_resource_type(resource_type, "resource_type").model)
        user_rows, team_rows = user_rows.filter(content_type=ct), team_rows.filter(content_type=ct)
    if resource_id:
        pk = _uuid(resource_id)
        key = str(pk) if pk else "-"  # not an id: matches nothing
        user_rows, team_rows = user_rows.filter(object_pk=key), team_rows.filter(object_pk=key)
    if subject_id:
        pk = _uuid(subject_id)
        user_rows, team_rows = user_rows.filter(user_id=pk), team_rows.filter(team_id=pk)
        if pk is None:
            user_rows, team_rows = user_rows.none(), team_rows.none()
    if subject_type == "user":
        team_rows = team_rows.none()
    elif subject_type == "team":
        user_rows = user_rows.none()
    elif subject_type:
        raise _error("subject_type", "One of user, team.")
    type_names = _type_names()
    rows: list[Grant] = []
    for kind, queryset in (("team", team_rows), ("user", user_rows)):
        if after is not None:
            at, after_kind, after_id = after
            if after_kind < kind:
                queryset = queryset.filter(created_at__gte=at)
            elif after_kind == kind:
                queryset = queryset.filter(Q(created_at__gt=at) | Q(created_at=at, pk__gt=after_id))
            else:
                queryset = queryset.filter(created_at__gt=at)
        queryset = queryset.select_related("permission").order_by("created_at", "pk")[:limit]
        rows += [_as_grant(row, type_names) for row in queryset]
    return sorted(rows, key=lambda g: g.sort_key)[:limit]


# Writes --------------------------------------------------------------------------------------------

@transaction.atomic
def grant_create(*, organization: Organization, actor: Any, caller: Caller, subject_type: Any, subject_id: Any,
                 permission: Any, resource_type: Any, resource_id: Any,
                 facts: RequestFacts | None = None) -> tuple[Grant, bool]:
    """Grant `permission` on one object of the organization; (grant, created). Idempotent (see module)."""
    permission = _catalog_permission(permission)
    rtype = _resource_type(resource_type)
    obj = resources.object_in_organization(rtype.name, resource_id, organization.pk)
    if obj is None:
        raise ResourceObjectNotFound(f"No such {rtype.name} in this organization.")
    kind, subject = _subject(organization, subject_type, subject_id)
    resource = Resource(type=rtype.name, id=str(obj.pk))
    escalation_check(caller=caller, permissions=[permission], resource=resource, facts=facts,
                     what=f"Granting {permission} on {rtype.name}:{obj.pk}")

    auth_permission = _auth_permission(permission, type(obj))
    granted_by = actor if isinstance(actor, User) else None
    common = {"permission": auth_permission, "content_type": auth_permission.content_type, "object_pk": str(obj.pk)}
    if kind == "user":
        lookup = {"user_id": subject.user_id, **common}
        model, extra = UserObjectGrant, {}
    else:
        lookup = {"group": team_group(subject), **common}
        model, extra = TeamObjectGrant, {"team": subject}
    existing = model.objects.filter(organization=organization, **lookup).select_related("permission").first()
    if existing is not None:
        return _as_grant(existing, _type_names()), False
    row = model(organization=organization, granted_by=granted_by, **lookup, **extra)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same grant made concurrently, or a row of this subject tagged otherwise
        existing = model.objects.filter(organization=organization, **lookup).select_related("permission").first()
        if existing is None:  # a row of another organization for the same object: never ours to reuse
            raise Conflict("A conflicting grant exists for this subject and object.") from None
        return _as_grant(existing, _type_names()), False
    subject_pk = str(subject.user_id if kind == "user" else subject.pk)
    emit(action="grant.created", actor=actor, organization_id=organization.pk,
         target=Target(type=rtype.name, id=str(obj.pk)),
         metadata={"subject_type": kind, "subject_id": subject_pk, "permission": permission,
                   "resource_type": rtype.name, "resource_id": str(obj.pk)})
    return _as_grant(row, _type_names()), True


@transaction.atomic
def grant_delete(*, organization: Organization, actor: Any, subject_type: Any, subject_id: Any, permission: Any,
                 resource_type: Any, resource_id: Any) -> None:
    """Revoke one grant of this organization; GrantNotFound (404) if there is no such grant here."""
    if subject_type not in SUBJECT_TYPES:
        raise _error("subject.type", "One of user, team.")
    rtype = _resource_type(resource_type)
    subject_pk, object_pk = _uuid(subject_id), _uuid(resource_id)
    if not isinstance(permission, str) or subject_pk is None or object_pk is None:
        raise GrantNotFound("No such grant.")
    ct = ContentType.objects.get_for_model(rtype.model)
    rows = (UserObjectGrant.objects.filter(user_id=subject_pk) if subject_type == "user"
            else TeamObjectGrant.objects.filter(team_id=subject_pk))
    row = (rows.select_for_update(of=("self",))
           .filter(organization=organization, content_type=ct, object_pk=str(object_pk),
                   permission__codename=permission, permission__content_type=ct).first())
    if row is None:
        raise GrantNotFound("No such grant.")
    row.delete()
    emit(action="grant.deleted", actor=actor, organization_id=organization.pk,
         target=Target(type=rtype.name, id=str(object_pk)),
         metadata={"subject_type": subject_type, "subject_id": str(subject_pk), "permission": permission,
                   "resource_type": rtype.name, "resource_id": str(object_pk)})


def grants_of_departed_member_revoke(*, organization_id: Any, user_id: Any) -> int:
    """A member who leaves or is removed loses their object grants (rejoining must not bring them back)."""
    type_names = _type_names()
    rows = list(UserObjectGrant.objects.select_for_update(of=("self",)).select_related("permission")
                .filter(organization_id=organization_id, user_id=user_id))
    for row in rows:
        grant = _as_grant(row, type_names)
        row.delete()
        emit(action="grant.deleted", actor=None, organization_id=organization_id,
             target=Target(type=grant.resource_type, id=grant.resource_id),
             metadata={"subject_type": "user", "subject_id": str(user_id), "permission": grant.permission,
                       "resource_type": grant.resource_type, "resource_id": grant.resource_id})
    return len(rows)
