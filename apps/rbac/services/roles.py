"""Custom roles of an organization (create, change, delete) and the rule that nobody hands out more
than they hold.

A custom role has its own permissions (codes from the catalog) and may name a parent: a system role or
another custom role of the same organization, whose permissions it also holds (no cycles, at most
`selectors.MAX_PARENT_DEPTH` ancestors, counted for the role's whole subtree). Names follow
`role_name_validator`, are unique per organization case-insensitively and can never be a system role's
name. Holders keep a role by id, so renaming it is safe for them; policies, though, name roles as
`role:<name>`, so a rename (or a new role taking a deleted one's name) changes which policies match.

No privilege escalation: a role's effective permissions (own + inherited) must all be allowed to the
actor, as the decision service answers for them right now (roles, policies; an API key: its scopes).
The same rule guards every place that hands a role to someone (`role_assignable_check`, called by
the members, invitations, teams and organization APIs). Owners hold everything and are never blocked.

Deleting a role is refused (RoleInUse, 409) while a membership, a team, a pending or expired (it can
be resent) invitation, an organization's default role or a child role uses it. Accepted and revoked
invitations are history: they are repointed to the system `member` role (the least privilege, as
migration orgs.0005 does) so that the row can go.

Every change emits its audit event inside the transaction, which also bumps the organization's access
version (apps.rbac.cache): the next request sees the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, RestrictedError

from apps.audit.services import Target, emit
from apps.orgs.models import Invitation, InvitationStatus, Membership, Organization, Team
from apps.orgs.roles import SystemRole, system_role_id
from apps.rbac import catalog, selectors
from apps.rbac.errors import PrivilegeEscalation, RoleInUse, RoleNameTaken, RoleNotFound, SystemRoleReadOnly
from apps.rbac.models import Policy, Role, role_name_validator
from apps.rbac.roles import system_role_permissions
from apps.rbac.services.decisions import Caller, RequestFacts, Resource, api_key_caller, decide, user_caller

ROLE_FIELDS = ("name", "description", "permissions", "parent")
RESERVED_NAMES = frozenset(SystemRole.values)
# Invitations that can still make a member (an expired one can be resent) keep their role in use.
LIVE_INVITATION_STATUSES = (InvitationStatus.PENDING, InvitationStatus.EXPIRED)


# Escalation ----------------------------------------------------------------------------------------

def permissions_not_held(*, caller: Caller, permissions: Iterable[str], resource: Resource | None = None,
                         facts: RequestFacts | None = None) -> list[str]:
    """The codes among `permissions` the caller may not use (on `resource`, default the organization)."""
    if caller.type == "user" and caller.access is not None and caller.access.role == SystemRole.OWNER:
        return []
    return sorted(code for code in set(permissions)
                  if not decide(caller=caller, permission=code, resource=resource, facts=facts).allowed)


def escalation_check(*, caller: Caller, permissions: Iterable[str], what: str, resource: Resource | None = None,
                     facts: RequestFacts | None = None) -> None:
    """PrivilegeEscalation (403) naming the codes of `permissions` the caller does not hold."""
    missing = permissions_not_held(caller=caller, permissions=permissions, resource=resource, facts=facts)
    if missing:
        raise PrivilegeEscalation(f"{what} would give {', '.join(missing)}, which you do not hold.",
                                  extra={"permissions": missing})


def request_caller(request: Any, organization: Organization) -> Caller:
    """The caller of an API request inside `organization` (a member, or the organization's API key)."""
    from apps.rbac.access import request_api_key

    key = request_api_key(request)
    if key is not None:
        return api_key_caller(key=key, organization=organization)
    return user_caller(user=request.user, organization=organization)


def role_assignable_check(*, caller_request: Any, organization: Organization, role_name: Any) -> None:
    """Refuse (PrivilegeEscalation) to hand `role_name` to anyone, the caller included, if that role holds
    a permission the caller does not. Unknown names pass (the orgs service answers `unknown_role`), and
    so does `owner`: orgs' own rule (only owners make owners) decides that one."""
    from apps.rbac.access import request_facts

    if not isinstance(role_name, str) or not role_name:
        return
    role = selectors.role_by_name(organization=organization, name=role_name)
    if role is None or role.pk == system_role_id(SystemRole.OWNER):
        return
    held, _ = selectors.role_permissions(role)
    escalation_check(caller=request_caller(caller_request, organization), permissions=held,
                     what=f"The role {role.name}", facts=request_facts(caller_request))


# Reads ---------------------------------------------------------------------------------------------

def role_get(*, role_id: object) -> Role:
    """A role by id (system or custom, any organization): the caller's access is checked by the API."""
    try:
        pk = uuid.UUID(str(role_id))
    except (TypeError, ValueError):
        pk = None
    role = Role.objects.select_related("parent").filter(pk=pk).first() if pk else None
    if role is None:
        raise RoleNotFound("No such role.")
    return role


def role_list(*, organization: Organization) -> QuerySet[Role]:
    """The system roles and the organization's custom roles, with how many of its members hold each."""
    return (selectors.roles_for_organization(organization_id=organization.pk).select_related("parent")
            .annotate(member_count=Count("memberships", filter=Q(memberships__organization_id=organization.pk))))


def role_member_count(*, role: Role, organization_id: object) -> int:
    return Membership.objects.filter(role=role, organization_id=organization_id).count()


def role_roles_by_id(*, organization_id: object) -> dict[uuid.UUID, Role]:
    return {role.pk: role for role in selectors.roles_for_organization(organization_id=organization_id)}


def role_own_permissions(role: Role) -> list[str]:
    if role.is_system:
        return sorted(system_role_permissions(role.name))
    return sorted(role.permissions)


def role_effective_permissions(role: Role, *, by_id: dict[uuid.UUID, Role] | None = None) -> list[str]:
    return sorted(selectors.role_permissions(role, by_id=by_id)[0])


def role_usage(*, role: Role) -> dict[str, int]:
    """What keeps a role from being deleted."""
    return {
        "members": Membership.objects.filter(role=role).count(),
        "teams": Team.objects.filter(role=role).count(),
        "invitations": Invitation.objects.filter(role=role, status__in=LIVE_INVITATION_STATUSES).count(),
        "default_role": Organization.objects.filter(default_role=role).count(),
        "child_roles": Role.objects.filter(parent=role).count(),
        # A policy naming a deleted role would silently apply to a later role of the same name.
        "policies": len(_policies_naming(role)),
    }


def _policies_naming(role: Role) -> list[Policy]:
    subject = f"role:{role.name.lower()}"
    return [policy for policy in Policy.objects.filter(organization_id=role.organization_id).only("id", "subjects")
            if subject in policy.subjects]


# Validation ----------------------------------------------------------------------------------------

def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _clean_name(name: Any, *, organization: Organization, exclude: Role | None = None) -> str:
    if not isinstance(name, str):
        raise _error("name", "A role name is a string.", "invalid")
    name = name.strip()
    try:
        role_name_validator(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.error_list}) from None
    if name.lower() in RESERVED_NAMES:
        raise _error("name", f"{name!r} is a system role's name.", "reserved_role_name")
    taken = Role.objects.filter(organization=organization, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise RoleNameTaken(f"A role named {name!r} exists in this organization.")
    return name


def _clean_permissions(permissions: Any) -> list[str]:
    if not isinstance(permissions, list | tuple) or not all(isinstance(p, str) for p in permissions):
        raise _error("permissions", "A list of permission codes.", "invalid")
    unknown = sorted(set(catalog.unknown(list(permissions))))
    if unknown:
        raise _error("permissions", f"Not in the permission catalog: {', '.join(unknown)}.", "unknown_permission")
    return sorted(set(permissions))


def _clean_parent(parent: Any, *, organization: Organization, role: Role | None,
                  by_id: dict[uuid.UUID, Role]) -> Role | None:
    """The parent named `parent` (a system role or a custom role of this organization), or None.

    Refuses a parent that is the role itself or one of its descendants (a cycle), and a chain longer
    than MAX_PARENT_DEPTH ancestors for the role or any role below it."""
    if parent is None or parent == "":
        return None
    if not isinstance(parent, str):
        raise _error("parent", "A role name.", "invalid")
    found = selectors.role_by_name(organization=organization, name=parent)
    if found is None:
        raise _error("parent", f"{parent!r} is not a role of this organization.", "unknown_role")
    found = by_id.get(found.pk, found)
    ancestors: list[Role] = []
    current: Role | None = found
    while current is not None and len(ancestors) <= selectors.MAX_PARENT_DEPTH + 1:
        if role is not None and current.pk == role.pk:
            raise _error("parent", f"{found.name!r} is {role.name!r} or inherits from it: that would be a cycle.",
                         "role_cycle")
        ancestors.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    below = _subtree_height(role, by_id) if role is not None else 0
    if len(ancestors) + below > selectors.MAX_PARENT_DEPTH:
        raise _error("parent", f"Roles inherit through at most {selectors.MAX_PARENT_DEPTH} levels.",
                     "role_depth_exceeded")
    return found


def _subtree_height(role: Role, by_id: dict[uuid.UUID, Role]) -> int:
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for candidate in by_id.values():
        if candidate.parent_id:
            children.setdefault(candidate.parent_id, []).append(candidate.pk)
    height, level, seen = 0, [role.pk], {role.pk}
    while True:
        level = [c for pk in level for c in children.get(pk, []) if c not in seen]
        if not level:
            return height
        seen.update(level)
        height += 1


def _effective(permissions: list[str], parent: Role | None, by_id: dict[uuid.UUID, Role]) -> set[str]:
    held = set(permissions)
    if parent is not None:
        held |= selectors.role_permissions(parent, by_id=by_id)[0]
    return held


def _lock_roles(organization: Organization) -> dict[uuid.UUID, Role]:
    """Lock the organization's custom roles (in a fixed order) so that concurrent changes of parents
    cannot build a cycle between them; returns the system and custom roles by id."""
    list(Role.objects.select_for_update().filter(organization=organization).order_by("pk").values_list("pk"))
    return role_roles_by_id(organization_id=organization.pk)


def _save(role: Role, **kwargs: Any) -> None:
    role.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            role.save(**kwargs)
    except IntegrityError:
        raise RoleNameTaken(f"A role named {role.name!r} exists in this organization.") from None


# Writes --------------------------------------------------------------------------------------------

@transaction.atomic
def role_create(*, organization: Organization, actor: Any, caller: Caller, name: Any, permissions: Any,
                description: str = "", parent: str | None = None, facts: RequestFacts | None = None) -> Role:
    by_id = _lock_roles(organization)
    name = _clean_name(name, organization=organization)
    permissions = _clean_permissions(permissions)
    parent_role = _clean_parent(parent, organization=organization, role=None, by_id=by_id)
    escalation_check(caller=caller, permissions=_effective(permissions, parent_role, by_id),
                     what=f"The role {name}", facts=facts)
    role = Role(organization=organization, name=name, description=description or "", permissions=permissions,
                parent=parent_role)
    _save(role)
    emit(action="role.created", actor=actor, organization_id=organization.pk, target=role,
         metadata={"name": role.name, "permissions": permissions,
                   "parent": parent_role.name if parent_role else None})
    return role


@transaction.atomic
def role_update(*, role: Role, actor: Any, caller: Caller, data: dict[str, Any],
                facts: RequestFacts | None = None) -> Role:
    """Change name, description, permissions or parent (None/"" = no parent). The role's new effective
    permissions must all be the actor's: nobody edits a role that would hold more than they do."""
    if role.is_system:
        raise SystemRoleReadOnly("System roles cannot be changed; create a custom role instead.")
    organization = role.organization
    by_id = _lock_roles(organization)
    role = by_id[role.pk]
    data = {k: v for k, v in data.items() if k in ROLE_FIELDS}
    new: dict[str, Any] = {}
    if "name" in data:
        new["name"] = _clean_name(data["name"], organization=organization, exclude=role)
    if "description" in data:
        new["description"] = data["description"] or ""
    if "permissions" in data:
        new["permissions"] = _clean_permissions(data["permissions"])
    if "parent" in data:
        new["parent"] = _clean_parent(data["parent"], organization=organization, role=role, by_id=by_id)
    permissions = new.get("permissions", role.permissions)
    parent = new["parent"] if "parent" in new else (by_id.get(role.parent_id) if role.parent_id else None)
    escalation_check(caller=caller, permissions=_effective(permissions, parent, by_id),
                     what=f"The role {new.get('name', role.name)}", facts=facts)

    current_parent = by_id.get(role.parent_id) if role.parent_id else None
    changes: dict[str, list[Any]] = {}
    for field, value in new.items():
        old = current_parent if field == "parent" else getattr(role, field)
        if (old.pk if isinstance(old, Role) else old) != (value.pk if isinstance(value, Role) else value):
            changes[field] = [old, value]
    if not changes:
        return role
    for field, (_, value) in changes.items():
        setattr(role, field, value)
    renamed_from = changes["name"][0] if "name" in changes else None
    _save(role, update_fields=[*changes, "updated_at"])
    if renamed_from is not None:
        _policies_follow_rename(role=role, old_name=renamed_from, actor=actor)
    if "parent" in changes:  # the audit trail names roles, as the API does
        changes["parent"] = [r.name if r else None for r in changes["parent"]]
    emit(action="role.updated", actor=actor, organization_id=organization.pk, target=role, changes=changes)
    return role


def _policies_follow_rename(*, role: Role, old_name: str, actor: Any) -> None:
    """Policies name roles (`role:<name>`): a renamed role keeps its policies, in the same transaction."""
    old_subject, new_subject = f"role:{old_name.lower()}", f"role:{role.name.lower()}"
    for policy in Policy.objects.select_for_update().filter(organization_id=role.organization_id):
        if old_subject not in policy.subjects:
            continue
        before = list(policy.subjects)
        policy.subjects = [new_subject if subject == old_subject else subject for subject in before]
        policy.save(update_fields=["subjects", "updated_at"])
        emit(action="policy.updated", actor=actor, organization_id=role.organization_id, target=policy,
             changes={"subjects": [before, policy.subjects]})


@transaction.atomic
def role_delete(*, role: Role, actor: Any) -> None:
    if role.is_system:
        raise SystemRoleReadOnly("System roles cannot be deleted.")
    organization = role.organization
    _lock_roles(organization)
    usage = role_usage(role=role)
    if any(usage.values()):
        raise RoleInUse(f"The role {role.name} is still used by {_describe(usage)}; reassign them first.",
                        extra={"usage": usage})
    Invitation.objects.filter(role=role).update(role_id=system_role_id(SystemRole.MEMBER))  # accepted, revoked
    target, name = Target(type="role", id=str(role.pk)), role.name
    try:
        with transaction.atomic():
            role.delete()
    except (RestrictedError, IntegrityError):  # someone started using it in between
        raise RoleInUse(f"The role {name} is in use; reassign its holders first.") from None
    emit(action="role.deleted", actor=actor, organization_id=organization.pk, target=target, metadata={"name": name})


def _describe(usage: dict[str, int]) -> str:
    labels = {"members": ("member", "members"), "teams": ("team", "teams"),
              "invitations": ("pending invitation", "pending invitations"),
              "default_role": ("organization default role", "organization default roles"),
              "child_roles": ("child role", "child roles"), "policies": ("policy", "policies")}
    parts = [f"{n} {labels[key][0] if n == 1 else labels[key][1]}" for key, n in usage.items() if n]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
