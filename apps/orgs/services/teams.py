"""Teams of an organization and who is in them. Every change is audited in the organization's chain.

A team's name is unique per organization, case-insensitively (database constraint). A team may hold
a role (a role name, as everywhere), never `owner`: owners are made explicitly, one person at a time.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from apps.accounts.models import User
from apps.audit.services import emit
from apps.core.errors import Conflict, ResourceNotFound
from apps.orgs.errors import MemberNotFound
from apps.orgs.models import Membership, MembershipStatus, Organization, Team, TeamMembership
from apps.orgs.roles import SystemRole, system_role_id
from apps.orgs.selectors import member_get
from apps.orgs.services.organizations import role_validate

TEAM_FIELDS = ("name", "description", "role")


class TeamNotFound(ResourceNotFound):
    title = "Team not found"


class TeamNameTaken(Conflict):
    code, title = "team_name_taken", "Team name taken"


class TeamMemberNotFound(MemberNotFound):
    code = "member_not_found"


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


# Reads ---------------------------------------------------------------------------------------------

def team_get_for_user(*, team_id: object, user: User) -> Team:
    """A team of one of the user's live organizations; 404 for unknown ids and other tenants' teams alike."""
    pk = _uuid_or_none(team_id)
    team = None
    if pk is not None and user.is_authenticated:
        team = (Team.objects.select_related("organization")
                .filter(pk=pk, organization__deleted_at__isnull=True,
                        organization__memberships__user=user,
                        organization__memberships__status=MembershipStatus.ACTIVE)
                .annotate(member_count=Count("team_memberships", distinct=True)).first())
    if team is None:
        raise TeamNotFound("No such team.")
    return team


def team_get_in_organization(*, team_id: object, organization_id: object) -> Team:
    """A team of this live organization (an API key's); 404 for unknown ids and other tenants' teams alike."""
    pk = _uuid_or_none(team_id)
    team = (Team.objects.select_related("organization")
            .filter(pk=pk, organization_id=organization_id, organization__deleted_at__isnull=True)
            .annotate(member_count=Count("team_memberships", distinct=True)).first()) if pk is not None else None
    if team is None:
        raise TeamNotFound("No such team.")
    return team


def team_list(*, organization: Organization) -> QuerySet[Team]:
    return Team.objects.filter(organization=organization).annotate(member_count=Count("team_memberships"))


def team_member_list(*, team: Team) -> QuerySet[TeamMembership]:
    return TeamMembership.objects.filter(team=team).select_related("membership__user")


# Writes --------------------------------------------------------------------------------------------

def _team_role(role: str | None, organization: Organization):  # noqa: ANN202 - an apps.rbac Role or None
    if not role:
        return None
    role = role_validate(role, organization=organization)
    if role.pk == system_role_id(SystemRole.OWNER):
        raise ValidationError({"role": ["A team cannot hold the owner role: owners are made one by one."]})
    return role


def _save(team: Team, **kwargs: Any) -> None:
    team.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            team.save(**kwargs)
    except IntegrityError:
        raise TeamNameTaken(f"A team named {team.name!r} exists in this organization.") from None


@transaction.atomic
def team_create(*, organization: Organization, actor: User, name: str, description: str = "",
                role: str | None = None) -> Team:
    team = Team(organization=organization, name=name.strip(), description=description,
                role=_team_role(role, organization))
    _save(team)
    emit(action="team.created", actor=actor, organization_id=organization.pk, target=team,
         metadata={"name": team.name, "role": team.role.name if team.role else None})
    team.member_count = 0
    return team


@transaction.atomic
def team_update(*, team: Team, actor: User, data: dict[str, Any]) -> Team:
    data = {k: v for k, v in data.items() if k in TEAM_FIELDS}
    if "name" in data:
        data["name"] = data["name"].strip()
    if "role" in data:
        data["role"] = _team_role(data["role"], team.organization)
    if "description" in data and data["description"] is None:
        data["description"] = ""
    changes = {k: [getattr(team, k), v] for k, v in data.items() if getattr(team, k) != v}
    if not changes:
        return team
    for name, (_, new) in changes.items():
        setattr(team, name, new)
    _save(team, update_fields=[*changes, "updated_at"])
    if "role" in changes:  # the audit trail records role names, as the API shows them
        changes["role"] = [role.name if role else None for role in changes["role"]]
    emit(action="team.updated", actor=actor, organization_id=team.organization_id, target=team, changes=changes)
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: User) -> None:
    organization_id, name = team.organization_id, team.name
    emit(action="team.deleted", actor=actor, organization_id=organization_id, target=team, metadata={"name": name})
    team.delete()


def _org_member(team: Team, user_id: object) -> Membership:
    try:
        return member_get(organization=team.organization, user_id=user_id)
    except MemberNotFound:
        raise TeamMemberNotFound("No such member in this team's organization.") from None


@transaction.atomic
def team_member_add(*, team: Team, user_id: object, actor: User) -> tuple[TeamMembership, bool]:
    """Put a member of the team's organization in the team; (row, created). Adding twice changes nothing."""
    member = _org_member(team, user_id)
    try:
        with transaction.atomic():
            row = TeamMembership.objects.create(team=team, membership=member)
    except IntegrityError:
        return TeamMembership.objects.select_related("membership__user").get(team=team, membership=member), False
    emit(action="team.member_added", actor=actor, organization_id=team.organization_id, target=member.user,
         metadata={"team_id": str(team.pk)})
    return row, True


@transaction.atomic
def team_member_remove(*, team: Team, user_id: object, actor: User) -> None:
    member = _org_member(team, user_id)
    deleted, _ = TeamMembership.objects.filter(team=team, membership=member).delete()
    if not deleted:
        raise TeamMemberNotFound("This user is not in the team.")
    emit(action="team.member_removed", actor=actor, organization_id=team.organization_id, target=member.user,
         metadata={"team_id": str(team.pk)})
