"""The operators' console for access control (apps/rbac/admin.py), and the role choices of the organizations'
admin (apps/orgs/admin.py), through the test client signed in as staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.utils.html import escape

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Membership, Organization, Team
from apps.orgs.roles import SystemRole, system_role_id
from apps.orgs.services.organizations import member_change_role
from apps.orgs.services.teams import team_create
from apps.rbac.conditions import InvalidCondition, compile_condition
from apps.rbac.models import ApiKey, Policy, Role, UserObjectGrant
from apps.rbac.services.apikeys import apikey_create, apikey_rotate
from apps.rbac.services.decisions import user_caller
from apps.rbac.services.grants import grant_create
from apps.rbac.services.policies import policy_create
from apps.rbac.services.roles import role_create
from tests.orgs.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    owner: User
    member: Membership
    team: Team
    support: Role  # acme's custom role
    spy: Role  # globex's custom role
    policy: Policy


@pytest.fixture
def world() -> World:
    acme = OrganizationFactory(name="Acme Rockets", slug="acme")
    owner = MembershipFactory(organization=acme, owner=True, user__email="owner@example.com").user
    member = MembershipFactory(organization=acme, user__email="member@example.com")
    globex = OrganizationFactory(name="Globex", slug="globex")
    stranger = MembershipFactory(organization=globex, owner=True, user__email="stranger@example.com").user
    support = role_create(organization=acme, actor=owner, caller=user_caller(user=owner, organization=acme),
                          name="support", permissions=["members:read"])
    spy = role_create(organization=globex, actor=stranger, caller=user_caller(user=stranger, organization=globex),
                      name="spy", permissions=["members:read"])
    team = team_create(organization=acme, actor=owner, name="Launch")
    policy = policy_create(organization=acme, actor=owner, caller=None, name="no-invites", effect="deny",
                           actions=["members:invite"], subjects=["role:member"])
    return World(acme=acme, globex=globex, owner=owner, member=member, team=team, support=support, spy=spy,
                 policy=policy)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _grant(world: World) -> None:
    grant_create(organization=world.acme, actor=world.owner, subject_type="user", subject_id=str(world.member.user_id),
                 permission="teams:manage", resource_type="team", resource_id=str(world.team.pk),
                 caller=user_caller(user=world.owner, organization=world.acme))


def form_data(response: Any) -> dict[str, Any]:
    """What the admin's change page would post back unchanged: its form, inline management forms and rows."""
    forms_ = [response.context["adminform"].form]
    for inline in response.context.get("inline_admin_formsets", []):
        forms_ += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms_:
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(field.widget, forms.MultiWidget):
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            else:
                data[key] = "" if value is None else str(value)
    return data


# --- every page renders for staff ---------------------------------------------------------------------


def test_the_access_control_pages_render_for_staff(admin_client: Client, world: World) -> None:
    key, _ = apikey_create(organization=world.acme, actor=world.owner, name="CI", scopes=["members:read"])
    _grant(world)
    grant = UserObjectGrant.objects.get()
    paths = ["/admin/rbac/role/", "/admin/rbac/role/add/", f"/admin/rbac/role/{world.support.pk}/change/",
             f"/admin/rbac/role/{system_role_id(SystemRole.ADMIN)}/change/", "/admin/rbac/policy/",
             "/admin/rbac/policy/add/", f"/admin/rbac/policy/{world.policy.pk}/change/", "/admin/rbac/apikey/",
             f"/admin/rbac/apikey/{key.pk}/change/", "/admin/rbac/userobjectgrant/",
             f"/admin/rbac/userobjectgrant/{grant.pk}/change/", "/admin/rbac/teamobjectgrant/"]
    for path in paths:
        assert admin_client.get(path).status_code == 200, path
    listing = admin_client.get("/admin/rbac/role/").content.decode()
    assert "support" in listing and "spy" in listing and "Acme Rockets" in listing


