"""Policies through the API: CRUD and validation, the engine's rules (conditions, priority, deny overrides,
subjects, expiry), POST /policies/evaluate, cache invalidation on every kind of change, and tenancy."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.accounts.services.tokens import access_token_issue
from apps.audit.models import AuditEvent
from apps.orgs.models import Organization, Team
from apps.orgs.services.organizations import member_add, organization_create
from apps.orgs.services.teams import team_create, team_member_add
from apps.rbac.models import Policy, Role
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import bearer, signed_in, signin

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    core: Team  # an Acme team holding "member"
    rival_policy: Policy  # one of Globex's policies


@pytest.fixture
def world() -> World:
    """Acme (owner, admin, member, viewer; team Core holds the member); Globex, owned by a rival, has a policy."""
    people = {name: UserFactory(email=f"{name}@example.com")
              for name in ("owner", "admin", "member", "viewer", "rival")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme")
    for name in ("admin", "member", "viewer"):
        member_add(organization=acme, user=people[name], role=name, actor=people["owner"], source="test")
    core = team_create(organization=acme, actor=people["owner"], name="Core")
    team_member_add(team=core, user_id=people["member"].pk, actor=people["owner"])
    globex = organization_create(user=people["rival"], name="Globex", slug="globex")
    rival_policy = Policy.objects.create(organization=globex, name="Rival rule", effect="deny",
                                         actions=["members:read"])
    return World(acme=acme, globex=globex, people=people, core=core, rival_policy=rival_policy)


def client_of(world: World, who: str) -> APIClient:
    return signed_in(world.people[who].email)


def create(client: APIClient, org: Organization, **body: object) -> Response:
    body = {"effect": "deny", "actions": ["members:read"], **body}
    body.setdefault("name", f"policy {uuid.uuid4().hex[:8]}")
    return client.post(f"/api/v1/organizations/{org.pk}/policies", body, format="json")


def created(client: APIClient, org: Organization, **body: object) -> dict:
    response = create(client, org, **body)
    assert response.status_code == 201, response.content
    return response.json()


def members(client: APIClient, org: Organization, **extra: str) -> int:
    """GET the member list (needs members:read): the status code."""
    return client.get(f"/api/v1/organizations/{org.pk}/members", **extra).status_code


def invite(client: APIClient, org: Organization, email: str = "new@example.com") -> Response:
    """POST an invitation (needs members:invite)."""
    return client.post(f"/api/v1/organizations/{org.pk}/invitations", {"email": email, "role": "member"},
                       format="json")


def evaluate(client: APIClient, org: Organization, permission: str, **body: object) -> Response:
    return client.post("/api/v1/policies/evaluate", {"organization_id": str(org.pk), "permission": permission,
                                                     **body}, format="json")


def check(client: APIClient, org: Organization, permission: str, **body: object) -> dict:
    response = client.post("/api/v1/rbac/check", {"organization_id": str(org.pk), "permission": permission, **body},
                           format="json")
    assert response.status_code == 200, response.content
    return response.json()


def field_errors(response: Response) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in response.json().get("errors", []):
        found.setdefault(error["field"], []).append(error["detail"])
    return found


def mfa_client(email: str) -> APIClient:
    """A token whose session proved a second factor just now (amr otp), as the MFA challenge would leave it."""
    assert signin(email).status_code == 200
    session = UserSession.objects.filter(user__email=email).latest("created_at")
    session.amr, session.auth_time = ["pwd", "otp", "mfa"], timezone.now()
    session.save(update_fields=["amr", "auth_time"])
    return bearer(access_token_issue(session=session)[0])


def policy_rows() -> list:
    return list(Policy.objects.order_by("pk").values())


# CRUD ------------------------------------------------------------------------------------------------

def test_policy_crud_round_trip_is_audited_in_the_org_chain(world: World) -> None:
    owner = client_of(world, "owner")
    expires = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    response = create(owner, world.acme, name="Office hours", description="Invite from the office only",
                      effect="deny", priority=500, actions=["members:invite", "teams:*"],
                      resources=["organization:*"], subjects=["role:Viewer", f"team:{str(world.core.pk).upper()}"],
                      condition='!inCidr(request.ip, "10.0.0.0/8")', expires_at=expires.isoformat())
    assert response.status_code == 201, response.content
    body = response.json()
    policy = Policy.objects.get(pk=body["id"])
    assert body == {
        "id": str(policy.pk), "organization_id": str(world.acme.pk), "name": "Office hours",
        "description": "Invite from the office only", "effect": "deny", "priority": 500,
        "actions": ["members:invite", "teams:*"], "resources": ["organization:*"],
        "subjects": ["role:viewer", f"team:{world.core.pk}"],  # canonical forms, as checks compare them
        "condition": '!inCidr(request.ip, "10.0.0.0/8")', "enabled": True,
        "expires_at": body["expires_at"], "created_at": body["created_at"], "updated_at": body["updated_at"],
    }
    assert dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")) == expires
    assert policy.created_by == world.people["owner"]
    event = AuditEvent.objects.get(action="policy.created")
    assert (event.organization_id, event.target_id, event.actor_id) == (world.acme.pk, str(policy.pk),
                                                                        str(world.people["owner"].pk))
    assert event.metadata == {"name": "Office hours", "effect": "deny", "priority": 500,
                              "actions": ["members:invite", "teams:*"], "resources": ["organization:*"],
                              "subjects": ["role:viewer", f"team:{world.core.pk}"],
                              "condition": '!inCidr(request.ip, "10.0.0.0/8")', "enabled": True,
                              "expires_at": expires.isoformat()}

    assert owner.get(f"/api/v1/policies/{policy.pk}").json() == body
    listing = owner.get(f"/api/v1/organizations/{world.acme.pk}/policies").json()
    assert [p["id"] for p in listing["results"]] == [str(policy.pk)] and listing["next_cursor"] is None

    patched = owner.patch(f"/api/v1/policies/{policy.pk}", {"priority": 10, "enabled": False, "name": "Office hours"},
                          format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["priority"], patched.json()["enabled"]) == (10, False)
    event = AuditEvent.objects.get(action="policy.updated")
    assert event.changes == {"priority": [500, 10], "enabled": [True, False]}  # the unchanged name is not listed
    assert owner.patch(f"/api/v1/policies/{policy.pk}", {"priority": 10}, format="json").status_code == 200
    assert AuditEvent.objects.filter(action="policy.updated").count() == 1  # nothing changed, nothing recorded

    assert owner.delete(f"/api/v1/policies/{policy.pk}").status_code == 204
    assert not Policy.objects.filter(pk=policy.pk).exists()
    assert owner.get(f"/api/v1/policies/{policy.pk}").status_code == 404
    deleted = AuditEvent.objects.get(action="policy.deleted")
    assert (deleted.organization_id, deleted.target_id, deleted.metadata) == (world.acme.pk, str(policy.pk),
                                                                              {"name": "Office hours"})


def test_policy_update_records_old_and_new_expiry_and_subjects(world: World) -> None:
    owner = client_of(world, "owner")
    policy = created(owner, world.acme, subjects=["role:viewer"])
    expires = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    response = owner.patch(f"/api/v1/policies/{policy['id']}",
                           {"expires_at": expires.isoformat(), "subjects": [f"user:{world.people['member'].pk}"]},
                           format="json")
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.get(action="policy.updated").changes == {
        "expires_at": [None, expires.isoformat()],
        "subjects": [["role:viewer"], [f"user:{world.people['member'].pk}"]]}


def test_policy_list_pages_with_a_cursor(world: World) -> None:
    owner = client_of(world, "owner")
    ids = [created(owner, world.acme, name=f"p{i}")["id"] for i in range(3)]
    first = owner.get(f"/api/v1/organizations/{world.acme.pk}/policies?limit=2").json()
    assert [p["id"] for p in first["results"]] == ids[:2] and first["next_cursor"]
    second = owner.get(f"/api/v1/organizations/{world.acme.pk}/policies?limit=2&cursor={first['next_cursor']}").json()
    assert [p["id"] for p in second["results"]] == ids[2:] and second["next_cursor"] is None


def test_policy_names_are_unique_per_organization_case_insensitively(world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Freeze")
    again = create(owner, world.acme, name="  fREEZE ")
    assert (again.status_code, again.json()["code"]) == (409, "policy_name_taken")
    assert Policy.objects.filter(organization=world.acme).count() == 1
    other = created(owner, world.acme, name="Other")
    renamed = owner.patch(f"/api/v1/policies/{other['id']}", {"name": "freeze"}, format="json")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "policy_name_taken")
    assert Policy.objects.get(pk=other["id"]).name == "Other"
    assert create(client_of(world, "rival"), world.globex, name="Freeze").status_code == 201  # another tenant


INVALID = [  # (case, body from the world, field at fault)
    ("blank name", lambda w: {"name": "  "}, "name"),
    ("long name", lambda w: {"name": "x" * 101}, "name"),
    ("effect", lambda w: {"effect": "maybe"}, "effect"),
    ("priority above", lambda w: {"priority": 1001}, "priority"),
    ("priority below", lambda w: {"priority": -1}, "priority"),
    ("no actions", lambda w: {"actions": []}, "actions"),
    ("unknown action", lambda w: {"actions": ["members:read", "bogus:*"]}, "actions"),
    ("action pattern chars", lambda w: {"actions": ["members:[r]ead"]}, "actions"),
    ("too many actions", lambda w: {"actions": ["members:read"] * 51}, "actions"),
    ("unknown resource type", lambda w: {"resources": ["galaxy:*"]}, "resources"),
    ("resource without id", lambda w: {"resources": ["team"]}, "resources"),
    ("resource id chars", lambda w: {"resources": ["team:a?b"]}, "resources"),
    ("unknown user", lambda w: {"subjects": [f"user:{uuid.uuid4()}"]}, "subjects"),
    ("another tenant's user", lambda w: {"subjects": [f"user:{w.people['rival'].pk}"]}, "subjects"),
    ("another tenant's team",
     lambda w: {"subjects": [f"team:{Team.objects.create(organization=w.globex, name='Rivals').pk}"]}, "subjects"),
    ("unknown role", lambda w: {"subjects": ["role:ghost"]}, "subjects"),
    ("unknown key", lambda w: {"subjects": [f"apikey:{uuid.uuid4()}"]}, "subjects"),
    ("unknown subject kind", lambda w: {"subjects": ["group:admins"]}, "subjects"),
    ("malformed user id", lambda w: {"subjects": ["user:not-a-uuid"]}, "subjects"),
    ("past expiry", lambda w: {"expires_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat()}, "expires_at"),
]


@pytest.mark.parametrize(("_case", "body_of", "field"), INVALID, ids=[case for case, _, _ in INVALID])
def test_policy_create_refuses_invalid_fields_and_writes_nothing(_case: str, body_of, field: str,  # noqa: ANN001
                                                                 world: World) -> None:
    response = create(client_of(world, "owner"), world.acme, **body_of(world))
    assert response.status_code == 400, response.content
    assert field in field_errors(response), response.json()
    assert not Policy.objects.filter(organization=world.acme).exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


@pytest.mark.parametrize(("_case", "condition", "message"), [
    ("syntax error", "request.ip ==", "Syntax error"),
    ("unknown function", 'nowhere(request.ip, "x")', "'nowhere'"),
    ("unknown attribute", "request.nope == 1", "request.nope"),
    ("unknown attribute in an untaken branch", 'false && subject.nickname == "x"', "subject.nickname"),
    ("not a bool", "1 + 2", "true or false"),
    ("type error", "request.ip > 5", "No such overload"),
    ("bad constant CIDR", 'inCidr(request.ip, "not-a-cidr")', "not-a-cidr"),
    ("bad time of day", 'timeBetween(request.time, "9:00", "17:00", "UTC")', "HH:MM"),
])
def test_an_invalid_condition_is_refused_at_save_with_the_parsers_message(_case: str, condition: str, message: str,
                                                                          world: World) -> None:
    owner = client_of(world, "owner")
    response = create(owner, world.acme, condition=condition)
    assert response.status_code == 400, response.content
    [error] = [e for e in response.json()["errors"] if e["field"] == "condition"]
    assert message in error["detail"] and error["code"] == "invalid_condition"
    assert not Policy.objects.filter(organization=world.acme).exists()

    policy = created(owner, world.acme, condition="request.mfa_age >= 0")
    patched = owner.patch(f"/api/v1/policies/{policy['id']}", {"condition": condition}, format="json")
    assert patched.status_code == 400 and "condition" in field_errors(patched)
    assert Policy.objects.get(pk=policy["id"]).condition == "request.mfa_age >= 0"


def test_condition_strings_and_comments_do_not_count_as_attributes(world: World) -> None:
    condition = 'subject.email != "request.nope@example.com" // not request.nope\n && true'
    assert create(client_of(world, "owner"), world.acme, condition=condition).status_code == 201


# Access to the policy endpoints --------------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_tenants_policy_is_404_and_unchanged(method: str, world: World) -> None:
    owner = client_of(world, "owner")  # owner of Acme, stranger to Globex
    before = policy_rows()
    for policy_id in (world.rival_policy.pk, uuid.uuid4(), "not-a-uuid"):
        response = getattr(owner, method)(f"/api/v1/policies/{policy_id}", {"enabled": False}, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), (policy_id, response.content)
    assert policy_rows() == before
    assert not AuditEvent.objects.filter(organization_id=world.globex.pk, action__startswith="policy.").exists()


def test_a_stranger_cannot_list_create_or_evaluate_in_another_organization(world: World) -> None:
    rival = client_of(world, "rival")
    before = policy_rows()
    assert rival.get(f"/api/v1/organizations/{world.acme.pk}/policies").status_code == 404
    assert create(rival, world.acme).status_code == 404
    assert evaluate(rival, world.acme, "members:read").status_code == 404
    assert policy_rows() == before


@pytest.mark.parametrize("who", ["viewer", "member"])
def test_members_without_policy_permissions_get_403_and_change_nothing(who: str, world: World) -> None:
    policy = created(client_of(world, "owner"), world.acme)
    client = client_of(world, who)
    before = policy_rows()
    calls = [
        (lambda: client.get(f"/api/v1/organizations/{world.acme.pk}/policies"), "policies:read"),
        (lambda: client.get(f"/api/v1/policies/{policy['id']}"), "policies:read"),
        (lambda: evaluate(client, world.acme, "members:read"), "policies:read"),
        (lambda: create(client, world.acme), "policies:manage"),
        (lambda: client.patch(f"/api/v1/policies/{policy['id']}", {"enabled": False}, format="json"),
         "policies:manage"),
        (lambda: client.delete(f"/api/v1/policies/{policy['id']}"), "policies:manage"),
    ]
    for call, permission in calls:
        response = call()
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
        assert permission in response.json()["detail"]
    assert policy_rows() == before
    assert AuditEvent.objects.filter(action__startswith="policy.").count() == 1  # the owner's create only


def test_an_admin_manages_policies_but_cannot_allow_what_it_does_not_hold(world: World) -> None:
    admin = client_of(world, "admin")
    assert create(admin, world.acme, effect="deny", actions=["org:delete"]).status_code == 201  # denying is fine
    escalation = create(admin, world.acme, name="Let me delete", effect="allow", actions=["org:*"],
                        subjects=[f"user:{world.people['admin'].pk}"])
    assert (escalation.status_code, escalation.json()["code"]) == (403, "privilege_escalation")
    assert "org:delete" in escalation.json()["detail"] and "org:transfer" in escalation.json()["detail"]
    assert not Policy.objects.filter(name="Let me delete").exists()

    # Nor by widening an owner's allow policy that covers what the admin lacks.
    owners = created(client_of(world, "owner"), world.acme, name="Owners delete", effect="allow",
                     actions=["org:delete"], subjects=[f"user:{world.people['owner'].pk}"])
    widen = admin.patch(f"/api/v1/policies/{owners['id']}", {"subjects": ["role:admin"]}, format="json")
    assert (widen.status_code, widen.json()["code"]) == (403, "privilege_escalation")
    assert Policy.objects.get(pk=owners["id"]).subjects == [f"user:{world.people['owner'].pk}"]
    assert admin.patch(f"/api/v1/policies/{owners['id']}", {"description": "kept"}, format="json").status_code == 200


def key_client(world: World, *scopes: str) -> tuple[APIClient, str]:
    """An Acme API key with `scopes` (created through the API by the owner): (client, key id)."""
    response = client_of(world, "owner").post(f"/api/v1/organizations/{world.acme.pk}/api-keys",
                                              {"name": "CI", "scopes": list(scopes)}, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    return client, response.json()["id"]


def test_an_api_key_reads_and_writes_policies_of_its_organization_only(world: World) -> None:
    key, key_id = key_client(world, "policies:read", "policies:manage", "members:read")
    listing = key.get(f"/api/v1/organizations/{world.acme.pk}/policies")
    assert listing.status_code == 200 and listing.json()["results"] == []
    assert key.get(f"/api/v1/policies/{world.rival_policy.pk}").status_code == 404
    assert key.delete(f"/api/v1/policies/{world.rival_policy.pk}").status_code == 404
    assert Policy.objects.filter(pk=world.rival_policy.pk).exists()

    escalation = create(key, world.acme, effect="allow", actions=["members:invite"])  # outside its scopes
    assert (escalation.status_code, escalation.json()["code"]) == (403, "privilege_escalation")
    policy = created(key, world.acme, name="Keys do not list", subjects=[f"apikey:{key_id}"])
    assert AuditEvent.objects.get(action="policy.created", target_id=policy["id"]).actor_type == "api_key"
    assert Policy.objects.get(pk=policy["id"]).created_by is None
    assert members(key, world.acme) == 403  # the next request of the same key sees its new deny
    body = evaluate(key, world.acme, "members:read").json()  # default subject: the key itself
    assert body["allowed"] is False and body["reason"] == "denied by policy 'Keys do not list' (priority 0)"
    assert members(client_of(world, "viewer"), world.acme) == 200  # the policy names the key only


def test_evaluate_about_a_key_never_exceeds_its_scopes(world: World) -> None:
    _, key_id = key_client(world, "members:read")
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Everyone invites", effect="allow", actions=["members:invite"])
    body = evaluate(owner, world.acme, "members:invite", subject={"type": "api_key", "id": key_id}).json()
    assert body["allowed"] is False and "outside the API key's scopes" in body["reason"]
    assert evaluate(owner, world.acme, "members:read", subject={"type": "api_key", "id": key_id}).json()["allowed"]


# The engine through real endpoints ------------------------------------------------------------------

def test_an_allow_policy_grants_beyond_the_role(world: World) -> None:
    viewer = client_of(world, "viewer")
    assert invite(viewer, world.acme).status_code == 403
    created(client_of(world, "owner"), world.acme, name="Viewers invite", effect="allow",
            actions=["members:invite"], subjects=["role:viewer"])
    assert invite(viewer, world.acme).status_code == 201
    assert check(viewer, world.acme, "members:invite")["reason"] == "allowed by policy 'Viewers invite' (priority 0)"


def test_deny_overrides_an_allow_of_higher_priority_and_names_the_deny(world: World) -> None:
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    created(owner, world.acme, name="Viewers invite", effect="allow", priority=1000, actions=["members:invite"],
            subjects=["role:viewer"])
    created(owner, world.acme, name="Invitation freeze", effect="deny", priority=0, actions=["members:*"],
            subjects=["role:viewer"])
    response = invite(viewer, world.acme)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert "denied by policy 'Invitation freeze' (priority 0)" in response.json()["detail"]
    assert check(viewer, world.acme, "members:invite") == {
        "permission": "members:invite", "allowed": False,
        "reason": "denied by policy 'Invitation freeze' (priority 0)"}


def test_of_two_denies_the_reason_names_the_higher_priority(world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Low", effect="deny", priority=10, actions=["members:read"])
    created(owner, world.acme, name="High", effect="deny", priority=500, actions=["members:*"])
    response = owner.get(f"/api/v1/organizations/{world.acme.pk}/members")
    assert response.status_code == 403 and "denied by policy 'High' (priority 500)" in response.json()["detail"]
    trace = evaluate(owner, world.acme, "members:read").json()["decision"]
    assert [(e["name"], e["matched"]) for e in trace if e["kind"] == "policy"] == [("High", True), ("Low", True)]


@pytest.mark.parametrize(("subject", "denied", "allowed"), [
    ("role:viewer", "viewer", "member"),
    ("role:member", "member", "viewer"),
    ("team:{core}", "member", "viewer"),
    ("user:{viewer}", "viewer", "member"),
    ("*", "viewer", None),
])
def test_policy_subjects_pick_whom_it_applies_to(subject: str, denied: str, allowed: str | None, world: World) -> None:
    subject = subject.format(core=world.core.pk, viewer=world.people["viewer"].pk)
    created(client_of(world, "owner"), world.acme, name="No listing", subjects=[subject])
    assert members(client_of(world, denied), world.acme) == 403
    if allowed:
        assert members(client_of(world, allowed), world.acme) == 200


def test_a_policy_on_a_parent_role_applies_to_its_custom_children(world: World) -> None:
    Role.objects.create(organization=world.acme, name="support", permissions=["members:read"],
                        parent=Role.objects.get(organization=None, name="viewer"))
    owner = client_of(world, "owner")
    assert owner.patch(f"/api/v1/organizations/{world.acme.pk}/members/{world.people['member'].pk}",
                       {"role": "support"}, format="json").status_code == 200
    created(owner, world.acme, name="No listing for viewers", subjects=["role:viewer"])
    assert members(client_of(world, "member"), world.acme) == 403  # support inherits viewer


def test_cidr_condition_uses_the_client_address(world: World) -> None:
    created(client_of(world, "owner"), world.acme, name="Office only", subjects=["role:viewer"],
            condition='!inCidr(request.ip, "10.0.0.0/8")')
    viewer = client_of(world, "viewer")
    assert members(viewer, world.acme, REMOTE_ADDR="10.20.30.40") == 200
    assert members(viewer, world.acme, REMOTE_ADDR="192.0.2.7") == 403
    assert members(viewer, world.acme, REMOTE_ADDR="2001:db8::1") == 403  # an IPv6 address is not in a v4 range


def _hh_mm(moment: dt.datetime) -> str:
    return moment.strftime("%H:%M")


def test_time_window_condition_on_real_requests(world: World) -> None:
    now = timezone.now()
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    policy = created(owner, world.acme, name="Outside hours", subjects=["role:viewer"],
                     condition=f'!timeBetween(request.time, "{_hh_mm(now - dt.timedelta(hours=1))}", '
                               f'"{_hh_mm(now + dt.timedelta(hours=1))}", "UTC")')
    assert members(viewer, world.acme) == 200  # inside the window: the deny does not apply
    outside = (f'!timeBetween(request.time, "{_hh_mm(now + dt.timedelta(hours=2))}", '
               f'"{_hh_mm(now + dt.timedelta(hours=3))}", "UTC")')
    assert owner.patch(f"/api/v1/policies/{policy['id']}", {"condition": outside}, format="json").status_code == 200
    assert members(viewer, world.acme) == 403


@pytest.mark.parametrize(("time", "allowed"), [
    ("2026-03-02T08:59:59+01:00", False),  # 08:59 in Paris
    ("2026-03-02T09:00:00+01:00", True),
    ("2026-03-02T16:29:00Z", True),  # 17:29 in Paris
    ("2026-03-02T16:30:00Z", False),
    ("2026-03-02T23:00:00-05:00", False),  # 05:00 the next day in Paris
])
def test_time_window_condition_with_a_frozen_time_in_evaluate(time: str, allowed: bool, world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Office hours", subjects=["role:viewer"],
            condition='!timeBetween(request.time, "09:00", "17:30", "Europe/Paris")')
    response = evaluate(owner, world.acme, "members:read",
                        subject={"type": "user", "id": str(world.people["viewer"].pk)}, context={"time": time})
    assert response.status_code == 200, response.content
    assert response.json()["allowed"] is allowed


def test_mfa_age_condition_sees_minus_one_without_a_second_factor(world: World) -> None:
    created(client_of(world, "owner"), world.acme, name="Recent MFA to invite", actions=["members:invite"],
            condition="request.mfa_age < 0 || request.mfa_age > 300")
    assert invite(client_of(world, "owner"), world.acme).status_code == 403  # a password-only token: -1
    assert invite(mfa_client("owner@example.com"), world.acme).status_code == 201
    owner = client_of(world, "owner")
    assert evaluate(owner, world.acme, "members:invite", context={"mfa_age": 60}).json()["allowed"] is True
    assert evaluate(owner, world.acme, "members:invite", context={"mfa_age": 301}).json()["allowed"] is False


def test_attribute_conditions_on_subject_organization_and_resource(world: World) -> None:
    owner = client_of(world, "owner")
    partner = UserFactory(email="pat@partner.test")
    member_add(organization=world.acme, user=partner, role="viewer", actor=world.people["owner"], source="test")
    created(owner, world.acme, name="Partners invite", effect="allow", actions=["members:invite"],
            condition='subject.email.endsWith("@partner.test")')
    assert invite(signed_in("pat@partner.test"), world.acme).status_code == 201
    assert invite(client_of(world, "viewer"), world.acme, "other@example.com").status_code == 403

    created(owner, world.acme, name="Not in acme", condition='organization.slug == "globex"')
    assert members(owner, world.acme) == 200
    created(owner, world.acme, name="Not in acme either", condition='organization.slug == "acme"')
    assert members(owner, world.acme) == 403

    created(owner, world.acme, name="Team objects", actions=["teams:manage"], condition='resource.type == "team"')
    team = {"type": "team", "id": str(world.core.pk)}
    assert check(owner, world.acme, "teams:manage", resource=team)["allowed"] is False
    assert check(owner, world.acme, "teams:manage")["allowed"] is True  # the organization itself


def test_a_deny_whose_condition_fails_to_evaluate_denies_and_is_logged(world: World, caplog: pytest.LogCaptureFixture
                                                                         ) -> None:
    # Compiles (the sample request took the first branch); with no second factor it reaches the bad CIDR.
    created(client_of(world, "owner"), world.acme, name="Broken", effect="deny", actions=["members:read"],
            condition='request.mfa_age >= 0 || inCidr(request.ip, "not-a-cidr")')
    owner = client_of(world, "owner")
    with caplog.at_level(logging.WARNING, logger="apps.rbac.policies"):
        response = owner.get(f"/api/v1/organizations/{world.acme.pk}/members")
    assert response.status_code == 403  # even the owner, whose role holds members:read: a failing deny denies
    assert "denied by policy 'Broken'" in response.json()["detail"]
    assert any("Broken" in r.getMessage() and "not-a-cidr" in r.getMessage() for r in caplog.records)
    failed = AuditEvent.objects.filter(organization_id=world.acme.pk, action="policy.evaluation_failed").get()
    assert failed.metadata["permission"] == "members:read" and "not-a-cidr" in failed.metadata["error"]
    owner.get(f"/api/v1/organizations/{world.acme.pk}/members")  # fails again: logged, not audited again
    assert AuditEvent.objects.filter(action="policy.evaluation_failed").count() == 1
    assert members(mfa_client("owner@example.com"), world.acme) == 403  # the condition holds: a plain deny


def test_an_allow_whose_condition_fails_to_evaluate_does_not_allow(world: World) -> None:
    created(client_of(world, "owner"), world.acme, name="Broken allow", effect="allow", actions=["audit:read"],
            subjects=["role:viewer"], condition='request.mfa_age >= 0 || inCidr(request.ip, "not-a-cidr")')
    audit_logs = f"/api/v1/organizations/{world.acme.pk}/audit-logs"
    assert client_of(world, "viewer").get(audit_logs).status_code == 403
    assert members(client_of(world, "viewer"), world.acme) == 200  # what the viewer's role allows stays allowed


def test_expired_and_disabled_policies_are_ignored(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    created(owner, world.acme, name="Disabled", subjects=["role:viewer"], enabled=False)
    assert members(viewer, world.acme) == 200
    created(owner, world.acme, name="Expiring", subjects=["role:viewer"],
            expires_at=(timezone.now() + dt.timedelta(hours=1)).isoformat())
    assert members(viewer, world.acme) == 403
    later = timezone.now() + dt.timedelta(hours=1, seconds=1)  # the decision service's clock moves on
    monkeypatch.setattr("apps.rbac.services.decisions.timezone", SimpleNamespace(now=lambda: later))
    assert members(viewer, world.acme) == 200  # same client, same cached policy set: expiry is checked per request
    trace = evaluate(owner, world.acme, "members:read", subject={"type": "user", "id": str(world.people["viewer"].pk)}
                     ).json()["decision"]
    [entry] = [e for e in trace if e.get("name") == "Expiring"]
    assert entry["matched"] is False and entry["why"].startswith("expired at")
    assert not [e for e in trace if e.get("name") == "Disabled"]


# POST /policies/evaluate ----------------------------------------------------------------------------

def test_evaluate_explains_every_role_and_policy_considered(world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Viewers invite", effect="allow", actions=["members:invite"],
            subjects=["role:viewer"], priority=7)
    created(owner, world.acme, name="Teams only", actions=["teams:*"])
    response = evaluate(owner, world.acme, "members:invite",
                        subject={"type": "user", "id": str(world.people["viewer"].pk)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["allowed"], body["reason"]) == (True, "allowed by policy 'Viewers invite' (priority 7)")
    by_kind = {(e["kind"], e.get("name")): e for e in body["decision"]}
    assert by_kind[("role", "viewer")]["matched"] is False
    assert by_kind[("policy", "Viewers invite")]["matched"] is True
    assert by_kind[("policy", "Teams only")]["matched"] is False
    assert "no action pattern matches members:invite" in by_kind[("policy", "Teams only")]["why"]

    mine = evaluate(owner, world.acme, "members:invite").json()  # default subject: me
    assert mine["allowed"] is True and mine["reason"] == "allowed by role owner"


def test_evaluate_uses_the_context_ip_and_resource(world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Office", actions=["teams:*"], resources=[f"team:{world.core.pk}"],
            condition='!inCidr(request.ip, "10.0.0.0/8")')
    core = {"type": "team", "id": str(world.core.pk)}
    assert evaluate(owner, world.acme, "teams:manage", resource=core, context={"ip": "10.0.0.1"}).json()["allowed"]
    assert not evaluate(owner, world.acme, "teams:manage", resource=core, context={"ip": "192.0.2.1"}).json()["allowed"]
    other = {"type": "team", "id": str(uuid.uuid4())}
    assert evaluate(owner, world.acme, "teams:manage", resource=other, context={"ip": "192.0.2.1"}).json()["allowed"]


def test_evaluate_passes_context_attributes_to_conditions(world: World) -> None:
    owner = client_of(world, "owner")
    created(owner, world.acme, name="Not in prod", actions=["teams:manage"],
            condition='has(request.context.env) && request.context.env == "prod"')
    assert evaluate(owner, world.acme, "teams:manage", context={"attributes": {"env": "dev"}}).json()["allowed"]
    assert not evaluate(owner, world.acme, "teams:manage", context={"attributes": {"env": "prod"}}).json()["allowed"]


@pytest.mark.parametrize(("_case", "body", "status", "field"), [
    ("unknown permission", {"permission": "members:fly"}, 400, "permission"),
    ("unknown resource type", {"resource": {"type": "galaxy", "id": "x"}}, 400, "resource.type"),
    ("bad ip", {"context": {"ip": "999.1.1.1"}}, 400, "context.ip"),
    ("bad time", {"context": {"time": "yesterday"}}, 400, "context.time"),
    ("unknown subject", {"subject": {"type": "user", "id": str(uuid.uuid4())}}, 404, None),
    ("malformed subject", {"subject": {"type": "user", "id": "nope"}}, 404, None),
    ("unknown key", {"subject": {"type": "api_key", "id": str(uuid.uuid4())}}, 404, None),
])
def test_evaluate_refuses_bad_input(_case: str, body: dict, status: int, field: str | None, world: World) -> None:
    body = {"permission": "members:read", **body}
    response = evaluate(client_of(world, "owner"), world.acme, **body)
    assert response.status_code == status, response.content
    if field:
        assert field in field_errors(response), response.json()


def test_evaluate_refuses_a_subject_from_another_organization(world: World) -> None:
    response = evaluate(client_of(world, "owner"), world.acme, "members:read",
                        subject={"type": "user", "id": str(world.people["rival"].pk)})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


# Cache invalidation: the next request sees each change -------------------------------------------

def test_policy_changes_take_effect_on_the_next_request(world: World) -> None:
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    assert members(viewer, world.acme) == 200
    policy = created(owner, world.acme, name="No listing", subjects=["role:viewer"])
    assert members(viewer, world.acme) == 403  # created
    owner.patch(f"/api/v1/policies/{policy['id']}", {"subjects": ["role:member"]}, format="json")
    assert members(viewer, world.acme) == 200  # subjects changed
    owner.patch(f"/api/v1/policies/{policy['id']}", {"subjects": ["role:viewer"]}, format="json")
    assert members(viewer, world.acme) == 403
    owner.patch(f"/api/v1/policies/{policy['id']}", {"enabled": False}, format="json")
    assert members(viewer, world.acme) == 200  # disabled
    owner.patch(f"/api/v1/policies/{policy['id']}", {"enabled": True}, format="json")
    assert members(viewer, world.acme) == 403  # enabled again
    assert owner.delete(f"/api/v1/policies/{policy['id']}").status_code == 204
    assert members(viewer, world.acme) == 200  # deleted


def test_a_member_role_change_takes_effect_on_the_next_request(world: World) -> None:
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    created(owner, world.acme, name="No listing", subjects=["role:viewer"])
    assert members(viewer, world.acme) == 403
    url = f"/api/v1/organizations/{world.acme.pk}/members/{world.people['viewer'].pk}"
    assert owner.patch(url, {"role": "member"}, format="json").status_code == 200
    assert members(viewer, world.acme) == 200
    assert owner.patch(url, {"role": "viewer"}, format="json").status_code == 200
    assert members(viewer, world.acme) == 403


def test_team_membership_changes_take_effect_on_the_next_request(world: World) -> None:
    owner, viewer = client_of(world, "owner"), client_of(world, "viewer")
    created(owner, world.acme, name="Not for Core", subjects=[f"team:{world.core.pk}"])
    assert members(viewer, world.acme) == 200
    url = f"/api/v1/teams/{world.core.pk}/members/{world.people['viewer'].pk}"
    assert owner.put(url).status_code == 201
    assert members(viewer, world.acme) == 403
    assert owner.delete(url).status_code == 204
    assert members(viewer, world.acme) == 200


def test_a_team_role_change_takes_effect_on_the_next_request(world: World) -> None:
    owner, member = client_of(world, "owner"), client_of(world, "member")  # the member is in Core
    created(owner, world.acme, name="No listing for billing", subjects=["role:billing"])
    assert members(member, world.acme) == 200
    assert owner.patch(f"/api/v1/teams/{world.core.pk}", {"role": "billing"}, format="json").status_code == 200
    assert members(member, world.acme) == 403
    assert owner.patch(f"/api/v1/teams/{world.core.pk}", {"role": None}, format="json").status_code == 200
    assert members(member, world.acme) == 200


def test_a_custom_role_permission_change_takes_effect_on_the_next_request(world: World) -> None:
    owner = client_of(world, "owner")
    role = owner.post(f"/api/v1/organizations/{world.acme.pk}/roles",
                      {"name": "support", "permissions": ["members:read"]}, format="json")
    assert role.status_code == 201, role.content
    url = f"/api/v1/organizations/{world.acme.pk}/members/{world.people['viewer'].pk}"
    assert owner.patch(url, {"role": "support"}, format="json").status_code == 200
    viewer = client_of(world, "viewer")
    assert members(viewer, world.acme) == 200
    response = owner.patch(f"/api/v1/roles/{role.json()['id']}", {"permissions": ["teams:read"]}, format="json")
    assert response.status_code == 200, response.content
    assert members(viewer, world.acme) == 403
    # ...and a policy naming the custom role follows whoever holds it.
    owner.patch(f"/api/v1/roles/{role.json()['id']}", {"permissions": ["members:read"]}, format="json")
    assert members(viewer, world.acme) == 200
    created(owner, world.acme, name="Not for support", subjects=["role:support"])
    assert members(viewer, world.acme) == 403
