"""Object grants through the API (API.md "Access control"): a permission on exactly one object, to a
member or a team; tenancy (a grant never reaches another organization's object, even a forged row),
no escalation, idempotent duplicates, listing, revoking, and the audit events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Organization, Team
from apps.orgs.roles import system_role_id
from apps.orgs.services.organizations import member_add, member_remove, organization_create
from apps.orgs.services.teams import team_create, team_member_add
from apps.rbac.models import TeamObjectGrant, UserObjectGrant
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    teams: dict[str, Team]
    clients: dict[str, APIClient] = field(default_factory=dict)

    def client(self, who: str) -> APIClient:
        if who == "anonymous":
            return APIClient()
        if who not in self.clients:
            self.clients[who] = signed_in(self.people[who].email)
        return self.clients[who]

    def grants_url(self, org: Organization | None = None) -> str:
        return f"/api/v1/organizations/{(org or self.acme).pk}/grants"


@pytest.fixture
def world() -> World:
    """Acme: owner, admin, viewer, member; teams X, Y (member is in Y). Globex: rival (owner), `both`
    (viewer of Acme and of Globex), team Z."""
    people = {name: UserFactory(email=f"{name}@example.com")
              for name in ("owner", "admin", "viewer", "member", "rival", "both")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme")
    for name, role in (("admin", "admin"), ("viewer", "viewer"), ("member", "member"), ("both", "viewer")):
        member_add(organization=acme, user=people[name], role=role, actor=people["owner"], source="test")
    globex = organization_create(user=people["rival"], name="Globex", slug="globex")
    member_add(organization=globex, user=people["both"], role="viewer", actor=people["rival"], source="test")
    teams = {name: team_create(organization=acme, actor=people["owner"], name=name) for name in ("X", "Y")}
    team_member_add(team=teams["Y"], user_id=people["member"].pk, actor=people["owner"])
    teams["Z"] = team_create(organization=globex, actor=people["rival"], name="Z")
    return World(acme=acme, globex=globex, people=people, teams=teams)


def body(world: World, subject: str, permission: str = "teams:manage", team: str = "X", *,
         subject_type: str = "user") -> dict:
    subject_id = str(world.teams[subject].pk if subject_type == "team" else world.people[subject].pk)
    return {"subject": {"type": subject_type, "id": subject_id}, "permission": permission,
            "resource": {"type": "team", "id": str(world.teams[team].pk)}}


def rename(world: World, who: str, team: str, name: str) -> int:
    return world.client(who).patch(f"/api/v1/teams/{world.teams[team].pk}", {"name": name},
                                   format="json").status_code


def snapshot() -> tuple:
    """Everything a grant call could change: both grant tables and the grant events."""
    return (sorted(UserObjectGrant.objects.values_list("organization__slug", "user__email", "permission__codename",
                                                       "object_pk")),
            sorted(TeamObjectGrant.objects.values_list("organization__slug", "team__name", "permission__codename",
                                                       "object_pk")),
            AuditEvent.objects.filter(action__startswith="grant.").count())


def test_a_grant_on_team_x_lets_a_viewer_manage_x_only_until_it_is_revoked(world: World) -> None:
    assert rename(world, "viewer", "X", "X1") == 403
    response = world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json")
    assert response.status_code == 201, response.content
    assert response.json() | {"created_at": None} == {
        "subject": {"type": "user", "id": str(world.people["viewer"].pk)}, "permission": "teams:manage",
        "resource": {"type": "team", "id": str(world.teams["X"].pk)},
        "granted_by": str(world.people["owner"].pk), "created_at": None}

    assert rename(world, "viewer", "X", "X1") == 200  # the very next request
    x_members = f"/api/v1/teams/{world.teams['X'].pk}/members/{world.people['member'].pk}"
    assert world.client("viewer").put(x_members).status_code == 201
    assert rename(world, "viewer", "Y", "Y1") == 403
    assert world.client("viewer").post(f"/api/v1/organizations/{world.acme.pk}/teams", {"name": "New"},
                                       format="json").status_code == 403  # a grant on X is not teams:manage
    assert Team.objects.filter(organization=world.acme).count() == 2

    revoked = world.client("owner").delete(world.grants_url(), body(world, "viewer"), format="json")
    assert revoked.status_code == 204, revoked.content
    assert rename(world, "viewer", "X", "X2") == 403
    assert not UserObjectGrant.objects.exists()

    created, deleted = AuditEvent.objects.filter(organization_id=world.acme.pk,
                                                 action__startswith="grant.").order_by("seq")
    expected = {"subject_type": "user", "subject_id": str(world.people["viewer"].pk), "permission": "teams:manage",
                "resource_type": "team", "resource_id": str(world.teams["X"].pk)}
    assert (created.action, created.metadata) == ("grant.created", expected)
    assert (deleted.action, deleted.metadata) == ("grant.deleted", expected)
    assert (created.target_type, created.target_id) == ("team", str(world.teams["X"].pk))


def test_the_grant_is_a_guardian_row_with_our_code_on_the_objects_content_type(world: World) -> None:
    world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json")
    row = UserObjectGrant.objects.select_related("permission").get()
    team_type = ContentType.objects.get_for_model(Team)
    assert (row.organization_id, row.user_id, row.object_pk) == (
        world.acme.pk, world.people["viewer"].pk, str(world.teams["X"].pk))
    assert (row.permission.codename, row.permission.content_type, row.content_type) == (
        "teams:manage", team_type, team_type)
    assert row.permission.name == "Create, change and delete teams and their membership."
    assert row.granted_by_id == world.people["owner"].pk


def test_a_grant_to_a_team_counts_for_its_members_and_goes_with_the_team(world: World) -> None:
    response = world.client("owner").post(world.grants_url(), body(world, "Y", subject_type="team"), format="json")
    assert response.status_code == 201, response.content
    row = TeamObjectGrant.objects.get()
    assert (row.team_id, row.group.name) == (world.teams["Y"].pk, f"plinto-team:{world.teams['Y'].pk}")
    assert rename(world, "member", "X", "X1") == 200  # member is in team Y
    assert rename(world, "viewer", "X", "X2") == 403  # viewer is not
    assert world.client("owner").delete(f"/api/v1/teams/{world.teams['Y'].pk}").status_code == 204
    assert not TeamObjectGrant.objects.exists()  # cascaded with the team
    assert rename(world, "member", "X", "X3") == 403
    assert Group.objects.filter(name=f"plinto-team:{world.teams['Y'].pk}").exists()  # orphan, harmless


def test_a_duplicate_grant_is_idempotent(world: World) -> None:
    first = world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json")
    again = world.client("admin").post(world.grants_url(), body(world, "viewer"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # the existing grant, still granted by the owner
    assert UserObjectGrant.objects.count() == 1
    assert AuditEvent.objects.filter(action="grant.created").count() == 1
    assert Permission.objects.filter(codename="teams:manage").count() == 1


@pytest.mark.parametrize(("_case", "change", "status", "code"), [
    ("unknown permission", {"permission": "teams:fly"}, 400, "validation_failed"),
    ("pattern, not a code", {"permission": "teams:*"}, 400, "validation_failed"),
    ("unknown resource type", {"resource": {"type": "spaceship", "id": "x"}}, 400, "validation_failed"),
    ("unknown subject type", {"subject": {"type": "robot", "id": "x"}}, 400, "validation_failed"),
    ("resource id not a uuid", {"resource": {"type": "team", "id": "not-a-uuid"}}, 404, "not_found"),
    ("missing team", {"resource": {"type": "team", "id": str(uuid.uuid4())}}, 404, "not_found"),
    ("missing member", {"subject": {"type": "user", "id": str(uuid.uuid4())}}, 404, "not_found"),
    ("missing subject team", {"subject": {"type": "team", "id": str(uuid.uuid4())}}, 404, "not_found"),
])
def test_invalid_grants_are_refused_and_write_nothing(world: World, _case: str, change: dict, status: int,
                                                      code: str) -> None:
    before = snapshot()
    response = world.client("owner").post(world.grants_url(), body(world, "viewer") | change, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert snapshot() == before


def test_another_organizations_objects_members_and_teams_answer_404(world: World) -> None:
    before = snapshot()
    attempts = {
        "their team as the resource": body(world, "viewer", team="Z"),
        "their owner as the subject": body(world, "rival"),
        "their team as the subject": body(world, "Z", subject_type="team"),
        "their organization as the resource": body(world, "viewer", "org:update") | {
            "resource": {"type": "organization", "id": str(world.globex.pk)}},
    }
    for case, attempt in attempts.items():
        response = world.client("owner").post(world.grants_url(), attempt, format="json")
        assert response.status_code == 404, (case, response.content)
    assert snapshot() == before
    assert rename(world, "viewer", "Z", "Mine") == 404 and rename(world, "both", "Z", "Mine") == 403
    # and through Globex's own URL, Acme's owner is a stranger
    assert world.client("owner").post(world.grants_url(world.globex), body(world, "both", team="Z"),
                                      format="json").status_code == 404
    assert snapshot() == before


def test_a_forged_row_tagged_with_my_organization_never_reaches_another_tenants_team(world: World) -> None:
    team_type = ContentType.objects.get_for_model(Team)
    permission, _ = Permission.objects.get_or_create(content_type=team_type, codename="teams:manage",
                                                     defaults={"name": "teams:manage"})
    for who in ("viewer", "both"):  # written straight into the database: no service would accept it
        UserObjectGrant.objects.create(organization=world.acme, user=world.people[who], permission=permission,
                                       content_type=team_type, object_pk=str(world.teams["Z"].pk))
    assert rename(world, "viewer", "Z", "Taken") == 404  # not a member of Globex at all
    assert rename(world, "both", "Z", "Taken") == 403  # a Globex viewer: Globex's decision ignores Acme's rows
    both_in_z = f"/api/v1/teams/{world.teams['Z'].pk}/members/{world.people['both'].pk}"
    assert world.client("both").put(both_in_z).status_code == 403
    assert Team.objects.get(pk=world.teams["Z"].pk).name == "Z" and not world.teams["Z"].team_memberships.exists()


@pytest.mark.parametrize(("_case", "who", "grant"), [
    ("admin: org:delete on the organization", "admin", {"permission": "org:delete", "resource": "organization"}),
    ("admin: billing:manage on a team", "admin", {"permission": "billing:manage", "resource": "team"}),
    ("grants manager without teams:manage", "member", {"permission": "teams:manage", "resource": "team"}),
])
def test_nobody_grants_what_they_do_not_hold(world: World, _case: str, who: str, grant: dict) -> None:
    # `member` holds grants:manage through a custom role, and member's reads, but not teams:manage
    world.client("owner").post(f"/api/v1/organizations/{world.acme.pk}/roles",
                               {"name": "granter", "permissions": ["grants:manage"], "parent": "member"},
                               format="json")
    world.client("owner").patch(f"/api/v1/organizations/{world.acme.pk}/members/{world.people['member'].pk}",
                                {"role": "granter"}, format="json")
    resource = ({"type": "organization", "id": str(world.acme.pk)} if grant["resource"] == "organization"
                else {"type": "team", "id": str(world.teams["X"].pk)})
    before = snapshot()
    response = world.client(who).post(world.grants_url(), body(world, who, grant["permission"]) | {
        "resource": resource}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "privilege_escalation"
    assert response.json()["permissions"] == [grant["permission"]]
    assert snapshot() == before


def test_a_grantee_holding_grants_manage_may_pass_on_only_their_own_grant(world: World) -> None:
    world.client("owner").post(world.grants_url(), body(world, "viewer") | {"permission": "grants:manage",
                               "resource": {"type": "organization", "id": str(world.acme.pk)}}, format="json")
    assert world.client("viewer").post(world.grants_url(), body(world, "member"), format="json").status_code == 403
    world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json")  # teams:manage on X
    assert world.client("viewer").post(world.grants_url(), body(world, "member"), format="json").status_code == 201
    assert world.client("viewer").post(world.grants_url(), body(world, "member", team="Y"),
                                       format="json").status_code == 403


def test_grants_need_grants_manage_even_to_list(world: World) -> None:
    world.client("owner").post(world.grants_url(), body(world, "member"), format="json")
    before = snapshot()
    for who, status in (("viewer", 403), ("member", 403), ("rival", 404), ("anonymous", 401)):
        client = world.client(who)
        assert client.get(world.grants_url()).status_code == status
        assert client.post(world.grants_url(), body(world, "viewer"), format="json").status_code == status
        assert client.delete(world.grants_url(), body(world, "member"), format="json").status_code == status
    assert snapshot() == before
    assert world.client("admin").get(world.grants_url()).status_code == 200


def test_revoking_a_grant_that_is_not_here_answers_404_and_touches_nothing(world: World) -> None:
    world.client("rival").post(world.grants_url(world.globex), body(world, "both", team="Z"), format="json")
    world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json")
    before = snapshot()
    owner = world.client("owner")
    for attempt in (body(world, "both", team="Z"),  # Globex's grant, through Acme's URL
                    body(world, "viewer", "teams:read"),  # another permission
                    body(world, "viewer", team="Y"),  # another object
                    body(world, "viewer") | {"subject": {"type": "user", "id": "nope"}}):
        response = owner.delete(world.grants_url(), attempt, format="json")
        assert response.status_code == 404, response.content
    assert snapshot() == before


def test_a_departed_member_loses_their_grants_and_does_not_get_them_back_on_rejoining(world: World) -> None:
    assert world.client("owner").post(world.grants_url(), body(world, "viewer"), format="json").status_code == 201
    assert rename(world, "viewer", "X", "X2") == 200
    member_remove(organization=world.acme, member=world.acme.memberships.get(user=world.people["viewer"]),
                  actor=world.people["owner"])
    assert not UserObjectGrant.objects.exists()
    revoked = AuditEvent.objects.filter(organization_id=world.acme.pk, action="grant.deleted").get()
    assert (revoked.actor_type, revoked.metadata["subject_id"], revoked.metadata["permission"]) == \
        ("system", str(world.people["viewer"].pk), "teams:manage")

    member_add(organization=world.acme, user=world.people["viewer"], role="viewer", actor=world.people["owner"],
               source="test")
    assert rename(world, "viewer", "X", "X3") == 403


def test_the_list_filters_and_pages_across_users_and_teams(world: World) -> None:
    owner = world.client("owner")
    made = [body(world, "viewer"), body(world, "viewer", "teams:read", team="Y"), body(world, "member"),
            body(world, "Y", subject_type="team"), body(world, "X", "teams:read", team="Y", subject_type="team")]
    for grant in made:
        assert owner.post(world.grants_url(), grant, format="json").status_code == 201
    world.client("rival").post(world.grants_url(world.globex), body(world, "both", team="Z"), format="json")

    def key(row: dict) -> tuple:
        return (row["subject"]["type"], row["subject"]["id"], row["permission"], row["resource"]["id"])

    expected = sorted(key(g) for g in made)
    seen, cursor = [], None
    for _ in range(5):
        page = owner.get(world.grants_url(), {"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
        seen += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(key(row) for row in seen) == expected and len(seen) == 5  # all of Acme's, once; none of Globex's
    assert [row["created_at"] for row in seen] == sorted(row["created_at"] for row in seen)

    def listed(**params: str) -> list[tuple]:
        response = owner.get(world.grants_url(), params)
        assert response.status_code == 200, response.content
        return sorted(key(row) for row in response.json()["results"])

    assert {k[0] for k in listed(subject_type="team")} == {"team"} and len(listed(subject_type="team")) == 2
    assert listed(subject_type="user", subject_id=str(world.people["viewer"].pk)) == sorted(
        key(g) for g in made[:2])
    assert len(listed(resource_type="team", resource_id=str(world.teams["Y"].pk))) == 2
    assert listed(resource_type="organization") == [] and listed(resource_id="not-a-uuid") == []
    assert owner.get(world.grants_url(), {"resource_type": "spaceship"}).status_code == 400
    assert owner.get(world.grants_url(), {"cursor": "garbage"}).status_code == 400


def test_an_api_key_grants_only_within_its_scopes_and_is_recorded_as_the_actor(world: World) -> None:
    made = world.client("owner").post(f"/api/v1/organizations/{world.acme.pk}/api-keys",
                                      {"name": "CI", "scopes": ["grants:manage", "teams:read"]}, format="json")
    assert made.status_code == 201, made.content
    key = APIClient()
    key.credentials(HTTP_AUTHORIZATION=f"Bearer {made.json()['key']}")
    before = snapshot()
    refused = key.post(world.grants_url(), body(world, "viewer"), format="json")  # teams:manage is out of scope
    assert refused.status_code == 403 and refused.json()["code"] == "privilege_escalation"
    assert snapshot() == before
    granted = key.post(world.grants_url(), body(world, "viewer", "teams:read"), format="json")
    assert granted.status_code == 201, granted.content
    assert granted.json()["granted_by"] is None
    assert AuditEvent.objects.get(action="grant.created").actor_type == "api_key"


def test_a_grant_on_one_role_lets_its_holder_edit_that_role_only(world: World) -> None:
    roles_url = f"/api/v1/organizations/{world.acme.pk}/roles"
    ids = {}
    for name in ("readers", "others"):
        response = world.client("owner").post(roles_url, {"name": name, "permissions": ["teams:read"]}, format="json")
        ids[name] = response.json()["id"]
    grant = body(world, "member", "roles:manage") | {"resource": {"type": "role", "id": ids["readers"]}}
    assert world.client("owner").post(world.grants_url(), grant, format="json").status_code == 201
    member = world.client("member")
    assert member.patch(f"/api/v1/roles/{ids['readers']}", {"description": "Read teams"},
                        format="json").status_code == 200
    assert member.patch(f"/api/v1/roles/{ids['others']}", {"description": "Mine"}, format="json").status_code == 403
    assert member.post(roles_url, {"name": "new-role", "permissions": []}, format="json").status_code == 403
    # a system role is no object of the organization: nothing to grant on
    system = body(world, "member", "roles:manage") | {"resource": {"type": "role", "id": str(system_role_id("admin"))}}
    assert world.client("owner").post(world.grants_url(), system, format="json").status_code == 404
