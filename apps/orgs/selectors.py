"""Reads, always scoped to the caller's organizations: another tenant's object answers 404."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet

from apps.accounts.models import User
from apps.orgs.errors import MemberNotFound, OrganizationNotFound
from apps.orgs.models import Membership, MembershipStatus, Organization
from apps.orgs.roles import SystemRole, system_role_id


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, ValidationError):
        return None


def membership_get(*, organization_id: object, user: User) -> Membership:
    """The caller's active membership of a live organization; 404 for strangers and unknown ids alike."""
    org_id = _uuid_or_none(organization_id)
    membership = None
    if org_id is not None and user.is_authenticated:
        membership = (Membership.objects.select_related("organization", "role")
                      .filter(organization_id=org_id, user=user, status=MembershipStatus.ACTIVE,
                              organization__deleted_at__isnull=True).first())
    if membership is None:
        raise OrganizationNotFound("No such organization.")
    return membership


def organization_list_for_user(*, user: User) -> QuerySet[Membership]:
    return (Membership.objects.select_related("organization", "role")
            .filter(user=user, status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True)
            .order_by("organization__name"))


def organization_get_by_slug(*, slug: str, user: User) -> Membership:
    membership = (Membership.objects.select_related("organization", "role")
                  .filter(organization__slug__iexact=slug, user=user, status=MembershipStatus.ACTIVE,
                          organization__deleted_at__isnull=True).first())
    if membership is None:
        raise OrganizationNotFound("No such organization.")
    return membership


def member_list(*, organization: Organization) -> QuerySet[Membership]:
    return (Membership.objects.filter(organization=organization).select_related("user", "role")
            .order_by("joined_at"))


def member_get(*, organization: Organization, user_id: object) -> Membership:
    user_uuid = _uuid_or_none(user_id)
    member = (Membership.objects.select_related("user", "role")
              .filter(organization=organization, user_id=user_uuid).first() if user_uuid else None)
    if member is None:
        raise MemberNotFound("No such member.")
    return member


def owner_count(*, organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role_id=system_role_id(SystemRole.OWNER),
                                     status=MembershipStatus.ACTIVE).count()


def member_counts(*, organization_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = (Membership.objects.filter(organization_id__in=organization_ids, status=MembershipStatus.ACTIVE)
            .values("organization_id").annotate(n=Count("id")))
    return {row["organization_id"]: row["n"] for row in rows}


def users_share_organization(viewer: User, user: User) -> bool:
    mine = Membership.objects.filter(user=viewer, status=MembershipStatus.ACTIVE,
                                     organization__deleted_at__isnull=True).values("organization_id")
    return Membership.objects.filter(user=user, organization_id__in=mine, status=MembershipStatus.ACTIVE).exists()


def sole_owned_organizations(user: User) -> list[Organization]:
    """Organizations in which `user` is the only active owner (they block deleting the account)."""
    owned = Membership.objects.filter(user=user, role_id=system_role_id(SystemRole.OWNER),
                                      status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True
                                      ).select_related("organization", "role")
    return [m.organization for m in owned if owner_count(organization=m.organization) == 1]
