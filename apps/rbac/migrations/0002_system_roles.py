"""The five system roles, as shared rows with fixed ids (apps.orgs.roles.system_role_id)."""

import uuid

from django.db import migrations

_NAMESPACE = uuid.UUID("6f1c1b1e-7a43-4d4f-9d1e-2f5b5e0c0a11")  # = apps.orgs.roles._NAMESPACE, frozen here
SYSTEM_ROLES = {
    "owner": "Everything, including deleting the organization and handing it over.",
    "admin": "Everything but deleting or handing over the organization and changing billing.",
    "member": "Reads the organization, its members, teams and roles.",
    "viewer": "Read-only access to the organization, its members, teams and roles.",
    "billing": "Reads the organization and its members; manages billing.",
}


def role_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"plinto.role.{name}")


def seed(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for name, description in SYSTEM_ROLES.items():
        Role.objects.update_or_create(pk=role_id(name), defaults={"name": name, "description": description,
                                                                  "organization": None, "permissions": []})


def unseed(apps, schema_editor):
    apps.get_model("rbac", "Role").objects.filter(pk__in=[role_id(n) for n in SYSTEM_ROLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("rbac", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
