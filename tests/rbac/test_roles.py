"""Custom roles through the API (API.md "Access control"): the permission catalog, CRUD, inheritance,
validation, deletion while in use, privilege escalation (roles and every place that hands out a role),
tenancy, audit events and that a change counts on the very next request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Invitation, InvitationStatus, Membership, Organization, Team
from apps.orgs.roles import system_role_id
from apps.orgs.services.organizations import member_add, organization_create
from apps.orgs.services.teams import team_create, team_member_add
from apps.rbac import catalog
from apps.rbac.models import Role
from apps.rbac.roles import system_role_permissions
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.orgs.factories import InvitationFactory

pytestmark = pytest.mark.django_db

SYSTEM = ["owner", "admin", "member", "viewer", "billing"]


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    clients: dict[str, APIClient] = field(default_factory=dict)

    def client(self, who: str) -> APIClient:
        if who == "anonymous":
            return APIClient()
        if who not in self.clients:
            self.clients[who] = signed_in(self.people[who].email)
        return self.clients[who]

    def roles_url(self, org: Organization | None = None) -> str:
        return f"/api/v1/organizations/{(org or self.acme).pk}/roles"

    def member_url(self, who: str, org: Organization | None = None) -> str:
        return f"/api/v1/organizations/{(org or self.acme).pk}/members/{self.people[who].pk}"


@pytest.fixture
def world() -> World:
    """Acme: owner, admin, member, viewer, billing (and `lead`, a member); Globex: rival (owner), viewer."""
    people = {name: UserFactory(email=f"{name}@example.com")
              for name in ("owner", "admin", "member", "viewer", "billing", "lead", "rival")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme")
    for name in ("admin", "member", "viewer", "billing"):
        member_add(organization=acme, user=people[name], role=name, actor=people["owner"], source="test")
    member_add(organization=acme, user=people["lead"], role="member", actor=people["owner"], source="test")
    globex = organization_create(user=people["rival"], name="Globex", slug="globex")
    member_add(organization=globex, user=people["viewer"], role="viewer", actor=people["rival"], source="test")
    return World(acme=acme, globex=globex, people=people)


def create_role(world: World, body: dict, who: str = "owner", org: Organization | None = None) -> dict:
    response = world.client(who).post(world.roles_url(org), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def role_of(world: World, who: str, org: Organization | None = None) -> str:
    return Membership.objects.select_related("role").get(organization=org or world.acme,
                                                          user=world.people[who]).role.name


def role_events(org: Organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization_id=org.pk, action__startswith="role.").order_by("seq"))


def invite(world: World, who: str, email: str, role: str = "member") -> int:
    return world.client(who).post(f"/api/v1/organizations/{world.acme.pk}/invitations",
                                  {"email": email, "role": role}, format="json").status_code


def snapshot() -> tuple:
    """Everything a role call could change: roles, who holds what, and the role events."""
    return (list(Role.objects.order_by("organization_id", "name")
                 .values_list("organization_id", "name", "description", "permissions", "parent_id")),
            sorted(Membership.objects.values_list("user__email", "organization__slug", "role__name")),
            AuditEvent.objects.filter(action__startswith="role.").count())


# Catalog ----------------------------------------------------------------------------------------------

def test_permission_catalog_lists_every_code_for_any_signed_in_user(world: World) -> None:
    loner = UserFactory(email="loner@example.com")  # in no organization at all
    response = signed_in(loner.email).get("/api/v1/rbac/permissions")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["code"] for row in rows] == sorted(catalog.codes())
    assert {"code": "teams:manage", "description": "Create, change and delete teams and their membership.",
            "resource": "teams"} in rows
    assert APIClient().get("/api/v1/rbac/permissions").status_code == 401


# Listing and reading -------------------------------------------------------------------------------

def test_list_shows_system_roles_with_their_fixed_permissions_then_custom_roles(world: World) -> None:
    create_role(world, {"name": "support", "permissions": ["members:invite"], "parent": "viewer"})
    create_role(world, {"name": "other-org-role", "permissions": []}, who="rival", org=world.globex)
    response = world.client("viewer").get(world.roles_url())  # viewers read roles (roles:read)
    assert response.status_code == 200, response.content
    rows = {row["name"]: row for row in response.json()["results"]}
    assert set(list(rows)[:5]) == set(SYSTEM) and list(rows)[5:] == ["support"]  # never another org's roles
    for name in SYSTEM:
        assert rows[name]["is_system"] is True and rows[name]["parent"] is None
        assert rows[name]["permissions"] == rows[name]["effective_permissions"] == sorted(
            system_role_permissions(name))
        assert rows[name]["id"] == str(system_role_id(name))
    assert rows["owner"]["permissions"] == sorted(catalog.codes())
    assert (rows["owner"]["member_count"], rows["member"]["member_count"], rows["support"]["member_count"]) == (1, 2, 0)
    support = rows["support"]
    assert support["is_system"] is False and support["parent"] == "viewer"
    assert support["permissions"] == ["members:invite"]
    assert support["effective_permissions"] == sorted(system_role_permissions("viewer") | {"members:invite"})


def test_reading_roles_needs_roles_read_and_membership(world: World) -> None:
    assert world.client("billing").get(world.roles_url()).status_code == 403  # billing lacks roles:read
    assert world.client("rival").get(world.roles_url()).status_code == 404
    assert world.client("anonymous").get(world.roles_url()).status_code == 401
    assert world.client("viewer").post(world.roles_url(), {"name": "x1", "permissions": []},
                                       format="json").json()["code"] == "permission_denied"
    assert not Role.objects.filter(name="x1").exists()


def test_a_system_role_reads_for_anyone_signed_in_and_never_changes(world: World) -> None:
    url = f"/api/v1/roles/{system_role_id('admin')}"
    body = world.client("rival").get(url).json()
    assert body["name"] == "admin" and body["is_system"] is True and body["member_count"] is None
    assert body["effective_permissions"] == sorted(system_role_permissions("admin"))
    before = snapshot()
    for response in (world.client("owner").patch(url, {"permissions": []}, format="json"),
                     world.client("owner").delete(url)):
        assert response.status_code == 403 and response.json()["code"] == "system_role_read_only"
    assert snapshot() == before


def test_another_tenants_role_answers_404_like_a_missing_one(world: World) -> None:
    theirs = create_role(world, {"name": "globex-ops", "permissions": ["teams:read"]}, who="rival", org=world.globex)
    before = snapshot()
    owner = world.client("owner")  # owner of Acme only
    for url in (f"/api/v1/roles/{theirs['id']}", f"/api/v1/roles/{uuid.uuid4()}", "/api/v1/roles/not-a-uuid"):
        assert owner.get(url).status_code == 404
        assert owner.patch(url, {"name": "mine-now"}, format="json").status_code == 404
        assert owner.delete(url).status_code == 404
    assert snapshot() == before


# CRUD ------------------------------------------------------------------------------------------------

def test_role_crud_round_trip_records_each_event_in_the_org_chain(world: World) -> None:
    admin = world.client("admin")
    body = create_role(world, {"name": "support", "description": "First line", "permissions":
                               ["members:invite", "members:read", "members:invite"], "parent": "viewer"}, who="admin")
    assert body["permissions"] == ["members:invite", "members:read"]  # deduplicated, sorted
    assert (body["name"], body["description"], body["parent"], body["member_count"]) == (
        "support", "First line", "viewer", 0)
    url = f"/api/v1/roles/{body['id']}"
    assert admin.get(url).json() == body

    changed = admin.patch(url, {"name": "helpdesk", "permissions": ["members:read"], "parent": None}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["parent"], changed.json()["effective_permissions"]) == (
        "helpdesk", None, ["members:read"])
    assert changed.json()["description"] == "First line"  # PATCH leaves what it does not name

    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404 and not Role.objects.filter(pk=body["id"]).exists()

    created, updated, deleted = role_events(world.acme)
    assert (created.action, created.metadata) == ("role.created", {
        "name": "support", "permissions": ["members:invite", "members:read"], "parent": "viewer"})
    assert updated.action == "role.updated" and updated.changes == {
        "name": ["support", "helpdesk"], "permissions": [["members:invite", "members:read"], ["members:read"]],
        "parent": ["viewer", None]}
    assert (deleted.action, deleted.metadata) == ("role.deleted", {"name": "helpdesk"})
    assert {e.actor_id for e in (created, updated, deleted)} == {str(world.people["admin"].pk)}
    assert {e.target_id for e in (created, updated, deleted)} == {body["id"]}


def test_a_patch_that_changes_nothing_records_nothing(world: World) -> None:
    body = create_role(world, {"name": "support", "permissions": ["members:read"]})
    response = world.client("owner").patch(f"/api/v1/roles/{body['id']}", {"permissions": ["members:read"]},
                                           format="json")
    assert response.status_code == 200
    assert [e.action for e in role_events(world.acme)] == ["role.created"]


@pytest.mark.parametrize(("_case", "body", "field", "code"), [
    ("too short", {"name": "a"}, "name", "invalid_role_name"),
    ("uppercase", {"name": "Support"}, "name", "invalid_role_name"),
    ("space", {"name": "first line"}, "name", "invalid_role_name"),
    ("leading dash", {"name": "-ops"}, "name", "invalid_role_name"),
    ("too long", {"name": "a" * 51}, "name", "max_length"),
    ("system role name", {"name": "admin"}, "name", "reserved_role_name"),
    ("another system role name", {"name": "billing"}, "name", "reserved_role_name"),
    ("unknown permission", {"permissions": ["teams:read", "nope:nope", "teams:fly"]}, "permissions",
     "unknown_permission"),
    ("permissions not a list", {"permissions": "teams:read"}, "permissions", "not_a_list"),
    ("unknown parent", {"parent": "ghost"}, "parent", "unknown_role"),
])
def test_invalid_roles_are_refused_and_create_nothing(world: World, _case: str, body: dict, field: str,
                                                      code: str) -> None:
    before = snapshot()
    response = world.client("owner").post(world.roles_url(), {"name": "support", "permissions": [], **body},
                                          format="json")
    assert response.status_code == 400, response.content
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {(field, code)}
    assert snapshot() == before


def test_unknown_permissions_are_named_in_the_error(world: World) -> None:
    response = world.client("owner").post(world.roles_url(), {"name": "support", "permissions": [
        "teams:read", "nope:nope", "teams:fly"]}, format="json")
    assert "nope:nope, teams:fly" in response.json()["errors"][0]["detail"]


def test_names_are_unique_per_organization_but_free_across_organizations(world: World) -> None:
    create_role(world, {"name": "support", "permissions": []})
    before = snapshot()
    again = world.client("admin").post(world.roles_url(), {"name": "support", "permissions": ["teams:read"]},
                                       format="json")
    assert again.status_code == 409 and again.json()["code"] == "role_name_taken"
    assert snapshot() == before
    other = create_role(world, {"name": "ops", "permissions": []})
    before = snapshot()
    rename = world.client("owner").patch(f"/api/v1/roles/{other['id']}", {"name": "support"}, format="json")
    assert rename.status_code == 409 and rename.json()["code"] == "role_name_taken"
    assert snapshot() == before
    create_role(world, {"name": "support", "permissions": []}, who="rival", org=world.globex)


def test_a_parent_from_another_organization_is_unknown(world: World) -> None:
    create_role(world, {"name": "globex-ops", "permissions": ["teams:read"]}, who="rival", org=world.globex)
    response = world.client("owner").post(world.roles_url(), {"name": "support", "permissions": [],
                                                              "parent": "globex-ops"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "unknown_role"
    assert not Role.objects.filter(organization=world.acme).exists()


def test_parents_cannot_form_a_cycle(world: World) -> None:
    a = create_role(world, {"name": "role-a", "permissions": ["teams:read"]})
    create_role(world, {"name": "role-b", "permissions": [], "parent": "role-a"})
    create_role(world, {"name": "role-c", "permissions": [], "parent": "role-b"})
    before = snapshot()
    for parent in ("role-c", "role-b", "role-a"):
        response = world.client("owner").patch(f"/api/v1/roles/{a['id']}", {"parent": parent}, format="json")
        assert response.status_code == 400, (parent, response.content)
        assert response.json()["errors"][0]["code"] == "role_cycle"
    assert snapshot() == before


def test_inheritance_is_at_most_max_depth_levels_for_the_role_and_everything_below_it(world: World) -> None:
    create_role(world, {"name": "level-1", "permissions": [], "parent": "viewer"})  # 1 ancestor: viewer
    for n in range(2, 6):  # level-5 has 5 ancestors (level-4 … level-1, viewer): the most allowed
        create_role(world, {"name": f"level-{n}", "permissions": [], "parent": f"level-{n - 1}"})
    too_deep = world.client("owner").post(world.roles_url(), {"name": "level-6", "permissions": [],
                                                              "parent": "level-5"}, format="json")
    assert too_deep.status_code == 400 and too_deep.json()["errors"][0]["code"] == "role_depth_exceeded"
    top = create_role(world, {"name": "top", "permissions": []})
    create_role(world, {"name": "below-top", "permissions": [], "parent": "top"})
    before = snapshot()
    # top under level-4 has 5 ancestors, fine alone, but below-top would then have 6
    response = world.client("owner").patch(f"/api/v1/roles/{top['id']}", {"parent": "level-4"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "role_depth_exceeded"
    assert snapshot() == before
    assert world.client("owner").patch(f"/api/v1/roles/{top['id']}", {"parent": "level-3"},
                                       format="json").status_code == 200


# Inheritance takes effect ------------------------------------------------------------------------

def test_a_member_given_a_custom_role_gets_its_parents_permissions_on_the_next_request(world: World) -> None:
    create_role(world, {"name": "inviter-base", "permissions": ["members:invite"], "parent": "viewer"})
    inviter = create_role(world, {"name": "inviter", "permissions": [], "parent": "inviter-base"})
    assert inviter["effective_permissions"] == sorted(system_role_permissions("viewer") | {"members:invite"})
    assert invite(world, "viewer", "first@example.com") == 403

    response = world.client("owner").patch(world.member_url("viewer"), {"role": "inviter"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "inviter"
    assert invite(world, "viewer", "first@example.com") == 201  # through inviter → inviter-base

    base = Role.objects.get(organization=world.acme, name="inviter-base")
    assert world.client("owner").patch(f"/api/v1/roles/{base.pk}", {"permissions": []},
                                       format="json").status_code == 200
    refused = world.client("viewer").post(f"/api/v1/organizations/{world.acme.pk}/invitations",
                                          {"email": "second@example.com", "role": "member"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"  # the very next request
    assert not Invitation.objects.filter(email="second@example.com").exists()


def test_a_teams_custom_role_counts_for_its_members(world: World) -> None:
    create_role(world, {"name": "team-makers", "permissions": ["teams:manage"]})
    teams_url = f"/api/v1/organizations/{world.acme.pk}/teams"
    assert world.client("viewer").post(teams_url, {"name": "Blocked"}, format="json").status_code == 403
    team = team_create(organization=world.acme, actor=world.people["owner"], name="Makers", role="team-makers")
    team_member_add(team=team, user_id=world.people["viewer"].pk, actor=world.people["owner"])
    response = world.client("viewer").post(teams_url, {"name": "Allowed"}, format="json")
    assert response.status_code == 201, response.content
    assert role_of(world, "viewer") == "viewer"  # the role came through the team only


def test_renaming_a_role_keeps_its_holders(world: World) -> None:
    body = create_role(world, {"name": "support", "permissions": ["members:invite"], "parent": "viewer"})
    world.client("owner").patch(world.member_url("viewer"), {"role": "support"}, format="json")
    assert world.client("owner").patch(f"/api/v1/roles/{body['id']}", {"name": "helpdesk"},
                                       format="json").status_code == 200
    assert role_of(world, "viewer") == "helpdesk"
    assert invite(world, "viewer", "kept@example.com") == 201
    # the wire refers to roles by name: the old name is gone
    response = world.client("owner").patch(world.member_url("member"), {"role": "support"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unknown_role"


def test_a_custom_role_of_one_organization_is_unknown_in_another(world: World) -> None:
    create_role(world, {"name": "support", "permissions": ["members:read"]})
    response = world.client("rival").patch(world.member_url("viewer", world.globex), {"role": "support"},
                                           format="json")
    assert response.status_code == 400 and response.json()["code"] == "unknown_role"
    assert role_of(world, "viewer", world.globex) == "viewer"


# Deleting a role in use ---------------------------------------------------------------------------

def _held_by_member(world: World, role: Role) -> None:
    Membership.objects.filter(organization=world.acme, user=world.people["member"]).update(role=role)


def _held_by_team(world: World, role: Role) -> None:
    Team.objects.create(organization=world.acme, name="Ops", role=role)


def _held_by_pending_invitation(world: World, role: Role) -> None:
    InvitationFactory(organization=world.acme, role_id=role.pk)


def _held_by_expired_invitation(world: World, role: Role) -> None:  # it can be resent
    InvitationFactory(organization=world.acme, role_id=role.pk, expired=True)


def _held_as_default_role(world: World, role: Role) -> None:
    Organization.objects.filter(pk=world.acme.pk).update(default_role=role)


def _held_by_child_role(world: World, role: Role) -> None:
    Role.objects.create(organization=world.acme, name="child", parent=role)


def _named_by_a_policy(world: World, role: Role) -> None:
    response = world.client("owner").post(f"/api/v1/organizations/{world.acme.pk}/policies", {
        "name": "Support reads", "effect": "allow", "actions": ["audit:read"], "subjects": [f"role:{role.name}"]},
        format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("_case", "use", "key"), [
    ("member", _held_by_member, "members"),
    ("team", _held_by_team, "teams"),
    ("pending invitation", _held_by_pending_invitation, "invitations"),
    ("expired invitation", _held_by_expired_invitation, "invitations"),
    ("default role", _held_as_default_role, "default_role"),
    ("child role", _held_by_child_role, "child_roles"),
    ("policy subject", _named_by_a_policy, "policies"),
])
def test_a_role_in_use_is_not_deleted(world: World, _case: str, use, key: str) -> None:  # noqa: ANN001
    body = create_role(world, {"name": "support", "permissions": ["members:read"]})
    use(world, Role.objects.get(pk=body["id"]))
    before = snapshot()
    response = world.client("owner").delete(f"/api/v1/roles/{body['id']}")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "role_in_use" and response.json()["usage"][key] == 1
    assert sum(response.json()["usage"].values()) == 1
    assert snapshot() == before


def test_deleting_a_role_repoints_its_past_invitations_to_member(world: World) -> None:
    body = create_role(world, {"name": "support", "permissions": ["members:read"]})
    accepted = InvitationFactory(organization=world.acme, role_id=body["id"], accepted=True)
    revoked = InvitationFactory(organization=world.acme, role_id=body["id"], revoked=True)
    assert world.client("owner").delete(f"/api/v1/roles/{body['id']}").status_code == 204
    for invitation in (accepted, revoked):
        invitation.refresh_from_db()
        assert invitation.role_id == system_role_id("member")
    assert Invitation.objects.get(pk=accepted.pk).status == InvitationStatus.ACCEPTED


# Privilege escalation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("_case", "body"), [
    ("a permission admins lack", {"permissions": ["members:read", "org:delete"]}),
    ("billing:manage", {"permissions": ["billing:manage"]}),
    ("inherited from owner", {"permissions": [], "parent": "owner"}),
    ("inherited from billing", {"permissions": [], "parent": "billing"}),
])
def test_an_admin_cannot_create_a_role_holding_more_than_admins(world: World, _case: str, body: dict) -> None:
    before = snapshot()
    response = world.client("admin").post(world.roles_url(), {"name": "superadmin", **body}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "privilege_escalation"
    assert set(response.json()["permissions"]) & {"org:delete", "billing:manage", "org:transfer"}
    assert snapshot() == before


def test_an_admin_cannot_edit_a_role_above_them_but_the_owner_can(world: World) -> None:
    body = create_role(world, {"name": "deputy", "permissions": ["org:delete"]})
    url = f"/api/v1/roles/{body['id']}"
    before = snapshot()
    for change in ({"description": "mine"}, {"permissions": ["org:delete", "org:transfer"]}, {"name": "gone"}):
        response = world.client("admin").patch(url, change, format="json")
        assert response.status_code == 403 and response.json()["code"] == "privilege_escalation"
    assert snapshot() == before
    other = create_role(world, {"name": "helper", "permissions": ["teams:read"]}, who="admin")
    before = snapshot()
    response = world.client("admin").patch(f"/api/v1/roles/{other['id']}", {"parent": "deputy"}, format="json")
    assert response.status_code == 403 and response.json()["permissions"] == ["org:delete"]
    assert snapshot() == before
    assert world.client("owner").patch(url, {"permissions": ["org:delete", "org:transfer"]},
                                       format="json").status_code == 200


def test_a_role_manager_only_hands_out_what_they_hold(world: World) -> None:
    create_role(world, {"name": "role-keeper", "permissions": ["roles:manage", "roles:read", "teams:read"]})
    world.client("owner").patch(world.member_url("lead"), {"role": "role-keeper"}, format="json")
    lead = world.client("lead")
    refused = lead.post(world.roles_url(), {"name": "more", "permissions": ["teams:read", "teams:manage"]},
                        format="json")
    assert refused.status_code == 403 and refused.json()["permissions"] == ["teams:manage"]
    assert lead.post(world.roles_url(), {"name": "less", "permissions": ["teams:read"]},
                     format="json").status_code == 201
    # viewer's reads include members:read and org:read, which role-keeper lacks
    assert lead.post(world.roles_url(), {"name": "viewerish", "permissions": [], "parent": "viewer"},
                     format="json").status_code == 403
    assert not Role.objects.filter(name__in=["more", "viewerish"]).exists()


@pytest.fixture
def manager(world: World) -> APIClient:
    """`lead` holds "people-manager": member's reads plus members:manage and members:invite, teams:manage."""
    create_role(world, {"name": "people-manager", "parent": "member",
                        "permissions": ["members:manage", "members:invite", "teams:manage"]})
    create_role(world, {"name": "deputy", "permissions": ["org:delete"], "parent": "admin"})  # made by the owner
    assert world.client("owner").patch(world.member_url("lead"), {"role": "people-manager"},
                                       format="json").status_code == 200
    return world.client("lead")


