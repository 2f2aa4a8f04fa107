"""Roles, policies, object grants and API keys of an organization.

System roles are shared rows (organization NULL, fixed ids from apps.orgs.roles); custom roles belong
to one organization. Object grants are django-guardian permission rows with an `organization` column:
every query filters on it, so a grant can never reach another tenant's object.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from guardian.models import GroupObjectPermissionAbstract, UserObjectPermissionAbstract

role_name_validator = RegexValidator(r"^[a-z0-9][a-z0-9_-]{1,49}$",
                                     "2–50 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
                                     code="invalid_role_name")


class Role(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("orgs.Organization", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="roles", help_text="Empty for the system roles.")
    name = models.CharField(max_length=50, validators=[role_name_validator])
    description = models.CharField(max_length=500, blank=True)
    # Custom roles only; a system role's permissions are fixed in apps/rbac/roles.py.
    permissions = models.JSONField(default=list, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.RESTRICT, related_name="children",
                               help_text="This role also holds every permission of its parent.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="rbac_role_name_per_org",
                                    violation_error_message="A role with this name exists."),
            models.UniqueConstraint(Lower("name"), condition=Q(organization__isnull=True),
                                    name="rbac_system_role_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.organization_id is None


class PolicyEffect(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class Policy(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    effect = models.CharField(max_length=5, choices=PolicyEffect.choices)
    priority = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(1000)])
    actions = models.JSONField(default=list, help_text="Permission patterns, `*` allowed: members:*, *:read.")
    resources = models.JSONField(default=list, blank=True,
                                 help_text="`type:id` patterns (team:*, team:<uuid>); empty = any resource or none.")
    subjects = models.JSONField(default=list, blank=True,
                                help_text="user:<id>, team:<id>, role:<name>, apikey:<id> or *; empty = everyone.")
    condition = models.TextField(blank=True,
                                 help_text="A CEL expression over subject, resource, request, organization.")
    enabled = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        constraints = [models.UniqueConstraint("organization", Lower("name"), name="rbac_policy_name_per_org",
                                               violation_error_message="A policy with this name exists.")]
        indexes = [models.Index(fields=["organization", "-priority"], name="rbac_policy_org_priority")]

    def __str__(self) -> str:
        return self.name


class UserObjectGrant(UserObjectPermissionAbstract):
    """guardian's user → permission on one object, tagged with the object's organization."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(UserObjectPermissionAbstract.Meta):
        abstract = False
        indexes = [models.Index(fields=["organization", "user", "content_type", "object_pk"],
                                name="rbac_usergrant_lookup")]


class TeamObjectGrant(GroupObjectPermissionAbstract):
    """guardian's group → permission on one object; the group stands for `team` (one group per team)."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("orgs.Team", on_delete=models.CASCADE, related_name="+")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(GroupObjectPermissionAbstract.Meta):
        abstract = False
        indexes = [models.Index(fields=["organization", "team", "content_type", "object_pk"],
                                name="rbac_teamgrant_lookup")]


class ApiKey(models.Model):
    """An organization's key: `plk_<prefix>_<secret>`; only a keyed hash of the secret is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    # After a rotation the previous secret keeps working until previous_valid_until.
    previous_secret_hash = models.CharField(max_length=64, blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list)
    allowed_ips = models.JSONField(default=list, blank=True, help_text="CIDRs; empty = any address.")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="rbac_apikey_org_created")]

    def __str__(self) -> str:
        return f"{self.name} (plk_{self.prefix}_…)"