def test_people_who_are_not_staff_do_not_reach_it(world: World) -> None:
    client = Client()
    client.force_login(world.owner)  # an organization's owner is no operator
    response = client.get("/admin/rbac/apikey/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- API keys: never a secret, no add, revoke through the service ---------------------------------------


def test_secrets_never_appear_in_the_admin(admin_client: Client, world: World) -> None:
    key, first = apikey_create(organization=world.acme, actor=world.owner, name="CI deploy", scopes=["members:read"])
    key, second = apikey_rotate(key=key, actor=world.owner, overlap_seconds=3600)  # two hashes stored now
    assert key.secret_hash and key.previous_secret_hash

    pages = [admin_client.get(path).content.decode() for path in (
        "/admin/rbac/apikey/", f"/admin/rbac/apikey/?q={key.prefix}", f"/admin/rbac/apikey/{key.pk}/change/",
        f"/admin/rbac/apikey/{key.pk}/history/")]

    assert key.prefix in pages[0] and "CI deploy" in pages[1] and "members:read" in pages[2]
    for html in pages:
        for secret in (key.secret_hash, key.previous_secret_hash, first, second, first.rsplit("_", 1)[1]):
            assert secret not in html
        assert "secret_hash" not in html


def test_keys_are_never_added_changed_or_deleted_in_the_admin(admin_client: Client, world: World) -> None:
    key, _ = apikey_create(organization=world.acme, actor=world.owner, name="CI", scopes=["members:read"])

    assert admin_client.get("/admin/rbac/apikey/add/").status_code == 403
    assert admin_client.post("/admin/rbac/apikey/add/", {"organization": str(world.acme.pk), "name": "x",
                                                          "prefix": "aaaaaaaaaaaa", "secret_hash": "0" * 64,
                                                          "scopes": '["members:read"]'}).status_code == 403
    assert admin_client.post(f"/admin/rbac/apikey/{key.pk}/change/", {"name": "renamed",
                                                                       "scopes": '["org:delete"]'}).status_code == 403
    assert admin_client.post(f"/admin/rbac/apikey/{key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(ApiKey.objects.values_list("name", "scopes")) == [("CI", ["members:read"])]


def test_revoke_selected_keys_goes_through_the_service(admin_client: Client, world: World, operator: User) -> None:
    first, _ = apikey_create(organization=world.acme, actor=world.owner, name="one", scopes=["members:read"])
    second, _ = apikey_create(organization=world.acme, actor=world.owner, name="two", scopes=["members:read"])

    response = admin_client.post("/admin/rbac/apikey/", {"action": "revoke_keys", "_selected_action": [str(first.pk)]})

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    assert [(e.actor_id, e.target_id) for e in events("apikey.revoked")] == [(str(operator.pk), str(first.pk))]
    assert "1 key(s) revoked." in admin_client.get("/admin/rbac/apikey/").content.decode()


# --- roles -------------------------------------------------------------------------------------------------


def test_system_roles_cannot_be_changed_or_deleted(admin_client: Client) -> None:
    path = f"/admin/rbac/role/{system_role_id(SystemRole.ADMIN)}"

    page = admin_client.get(f"{path}/change/").content.decode()

    assert 'name="name"' not in page and 'name="_save"' not in page  # a read-only view
    assert admin_client.post(f"{path}/change/", {"name": "boss", "permissions": ["org:delete"]}).status_code == 403
    assert admin_client.get(f"{path}/delete/").status_code == 403
    assert admin_client.post(f"{path}/delete/", {"post": "yes"}).status_code == 403
    assert Role.objects.get(pk=system_role_id(SystemRole.ADMIN)).name == "admin"


def test_a_custom_role_is_created_changed_and_deleted_through_the_service(admin_client: Client, world: World,
                                                                          operator: User) -> None:
    response = admin_client.post("/admin/rbac/role/add/", {
        "organization": str(world.acme.pk), "name": "ops", "description": "Operations",
        "permissions": ["members:read", "teams:read"], "parent": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    role = Role.objects.get(organization=world.acme, name="ops")
    assert (role.permissions, role.description) == (["members:read", "teams:read"], "Operations")

    response = admin_client.post(f"/admin/rbac/role/{role.pk}/change/", {
        "name": "operations", "description": "Operations", "permissions": ["members:read"],
        "parent": str(world.support.pk)})
    assert response.status_code == 302, response.content.decode()[:3000]
    role.refresh_from_db()
    assert (role.name, role.permissions, role.parent_id) == ("operations", ["members:read"], world.support.pk)

    response = admin_client.post(f"/admin/rbac/role/{role.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()
    trail = AuditEvent.objects.filter(target_id=str(role.pk)).order_by("seq")
    assert [(e.action, e.actor_id) for e in trail] == [("role.created", str(operator.pk)),
                                                        ("role.updated", str(operator.pk)),
                                                        ("role.deleted", str(operator.pk))]
    assert trail[1].changes == {"name": ["ops", "operations"], "permissions": [["members:read", "teams:read"],
                                                                               ["members:read"]],
                                "parent": [None, "support"]}


@pytest.mark.parametrize(("_case", "body", "message"), [
    ("reserved name", {"name": "owner"}, "&#x27;owner&#x27; is a system role&#x27;s name."),
    ("taken name", {"name": "support"}, "A role named &#x27;support&#x27; exists in this organization."),
    ("foreign parent", {"name": "mole", "parent": "{spy}"}, "Not a role of this organization."),
])
def test_a_role_the_service_refuses_is_shown_on_the_form(admin_client: Client, world: World, _case: str,
                                                         body: dict, message: str) -> None:
    data = {"organization": str(world.acme.pk), "description": "", "permissions": ["members:read"], "parent": "",
            **{k: v.format(spy=world.spy.pk) for k, v in body.items()}}

    response = admin_client.post("/admin/rbac/role/add/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(Role.objects.filter(organization=world.acme).values_list("name", flat=True)) == ["support"]
    assert sorted(e.metadata["name"] for e in events("role.created")) == ["spy", "support"]  # the fixture's only


def test_a_role_in_use_is_protected_from_deletion(admin_client: Client, world: World) -> None:
    member_change_role(organization=world.acme, member=world.member, role="support", actor=world.owner)
    path = f"/admin/rbac/role/{world.support.pk}/delete/"

    page = admin_client.get(path).content.decode()
    response = admin_client.post(path, {"post": "yes"})

    assert "support: used by 1 members" in page
    assert response.status_code == 200  # the same refusal page: nothing deleted
    assert Role.objects.filter(pk=world.support.pk).exists() and events("role.deleted") == []


# --- policies ----------------------------------------------------------------------------------------------


def _policy_body(world: World, **changes: str) -> dict[str, str]:
    return {"organization": str(world.acme.pk), "name": "office", "description": "", "effect": "allow",
            "priority": "5", "actions": '["audit:read"]', "resources": "[]", "subjects": '["role:member"]',
            "condition": 'inCidr(request.ip, "10.0.0.0/8")', "enabled": "on", "expires_at_0": "",
            "expires_at_1": "", **changes}


def test_a_policy_condition_is_validated_with_the_cel_parser(admin_client: Client, world: World) -> None:
    with pytest.raises(InvalidCondition) as parsed:
        compile_condition("request.ip ==")

    response = admin_client.post("/admin/rbac/policy/add/", _policy_body(world, condition="request.ip =="))

    assert response.status_code == 200
    assert f'id="id_condition_error"><li>{escape(str(parsed.value))}</li>' in response.content.decode()
    assert not Policy.objects.filter(name="office").exists()


def test_a_policy_is_created_changed_and_deleted_through_the_service(admin_client: Client, world: World,
                                                                     operator: User) -> None:
    response = admin_client.post("/admin/rbac/policy/add/", _policy_body(world))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = Policy.objects.get(name="office")

    response = admin_client.post(f"/admin/rbac/policy/{policy.pk}/change/", _policy_body(world, priority="50"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Policy.objects.get(pk=policy.pk).priority == 50

    unknown = admin_client.post(f"/admin/rbac/policy/{policy.pk}/change/",
                                _policy_body(world, subjects='["user:00000000-0000-0000-0000-000000000000"]'))
    assert unknown.status_code == 200 and "no such member in this organization" in unknown.content.decode()
    assert Policy.objects.get(pk=policy.pk).subjects == ["role:member"]

    assert admin_client.post(f"/admin/rbac/policy/{policy.pk}/delete/", {"post": "yes"}).status_code == 302
    trail = AuditEvent.objects.filter(target_id=str(policy.pk)).order_by("seq")
    assert [(e.action, e.actor_id) for e in trail] == [("policy.created", str(operator.pk)),
                                                        ("policy.updated", str(operator.pk)),
                                                        ("policy.deleted", str(operator.pk))]
    assert trail[1].changes == {"priority": [5, 50]}


# --- object grants: read-only ----------------------------------------------------------------------------


def test_grants_are_read_only_in_the_admin(admin_client: Client, world: World) -> None:
    _grant(world)
    grant = UserObjectGrant.objects.get()

    listing = admin_client.get("/admin/rbac/userobjectgrant/").content.decode()

    assert "teams:manage" in listing and "member@example.com" in listing
    assert admin_client.get("/admin/rbac/userobjectgrant/add/").status_code == 403
    assert admin_client.post(f"/admin/rbac/userobjectgrant/{grant.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/rbac/teamobjectgrant/add/").status_code == 403
    assert UserObjectGrant.objects.filter(pk=grant.pk).exists()


# --- organizations' admin: roles of that organization only ------------------------------------------------


def test_the_organization_page_offers_only_its_own_roles(admin_client: Client, world: World) -> None:
    page = admin_client.get(f"/admin/orgs/organization/{world.acme.pk}/change/").content.decode()

    assert f'value="{world.support.pk}"' in page and f'value="{system_role_id(SystemRole.ADMIN)}"' in page
    assert f'value="{world.spy.pk}"' not in page


def _member_row(data: dict[str, Any], membership: Membership) -> str:
    return next(k[: -len("-id")] for k, v in data.items() if k.endswith("-id") and v == str(membership.pk))


def test_a_member_gets_a_role_of_their_organization_but_never_another_tenants(admin_client: Client,
                                                                               world: World) -> None:
    path = f"/admin/orgs/organization/{world.acme.pk}/change/"
    data = form_data(admin_client.get(path))
    row = _member_row(data, world.member)

    refused = admin_client.post(path, {**data, f"{row}-role": str(world.spy.pk)})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert Membership.objects.get(pk=world.member.pk).role_id == system_role_id(SystemRole.MEMBER)

    accepted = admin_client.post(path, {**data, f"{row}-role": str(world.support.pk)})  # the same form, own role
    assert accepted.status_code == 302, accepted.content.decode()[:3000]
    assert Membership.objects.get(pk=world.member.pk).role_id == world.support.pk
    [changed] = events("member.role_changed")
    assert (changed.actor_type, changed.changes) == ("user", {"role": ["member", "support"]})
    assert changed.target_id == str(world.member.user_id)


def test_an_operator_cannot_leave_an_organization_without_an_owner(admin_client: Client, world: World) -> None:
    path = f"/admin/orgs/organization/{world.acme.pk}/change/"
    data = form_data(admin_client.get(path))
    owner_row = _member_row(data, Membership.objects.get(organization=world.acme, user=world.owner))
    refused = admin_client.post(path, {**data, f"{owner_row}-role": str(system_role_id(SystemRole.ADMIN))})
    assert refused.status_code == 200 and "at least one active owner" in refused.content.decode()
    suspended = admin_client.post(path, {**data, f"{owner_row}-status": "suspended"})
    assert suspended.status_code == 200 and "at least one active owner" in suspended.content.decode()
    assert Membership.objects.get(organization=world.acme, user=world.owner).role_id == \
        system_role_id(SystemRole.OWNER)
    assert not events("member.role_changed")


def test_the_default_role_is_one_of_the_organizations_roles(admin_client: Client, world: World) -> None:
    path = f"/admin/orgs/organization/{world.acme.pk}/change/"
    data = form_data(admin_client.get(path))

    refused = admin_client.post(path, {**data, "default_role": str(world.spy.pk)})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert Organization.objects.get(pk=world.acme.pk).default_role_id == system_role_id(SystemRole.MEMBER)

    assert admin_client.post(path, {**data, "default_role": str(world.support.pk)}).status_code == 302
    assert Organization.objects.get(pk=world.acme.pk).default_role_id == world.support.pk


def test_a_team_gets_a_role_of_its_organization_but_never_another_tenants(admin_client: Client,
                                                                           world: World) -> None:
    path = f"/admin/orgs/team/{world.team.pk}/change/"
    page = admin_client.get(path)
    data = form_data(page)
    assert f'value="{world.support.pk}"' in page.content.decode()
    assert f'value="{world.spy.pk}"' not in page.content.decode()

    refused = admin_client.post(path, {**data, "role": str(world.spy.pk)})
    added = admin_client.post("/admin/orgs/team/add/", {"organization": str(world.acme.pk), "name": "Moles",
                                                         "description": "", "role": str(world.spy.pk)})

    assert (refused.status_code, added.status_code) == (200, 200)
    assert "Select a valid choice" in added.content.decode()  # a new team is offered the system roles only
    assert Team.objects.get(pk=world.team.pk).role_id is None
    assert not Team.objects.filter(name="Moles").exists()

    assert admin_client.post(path, {**data, "role": str(world.support.pk)}).status_code == 302
    assert Team.objects.get(pk=world.team.pk).role_id == world.support.pk
    [updated] = events("team.updated")
    assert (updated.actor_type, updated.changes) == ("user", {"role": [None, "support"]})


def test_a_team_never_moves_to_another_organization_in_the_admin(admin_client: Client, world: World) -> None:
    path = f"/admin/orgs/team/{world.team.pk}/change/"
    data = form_data(admin_client.get(path))
    assert "organization" not in data  # shown read-only
    response = admin_client.post(path, {**data, "organization": str(world.globex.pk), "name": "Moved"})
    assert response.status_code == 302
    team = Team.objects.get(pk=world.team.pk)
    assert (team.organization_id, team.name) == (world.acme.pk, "Moved")


def test_teams_created_and_deleted_in_the_admin_are_audited(admin_client: Client, world: World) -> None:
    added = admin_client.post("/admin/orgs/team/add/", {"organization": str(world.acme.pk), "name": "Ops",
                                                         "description": "", "role": str(system_role_id("viewer"))})
    assert added.status_code == 302, added.content.decode()[:2000]
    team = Team.objects.get(name="Ops")
    [created] = [e for e in events("team.created") if e.metadata["name"] == "Ops"]
    assert (created.organization_id, created.metadata) == (world.acme.pk, {"name": "Ops", "role": "viewer"})
    assert admin_client.post(f"/admin/orgs/team/{team.pk}/delete/", {"post": "yes"}).status_code == 302
    [deleted] = events("team.deleted")
    assert (deleted.target_id, deleted.metadata) == (str(team.pk), {"name": "Ops"})



def test_a_domain_never_moves_to_another_organization_in_the_admin(admin_client: Client, world: World) -> None:
    from apps.orgs.models import Domain

    domain = Domain.objects.create(organization=world.acme, domain="acme.test", verification_token="t")
    path = f"/admin/orgs/domain/{domain.pk}/change/"
    data = form_data(admin_client.get(path))
    assert "organization" not in data
    response = admin_client.post(path, {**data, "organization": str(world.globex.pk)})
    assert response.status_code == 302
    assert Domain.objects.get(pk=domain.pk).organization_id == world.acme.pk
