"""Organizations (tenants), their memberships, teams, invitations and verified domains.

Our own models rather than django-organizations' (docs/organizations.md says why: its single owner
row, boolean admin flag and integer-pk invitation URLs do not fit named roles, several owners and
UUID users).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper

from apps.audit.models import SinkKind
from apps.orgs.roles import default_member_role_id

slug_validator = RegexValidator(r"^[a-z0-9-]{3,50}$", "3–50 lowercase letters, digits or hyphens.", code="invalid_slug")


class OrganizationQuerySet(models.QuerySet):
    def alive(self) -> OrganizationQuerySet:
        return self.filter(deleted_at__isnull=True)


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.CharField(max_length=50, validators=[slug_validator])
    mfa_required = models.BooleanField(default=False, help_text="Members must have a second factor.")
    allowed_email_domains = models.JSONField(default=list, blank=True,
                                             help_text="Only addresses of these domains may be invited.")
    ip_allowlist = models.JSONField(default=list, blank=True, help_text="CIDRs; empty = any address.")
    session_max_age = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds since sign-in after which org calls need a new one.")
    default_role = models.ForeignKey("rbac.Role", on_delete=models.RESTRICT, default=default_member_role_id,
                                     related_name="+", help_text="The role of members who join by a verified domain.")
    # Staff-only (admin), never through the organizations API: apps.audit reads them.
    audit_retention_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1)], help_text="Audit events older than this are pruned.")
    audit_sink = models.CharField(max_length=16, choices=SinkKind.choices, blank=True, default=SinkKind.NONE,
                                  help_text="Stream every committed audit event as a JSON line to a SIEM.")
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Soft-deleted; purged after the grace period.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        # Upper(): `slug__iexact` compiles to UPPER(slug) on PostgreSQL, so lookups by slug use this index.
        constraints = [models.UniqueConstraint(Upper("slug"), name="orgs_organization_slug_ci_unique",
                                               violation_error_message="This slug is taken.")]

    def __str__(self) -> str:
        return self.name


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey("rbac.Role", on_delete=models.RESTRICT, default=default_member_role_id,
                             related_name="memberships")
    status = models.CharField(max_length=10, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    joined_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="orgs_membership_unique")]
        indexes = [models.Index(fields=["user", "organization"], name="orgs_membership_user_org")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id} as {self.role_id}"


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    role = models.ForeignKey("rbac.Role", null=True, blank=True, on_delete=models.RESTRICT, related_name="teams",
                             help_text="A role every member of the team also holds.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint("organization", Lower("name"), name="orgs_team_name_ci_unique",
                                               violation_error_message="A team with this name exists.")]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="team_memberships")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="team_memberships")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "membership"], name="orgs_team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.membership_id} in team {self.team_id}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.ForeignKey("rbac.Role", on_delete=models.RESTRICT, related_name="invitations")
    message = models.CharField(max_length=1000, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint("organization", Lower("email"), condition=Q(status="pending"),
                                               name="orgs_invitation_pending_unique")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization_id}"


class Domain(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)
    verification_token = models.CharField(max_length=64)
    verified_at = models.DateTimeField(null=True, blank=True)
    auto_join = models.BooleanField(default=False, help_text="New users of this domain join as default_role.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("domain"), name="orgs_domain_per_org_unique"),
            models.UniqueConstraint(Lower("domain"), condition=Q(verified_at__isnull=False),
                                    name="orgs_domain_verified_once", violation_error_message="Verified elsewhere."),
        ]

    def __str__(self) -> str:
        return self.domain
