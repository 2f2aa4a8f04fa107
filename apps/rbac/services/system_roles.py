"""The five system roles' rows: shared by every organization, with fixed ids (apps.orgs.roles)."""

from apps.orgs.roles import SystemRole, system_role_id
from apps.rbac.models import Role

DESCRIPTIONS = {
    SystemRole.OWNER: "Everything, including deleting the organization and handing it over.",
    SystemRole.ADMIN: "Everything but deleting or handing over the organization and changing billing.",
    SystemRole.MEMBER: "Reads the organization, its members, teams and roles.",
    SystemRole.VIEWER: "Read-only access to the organization, its members, teams and roles.",
    SystemRole.BILLING: "Reads the organization and its members; manages billing.",
}


def system_roles_ensure(*, using: str = "default") -> None:
    for name, description in DESCRIPTIONS.items():
        Role.objects.using(using).get_or_create(
            pk=system_role_id(name), defaults={"name": name.value, "description": description, "organization": None})
