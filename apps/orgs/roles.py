"""System roles and what each may do, until apps.rbac brings custom roles and policies.

A role is referred to by name everywhere (API, invitations, memberships), so custom roles slot in
as more names. Permission codes are `resource:action` strings named as the access-control issue's
catalog names them (`org:update`, `members:invite`, `audit:read`…), so apps/rbac takes them over as they are.
"""

from django.db import models


class SystemRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"
    BILLING = "billing", "Billing"


ORG_READ = "org:read"
ORG_UPDATE = "org:update"
ORG_DELETE = "org:delete"
MEMBERS_READ = "members:read"
MEMBERS_MANAGE = "members:manage"
OWNERSHIP_TRANSFER = "org:transfer"
INVITATIONS_MANAGE = "members:invite"
TEAMS_READ = "teams:read"
TEAMS_MANAGE = "teams:manage"
DOMAINS_MANAGE = "domains:manage"
AUDIT_READ = "audit:read"

_READ = {ORG_READ, MEMBERS_READ, TEAMS_READ}
_ADMIN = _READ | {ORG_UPDATE, MEMBERS_MANAGE, INVITATIONS_MANAGE, TEAMS_MANAGE, DOMAINS_MANAGE, AUDIT_READ}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    SystemRole.OWNER: frozenset(_ADMIN | {ORG_DELETE, OWNERSHIP_TRANSFER}),
    SystemRole.ADMIN: frozenset(_ADMIN),
    SystemRole.MEMBER: frozenset(_READ),
    SystemRole.VIEWER: frozenset(_READ),
    SystemRole.BILLING: frozenset({ORG_READ, MEMBERS_READ}),
}


def role_has(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def role_exists(role: str) -> bool:
    return role in ROLE_PERMISSIONS
