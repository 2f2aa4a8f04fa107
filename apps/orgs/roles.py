"""The system roles' names and fixed ids.

A role is referred to by name everywhere on the wire (API, invitations, memberships); in the database
memberships, teams, invitations and an organization's default role point at an `apps.rbac` Role row.
System roles are shared rows with fixed ids (so defaults and migrations need no lookup); what each
may do is decided by apps.rbac (apps/rbac/roles.py), custom roles are per organization.
"""

import uuid

from django.db import models

_NAMESPACE = uuid.UUID("6f1c1b1e-7a43-4d4f-9d1e-2f5b5e0c0a11")


class SystemRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"
    BILLING = "billing", "Billing"


def system_role_id(name: str) -> uuid.UUID:
    """The fixed primary key of a system role's row (the same in every installation)."""
    return uuid.uuid5(_NAMESPACE, f"plinto.role.{SystemRole(name).value}")


def default_member_role_id() -> uuid.UUID:
    return system_role_id(SystemRole.MEMBER)
