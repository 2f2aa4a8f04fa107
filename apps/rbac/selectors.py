"""Reads of access data, always scoped to one organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet, UUIDField, Value

from apps.orgs.models import Membership, MembershipStatus, Organization
from apps.rbac import catalog, resources
from apps.rbac.models import Role, TeamObjectGrant, UserObjectGrant
from apps.rbac.roles import system_role_permissions

MAX_PARENT_DEPTH = 5


def roles_for_organization(*, organization_id: object) -> QuerySet[Role]:
    """The system roles and this organization's custom roles."""
    return Role.objects.filter(Q(organization__isnull=True) | Q(organization_id=organization_id))


def role_by_name(*, organization: Organization, name: str) -> Role | None:
    if not isinstance(name, str) or not name:
        return None
    return roles_for_organization(organization_id=organization.pk).filter(name__iexact=name).first()


def role_permissions(role: Role, *, by_id: dict[uuid.UUID, Role] | None = None) -> tuple[frozenset[str], list[str]]:
    """A role's own permissions plus its ancestors' (system roles: the fixed set), and the chain's names."""
    held: set[str] = set()
    chain: list[str] = []
    current: Role | None = role
    known = catalog.codes()
    for _ in range(MAX_PARENT_DEPTH + 1):
        if current is None:
            break
        chain.append(current.name)
        if current.is_system:
            held |= system_role_permissions(current.name)
        else:
            held |= {code for code in current.permissions if code in known}
        parent_id = current.parent_id
        current = (by_id.get(parent_id) if by_id is not None else current.parent) if parent_id else None
    return frozenset(held), chain


@dataclass(frozen=True)
class MemberAccess:
    """What a member holds in one organization: cached per (organization, user, access version)."""

    membership_id: uuid.UUID
    role: str
    roles: tuple[tuple[str, str, tuple[str, ...]], ...]  # (role name, held through "member"|"team:<id>", chain)
    role_permissions: dict[str, frozenset[str]]  # role name → permissions incl. inherited
    permissions: frozenset[str]
    team_ids: frozenset[str]


def member_access(*, organization_id: uuid.UUID, user_id: uuid.UUID) -> MemberAccess | None:
    # Two queries (this runs on every cold check): the membership with its teams (one row per team, or one
    # row of NULL team columns) and the organization's roles. Grants are read apart (member_grants).
    rows = list(Membership.objects.filter(organization_id=organization_id, user_id=user_id,
                                          status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True)
                .values_list("id", "role_id", "team_memberships__team_id", "team_memberships__team__role_id"))
    if not rows:
        return None
    membership_id, membership_role_id = rows[0][0], rows[0][1]
    by_id = {role.pk: role for role in roles_for_organization(organization_id=organization_id)
             .only("id", "organization_id", "name", "permissions", "parent_id")}
    team_rows = [(team_id, role_id) for _, _, team_id, role_id in rows if team_id is not None]
    # A role id outside this organization's roles (impossible through the services) is simply not held.
    held: list[tuple[Role, str]] = [(by_id[membership_role_id], "member")] if membership_role_id in by_id else []
    held += [(by_id[role_id], f"team:{team_id}") for team_id, role_id in team_rows if role_id in by_id]
    roles, per_role, permissions = [], {}, set()
    for role, via in held:
        perms, chain = role_permissions(role, by_id=by_id)
        roles.append((role.name, via, tuple(chain)))
        per_role[role.name] = perms
        permissions |= perms
    team_ids = frozenset(str(team_id) for team_id, _ in team_rows)
    own = by_id.get(membership_role_id)
    return MemberAccess(membership_id=membership_id, role=own.name if own else "", roles=tuple(roles),
                        role_permissions=per_role, permissions=frozenset(permissions), team_ids=team_ids)


def member_grants(*, organization_id: uuid.UUID, user_id: uuid.UUID, team_ids: frozenset[str]) -> frozenset:
    """(permission, resource type, resource id, via "user"|"team:<id>") of the member's and their teams' object
    grants in this organization. Read only when a check needs them (decisions.Caller.grants), cached apart
    from the snapshot: most checks are settled by roles."""
    type_of = {}
    for name in resources.names():
        model = resources.get(name).model
        type_of[ContentType.objects.get_for_model(model).pk] = name
    rows = set()
    # One round trip: the user's grants (team NULL) UNION ALL their teams' grants.
    grants = (UserObjectGrant.objects.filter(organization_id=organization_id, user_id=user_id)
              .annotate(via_team=Value(None, output_field=UUIDField()))
              .values_list("permission__codename", "content_type_id", "object_pk", "via_team"))
    if team_ids:
        grants = grants.union(TeamObjectGrant.objects.filter(organization_id=organization_id, team_id__in=team_ids)
                              .values_list("permission__codename", "content_type_id", "object_pk", "team_id"),
                              all=True)
    for codename, ct, pk, team_id in grants:
        if ct in type_of:
            rows.add((codename, type_of[ct], pk, "user" if team_id is None else f"team:{team_id}"))
    return frozenset(rows)