def _assignments(world: World) -> tuple:
    return (sorted(Membership.objects.filter(organization=world.acme).values_list("user__email", "role__name")),
            sorted(Invitation.objects.values_list("email", "role__name")),
            sorted(Team.objects.values_list("name", "role__name")),
            AuditEvent.objects.filter(action__in=["member.role_changed", "invitation.sent", "team.created",
                                                  "team.updated", "team.member_added"]).count())


def test_a_member_manager_cannot_hand_out_a_role_above_their_own(world: World, manager: APIClient) -> None:
    org = f"/api/v1/organizations/{world.acme.pk}"
    before = _assignments(world)
    for response in (
        manager.patch(world.member_url("viewer"), {"role": "admin"}, format="json"),
        manager.patch(world.member_url("lead"), {"role": "admin"}, format="json"),  # themselves
        manager.patch(world.member_url("viewer"), {"role": "deputy"}, format="json"),
        manager.post(f"{org}/members/bulk", {"action": "change_role", "user_ids": [str(world.people["viewer"].pk)],
                                             "role": "admin"}, format="json"),
        manager.post(f"{org}/invitations", {"email": "new@example.com", "role": "admin"}, format="json"),
        manager.post(f"{org}/invitations/bulk", {"invitations": [{"email": "a@example.com", "role": "member"},
                                                                 {"email": "b@example.com", "role": "admin"}]},
                     format="json"),
        manager.post(f"{org}/teams", {"name": "Admins", "role": "admin"}, format="json"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "privilege_escalation"
    assert _assignments(world) == before
    # within their own permissions, all of it works
    assert manager.patch(world.member_url("viewer"), {"role": "member"}, format="json").status_code == 200
    assert manager.post(f"{org}/invitations", {"email": "new@example.com", "role": "viewer"},
                        format="json").status_code == 201


def test_a_team_manager_cannot_join_or_raise_a_team_that_holds_more(world: World, manager: APIClient) -> None:
    admins = team_create(organization=world.acme, actor=world.people["owner"], name="Admins", role="admin")
    plain = team_create(organization=world.acme, actor=world.people["owner"], name="Plain")
    before = _assignments(world)
    joined = manager.put(f"/api/v1/teams/{admins.pk}/members/{world.people['lead'].pk}")
    raised = manager.patch(f"/api/v1/teams/{plain.pk}", {"role": "admin"}, format="json")
    for response in (joined, raised):
        assert response.status_code == 403 and response.json()["code"] == "privilege_escalation"
    assert _assignments(world) == before and not admins.team_memberships.exists()
    assert manager.put(f"/api/v1/teams/{plain.pk}/members/{world.people['lead'].pk}").status_code == 201


def test_admins_cannot_hand_out_owner_level_custom_roles_and_owners_can(world: World) -> None:
    create_role(world, {"name": "deputy", "permissions": ["org:delete"], "parent": "admin"})
    response = world.client("admin").patch(world.member_url("viewer"), {"role": "deputy"}, format="json")
    assert response.status_code == 403 and response.json()["permissions"] == ["org:delete"]
    assert role_of(world, "viewer") == "viewer"
    assert world.client("owner").patch(world.member_url("viewer"), {"role": "deputy"}, format="json").status_code == 200
    # orgs' own rule still answers for the owner role itself
    response = world.client("admin").patch(world.member_url("member"), {"role": "owner"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_an_org_default_role_above_the_caller_is_refused(world: World) -> None:
    create_role(world, {"name": "deputy", "permissions": ["org:delete"]})
    response = world.client("admin").patch(f"/api/v1/organizations/{world.acme.pk}", {"default_role": "deputy"},
                                           format="json")
    assert response.status_code == 403 and response.json()["code"] == "privilege_escalation"
    world.acme.refresh_from_db()
    assert world.acme.default_role_id == system_role_id("member")


def _api_key(world: World, scopes: list[str]) -> APIClient:
    response = world.client("owner").post(f"/api/v1/organizations/{world.acme.pk}/api-keys",
                                          {"name": "CI", "scopes": scopes}, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client


def test_an_api_key_manages_roles_within_its_scopes_only(world: World) -> None:
    key = _api_key(world, ["roles:read", "roles:manage", "teams:read"])
    before = snapshot()
    refused = key.post(world.roles_url(), {"name": "wider", "permissions": ["teams:read", "members:read"]},
                       format="json")
    assert refused.status_code == 403 and refused.json()["permissions"] == ["members:read"]
    assert snapshot() == before
    created = key.post(world.roles_url(), {"name": "narrow", "permissions": ["teams:read"]}, format="json")
    assert created.status_code == 201, created.content
    event = AuditEvent.objects.get(action="role.created", organization_id=world.acme.pk)
    assert event.actor_type == "api_key"
    assert key.get(world.roles_url(world.globex)).status_code == 404  # a key acts for its organization only


def test_renaming_a_role_keeps_the_policies_that_name_it(world: World) -> None:
    role = create_role(world, {"name": "support", "permissions": ["members:read"]})
    owner = world.client("owner")
    owner.patch(world.member_url("lead"), {"role": "support"}, format="json")
    policy = owner.post(f"/api/v1/organizations/{world.acme.pk}/policies", {
        "name": "Support audits", "effect": "allow", "actions": ["audit:read"], "subjects": ["role:support"]},
        format="json").json()
    lead = world.client("lead")
    audit_url = f"/api/v1/organizations/{world.acme.pk}/audit-logs"
    assert lead.get(audit_url).status_code == 200

    assert owner.patch(f"/api/v1/roles/{role['id']}", {"name": "helpdesk"}, format="json").status_code == 200

    assert owner.get(f"/api/v1/policies/{policy['id']}").json()["subjects"] == ["role:helpdesk"]
    assert lead.get(audit_url).status_code == 200
    create_role(world, {"name": "support", "permissions": ["members:read"]})  # the old name, reused
    owner.patch(world.member_url("member"), {"role": "support"}, format="json")
    assert world.client("member").get(audit_url).status_code == 403
    renamed = AuditEvent.objects.filter(action="policy.updated", target_id=policy["id"]).get()
    assert renamed.changes == {"subjects": [["role:support"], ["role:helpdesk"]]}


def test_only_owners_change_or_remove_an_owner(world: World) -> None:
    owner, admin = world.client("owner"), world.client("admin")
    assert owner.patch(world.member_url("lead"), {"role": "owner"}, format="json").status_code == 200
    demoted = admin.patch(world.member_url("lead"), {"role": "viewer"}, format="json")
    assert (demoted.status_code, demoted.json()["code"]) == (403, "permission_denied")
    removed = admin.delete(world.member_url("lead"))
    assert (removed.status_code, removed.json()["code"]) == (403, "permission_denied")
    assert role_of(world, "lead") == "owner"
    assert owner.patch(world.member_url("lead"), {"role": "admin"}, format="json").status_code == 200


def test_resending_an_invitation_needs_the_right_to_give_its_role(world: World) -> None:
    create_role(world, {"name": "auditor", "permissions": ["audit:read", "org:delete"]})
    invitation = InvitationFactory(organization=world.acme, role_id=Role.objects.get(name="auditor").pk,
                                   invited_by=world.people["owner"])
    response = world.client("admin").post(f"/api/v1/invitations/{invitation.pk}/resend", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "privilege_escalation")
    assert world.client("owner").post(f"/api/v1/invitations/{invitation.pk}/resend", {},
                                      format="json").status_code == 200
