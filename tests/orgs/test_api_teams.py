"""Teams through the API: CRUD, names unique per organization, roles, membership, tenancy and permissions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Organization, Team, TeamMembership
from apps.orgs.services.organizations import member_add, organization_create, organization_delete
from apps.orgs.services.teams import team_create, team_member_add
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    team: Team


@pytest.fixture
def world() -> World:
    """Acme (owner, admin, member, viewer) with team "Core" holding the member; Globex owned by a rival."""
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("owner", "admin", "member", "viewer",
                                                                          "rival")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme")
    for name in ("admin", "member", "viewer"):
        member_add(organization=acme, user=people[name], role=name, actor=people["owner"], source="test")
    globex = organization_create(user=people["rival"], name="Globex", slug="globex")
    team = team_create(organization=acme, actor=people["owner"], name="Core", description="The core team")
    team_member_add(team=team, user_id=people["member"].pk, actor=people["owner"])
    return World(acme=acme, globex=globex, people=people, team=team)


def client_of(world: World, who: str) -> APIClient:
    return APIClient() if who == "anonymous" else signed_in(world.people[who].email)


def snapshot() -> tuple:
    """Everything a team call could change: teams, who is in them, and the team events."""
    return (sorted(Team.objects.values_list("organization_id", "name", "description", "role")),
            sorted(TeamMembership.objects.values_list("team__name", "membership__user__email")),
            AuditEvent.objects.filter(action__startswith="team.").count())


def test_team_crud_round_trip_emits_each_event_in_the_org_chain(world: World) -> None:
    admin = client_of(world, "admin")
    created = admin.post(f"/api/v1/organizations/{world.acme.pk}/teams",
                         {"name": "Platform", "description": "Infra", "role": "viewer"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("organization_id", "name", "description", "role", "member_count")} == {
        "organization_id": str(world.acme.pk), "name": "Platform", "description": "Infra", "role": "viewer",
        "member_count": 0}
    team_url = f"/api/v1/teams/{body['id']}"

    assert admin.get(team_url).json()["name"] == "Platform"
    patched = admin.patch(team_url, {"name": "Platform Eng", "role": None}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["role"], patched.json()["description"]) == (
        "Platform Eng", None, "Infra")
    assert Team.objects.get(pk=body["id"]).role is None

    assert admin.delete(team_url).status_code == 204
    assert not Team.objects.filter(pk=body["id"]).exists()
    assert admin.get(team_url).status_code == 404

    events = AuditEvent.objects.filter(target_id=body["id"]).order_by("occurred_at", "seq")
    assert [(e.action, str(e.organization_id), e.actor_email) for e in events] == [
        ("team.created", str(world.acme.pk), "admin@example.com"),
        ("team.updated", str(world.acme.pk), "admin@example.com"),
        ("team.deleted", str(world.acme.pk), "admin@example.com"),
    ]
    assert events[1].changes == {"name": ["Platform", "Platform Eng"], "role": ["viewer", None]}
    assert events[0].metadata == {"name": "Platform", "role": "viewer"}


def test_team_list_is_scoped_to_the_org_and_paginated(world: World) -> None:
    team_create(organization=world.globex, actor=world.people["rival"], name="Rivals")
    for name in ("B-team", "C-team"):
        team_create(organization=world.acme, actor=world.people["owner"], name=name)
    viewer = client_of(world, "viewer")
    first = viewer.get(f"/api/v1/organizations/{world.acme.pk}/teams?limit=2")
    assert first.status_code == 200
    assert [t["name"] for t in first.json()["results"]] == ["Core", "B-team"]
    assert first.json()["results"][0]["member_count"] == 1
    cursor = first.json()["next_cursor"]
    second = viewer.get(f"/api/v1/organizations/{world.acme.pk}/teams", {"limit": 2, "cursor": cursor}).json()
    assert ([t["name"] for t in second["results"]], second["next_cursor"]) == (["C-team"], None)


@pytest.mark.parametrize("name", ["core", "CORE", " Core "])
def test_team_names_are_unique_per_org_case_insensitively(world: World, name: str) -> None:
    admin = client_of(world, "admin")
    response = admin.post(f"/api/v1/organizations/{world.acme.pk}/teams", {"name": name}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "team_name_taken")
    assert Team.objects.filter(organization=world.acme).count() == 1


def test_the_same_team_name_is_free_in_another_org_and_renaming_onto_a_taken_name_conflicts(world: World) -> None:
    rival = client_of(world, "rival")
    assert rival.post(f"/api/v1/organizations/{world.globex.pk}/teams", {"name": "Core"},
                      format="json").status_code == 201
    other = team_create(organization=world.acme, actor=world.people["owner"], name="Other")
    response = client_of(world, "admin").patch(f"/api/v1/teams/{other.pk}", {"name": "cOrE"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "team_name_taken")
    other.refresh_from_db()
    assert other.name == "Other"


@pytest.mark.parametrize(("_case", "payload", "status", "code"), [
    ("unknown role", {"name": "X", "role": "wizard"}, 400, "unknown_role"),
    ("owner role", {"name": "X", "role": "owner"}, 400, "validation_failed"),
    ("no name", {"description": "nameless"}, 400, "validation_failed"),
    ("blank name", {"name": "  "}, 400, "validation_failed"),
    ("long name", {"name": "x" * 101}, 400, "validation_failed"),
])
def test_team_create_refuses_bad_input_and_writes_nothing(world: World, _case: str, payload: dict, status: int,
                                                          code: str) -> None:
    before = snapshot()
    response = client_of(world, "admin").post(f"/api/v1/organizations/{world.acme.pk}/teams", payload,
                                              format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response["Content-Type"] == "application/problem+json"
    assert snapshot() == before


def test_team_update_refuses_an_unknown_role(world: World) -> None:
    response = client_of(world, "admin").patch(f"/api/v1/teams/{world.team.pk}", {"role": "wizard"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_role")
    world.team.refresh_from_db()
    assert world.team.role is None


def test_put_member_is_idempotent_and_delete_takes_them_out(world: World) -> None:
    admin = client_of(world, "admin")
    viewer_id = world.people["viewer"].pk
    url = f"/api/v1/teams/{world.team.pk}/members/{viewer_id}"

    first = admin.put(url)
    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("user_id", "email", "org_role")} == {
        "user_id": str(viewer_id), "email": "viewer@example.com", "org_role": "viewer"}
    assert admin.put(url).status_code == 200
    assert TeamMembership.objects.filter(team=world.team, membership__user=world.people["viewer"]).count() == 1
    members = admin.get(f"/api/v1/teams/{world.team.pk}/members").json()
    assert [m["email"] for m in members["results"]] == ["member@example.com", "viewer@example.com"]
    assert admin.get(f"/api/v1/teams/{world.team.pk}").json()["member_count"] == 2

    assert admin.delete(url).status_code == 204
    assert not TeamMembership.objects.filter(team=world.team, membership__user=world.people["viewer"]).exists()
    again = admin.delete(url)
    assert (again.status_code, again.json()["code"]) == (404, "member_not_found")

    events = AuditEvent.objects.filter(action__in=["team.member_added", "team.member_removed"],
                                       target_id=str(viewer_id)).order_by("occurred_at", "seq")
    assert [(e.action, str(e.organization_id), e.metadata) for e in events] == [
        ("team.member_added", str(world.acme.pk), {"team_id": str(world.team.pk)}),
        ("team.member_removed", str(world.acme.pk), {"team_id": str(world.team.pk)}),
    ]


@pytest.mark.parametrize("_case", ["member of another org", "unknown user", "not a uuid"])
def test_put_member_requires_a_member_of_the_teams_org(world: World, _case: str) -> None:
    user_id = {"member of another org": world.people["rival"].pk, "unknown user": uuid.uuid4(),
               "not a uuid": "nope"}[_case]
    before = snapshot()
    response = client_of(world, "admin").put(f"/api/v1/teams/{world.team.pk}/members/{user_id}")
    assert (response.status_code, response.json()["code"]) == (404, "member_not_found")
    assert snapshot() == before


def test_deleting_a_team_keeps_its_people_in_the_org(world: World) -> None:
    assert client_of(world, "owner").delete(f"/api/v1/teams/{world.team.pk}").status_code == 204
    assert world.acme.memberships.filter(user=world.people["member"]).exists()
    assert not TeamMembership.objects.exists()


def test_teams_of_a_deleted_org_are_gone(world: World) -> None:
    organization_delete(organization=world.acme, actor=world.people["owner"])
    assert client_of(world, "owner").get(f"/api/v1/teams/{world.team.pk}").status_code == 404


# Permission matrix ---------------------------------------------------------------------------------

def _calls(world: World) -> dict[str, tuple[str, str, dict | None]]:
    team, org = world.team.pk, world.acme.pk
    return {
        "list": ("get", f"/api/v1/organizations/{org}/teams", None),
        "get": ("get", f"/api/v1/teams/{team}", None),
        "members": ("get", f"/api/v1/teams/{team}/members", None),
        "create": ("post", f"/api/v1/organizations/{org}/teams", {"name": "New"}),
        "update": ("patch", f"/api/v1/teams/{team}", {"name": "Renamed", "role": "admin"}),
        "delete": ("delete", f"/api/v1/teams/{team}", None),
        "add member": ("put", f"/api/v1/teams/{team}/members/{world.people['viewer'].pk}", None),
        "remove member": ("delete", f"/api/v1/teams/{team}/members/{world.people['member'].pk}", None),
    }


READS = ["list", "get", "members"]
WRITES = ["create", "update", "delete", "add member", "remove member"]
SUCCESS = {"list": 200, "get": 200, "members": 200, "create": 201, "update": 200, "delete": 204,
           "add member": 201, "remove member": 204}
EVENT = {"create": "team.created", "update": "team.updated", "delete": "team.deleted",
         "add member": "team.member_added", "remove member": "team.member_removed"}


DENIED = ([("anonymous", call, 401, "not_authenticated") for call in READS + WRITES]
          + [("rival", call, 404, "not_found") for call in READS + WRITES]
          + [(who, call, 403, "permission_denied") for who in ("viewer", "member") for call in WRITES])


@pytest.mark.parametrize(("who", "call", "status", "code"), DENIED)
def test_denied_callers_change_nothing(world: World, who: str, call: str, status: int, code: str) -> None:
    method, url, data = _calls(world)[call]
    before = snapshot()
    response = getattr(client_of(world, who), method)(url, data, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    if status == 403:
        assert response.json()["permission"] == "teams:manage"
    assert snapshot() == before


@pytest.mark.parametrize("who", ["viewer", "member", "admin", "owner"])
@pytest.mark.parametrize("call", READS)
def test_every_member_with_teams_read_may_read(world: World, who: str, call: str) -> None:
    method, url, data = _calls(world)[call]
    assert getattr(client_of(world, who), method)(url).status_code == 200


@pytest.mark.parametrize("who", ["admin", "owner"])
@pytest.mark.parametrize("call", WRITES)
def test_admins_and_owners_may_write(world: World, who: str, call: str) -> None:
    method, url, data = _calls(world)[call]
    before = set(AuditEvent.objects.values_list("id", flat=True))
    response = getattr(client_of(world, who), method)(url, data, format="json")
    assert response.status_code == SUCCESS[call], response.content
    new = AuditEvent.objects.exclude(id__in=before).filter(action__startswith="team.")
    assert [(e.action, e.actor_email, e.organization_id) for e in new] == [
        (EVENT[call], f"{who}@example.com", world.acme.pk)]


def test_billing_role_lacks_teams_read(world: World) -> None:
    billing = UserFactory(email="billing@example.com")
    member_add(organization=world.acme, user=billing, role="billing", actor=world.people["owner"], source="test")
    response = signed_in("billing@example.com").get(f"/api/v1/teams/{world.team.pk}")
    assert (response.status_code, response.json()["permission"]) == (403, "teams:read")


@pytest.mark.parametrize("suffix", ["", "/members", f"/members/{uuid.uuid4()}"])
def test_another_orgs_team_answers_exactly_like_a_missing_one(world: World, suffix: str) -> None:
    rival = client_of(world, "rival")
    method = "put" if suffix.count("/") == 2 else "get"
    foreign = getattr(rival, method)(f"/api/v1/teams/{world.team.pk}{suffix}").json()
    missing = getattr(rival, method)(f"/api/v1/teams/{uuid.uuid4()}{suffix}").json()
    ignore = {"instance", "request_id"}
    assert {k: v for k, v in foreign.items() if k not in ignore} == {k: v for k, v in missing.items()
                                                                     if k not in ignore}
    assert foreign["status"] == 404
