"""What each system role may do. Documented in docs/access-control.md; change both together.

Owner holds every code in the catalog, including codes that apps added later declare. Admin holds
everything but deleting or handing over the organization and changing billing. Member and viewer
read; billing reads and manages billing. Custom roles are rows of apps.rbac.models.Role.
"""

from apps.orgs.perms import MEMBERS_READ, ORG_DELETE, ORG_READ, OWNERSHIP_TRANSFER, TEAMS_READ
from apps.orgs.roles import SystemRole
from apps.rbac import catalog
from apps.rbac.perms import BILLING_MANAGE, BILLING_READ, ROLES_READ

_READ = frozenset({ORG_READ, MEMBERS_READ, TEAMS_READ, ROLES_READ})
_NOT_FOR_ADMIN = frozenset({ORG_DELETE, OWNERSHIP_TRANSFER, BILLING_MANAGE})


def system_role_permissions(name: str) -> frozenset[str]:
    if name == SystemRole.OWNER:
        return catalog.codes()
    if name == SystemRole.ADMIN:
        return catalog.codes() - _NOT_FOR_ADMIN
    if name in (SystemRole.MEMBER, SystemRole.VIEWER):
        return _READ
    if name == SystemRole.BILLING:
        return frozenset({ORG_READ, MEMBERS_READ, BILLING_READ, BILLING_MANAGE})
    return frozenset()
