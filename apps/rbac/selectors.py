"""Reads of access data, always scoped to one organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from apps.orgs.models import Membership, MembershipStatus, Organization, TeamMembership
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
    grants: frozenset[tuple[str, str, str, str]]  # (permission, resource type, resource id, via "user"|"team:<id>")


def member_access(*, organization_id: uuid.UUID, user_id: uuid.UUID) -> MemberAccess | None:
    membership = (Membership.objects.filter(organization_id=organization_id, user_id=user_id,
                                            status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True)
                  .only("id", "role_id").first())
    if membership is None:
        return None
    by_id = {role.pk: role for role in roles_for_organization(organization_id=organization_id)}
    team_rows = list(TeamMembership.objects.filter(membership=membership).values_list("team_id", "team__role_id"))
    # A role id outside this organization's roles (impossible through the services) is simply not held.
    held: list[tuple[Role, str]] = [(by_id[membership.role_id], "member")] if membership.role_id in by_id else []
    held += [(by_id[role_id], f"team:{team_id}") for team_id, role_id in team_rows if role_id in by_id]
    roles, per_role, permissions = [], {}, set()
    for role, via in held:
        perms, chain = role_permissions(role, by_id=by_id)
        roles.append((role.name, via, tuple(chain)))
        per_role[role.name] = perms
        permissions |= perms
    team_ids = frozenset(str(team_id) for team_id, _ in team_rows)
    own = by_id.get(membership.role_id)
    return MemberAccess(membership_id=membership.pk, role=own.name if own else "", roles=tuple(roles),
                        role_permissions=per_role, permissions=frozenset(permissions), team_ids=team_ids,
                        grants=_grants_of(organization_id=organization_id, user_id=user_id, team_ids=team_ids))


def _grants_of(*, organization_id: uuid.UUID, user_id: uuid.UUID, team_ids: frozenset[str]) -> frozenset:
    type_of = {}
    for name in resources.names():
        model = resources.get(name).model
        type_of[ContentType.objects.get_for_model(model).pk] = name
    rows = set()
    for codename, ct, pk in (UserObjectGrant.objects.filter(organization_id=organization_id, user_id=user_id)
                             .values_list("permission__codename", "content_type_id", "object_pk")):
        if ct in type_of:
            rows.add((codename, type_of[ct], pk, "user"))
    if team_ids:
        for codename, ct, pk, team_id in (TeamObjectGrant.objects
                                          .filter(organization_id=organization_id, team_id__in=team_ids)
                                          .values_list("permission__codename", "content_type_id", "object_pk",
                                                       "team_id")):
            if ct in type_of:
                rows.add((codename, type_of[ct], pk, f"team:{team_id}"))
    return frozenset(rows)
