"""Access control pages under /orgs/<org_id>/ (apps/rbac/pages.py), with the Django test client, signed in
through the sign-in page as people are."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from apps.orgs.models import Membership, Organization, Team
from apps.orgs.services.teams import team_create
from apps.rbac.models import ApiKey, Policy, Role, TeamObjectGrant, UserObjectGrant
from apps.rbac.services.apikeys import apikey_create
from apps.rbac.services.decisions import user_caller
from apps.rbac.services.grants import grant_create
from apps.rbac.services.policies import policy_create
from apps.rbac.services.roles import role_create
from tests.accounts.helpers import PASSWORD
from tests.orgs.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    team: Team
    role: Role  # acme's custom role "support"
    policy: Policy  # acme's policy "office-network"
    foreign_role: Role  # globex's custom role
    foreign_team: Team
    foreign_key: ApiKey

    def url(self, page: str, org: Organization | None = None) -> str:
        return f"/orgs/{(org or self.acme).pk}/{page}"


@pytest.fixture
def world() -> World:
    """Acme: owner, admin, member, viewer, billing; a team, a custom role, a policy. Globex: the stranger's
    organization, with its own custom role, team and key."""
    acme = OrganizationFactory(name="Acme Rockets", slug="acme")
    people = {}
    for role in ("owner", "admin", "member", "viewer", "billing"):
        people[role] = MembershipFactory(organization=acme, role=role, user__email=f"{role}@example.com").user
    globex = OrganizationFactory(name="Globex", slug="globex")
    people["stranger"] = MembershipFactory(organization=globex, owner=True, user__email="stranger@example.com").user
    owner, stranger = people["owner"], people["stranger"]
    team = team_create(organization=acme, actor=owner, name="Launch")
    role = role_create(organization=acme, actor=owner, caller=user_caller(user=owner, organization=acme),
                       name="support", permissions=["members:read", "teams:read"], description="Helpdesk")
    policy = policy_create(organization=acme, actor=owner, caller=None, name="office-network", effect="allow",
                           priority=10, actions=["audit:read"], subjects=["role:member"],
                           condition='inCidr(request.ip, "10.0.0.0/8")')
    foreign_role = role_create(organization=globex, actor=stranger,
                               caller=user_caller(user=stranger, organization=globex), name="spy",
                               permissions=["members:read"])
    foreign_team = team_create(organization=globex, actor=stranger, name="Spies")
    foreign_key, _ = apikey_create(organization=globex, actor=stranger, name="Globex CI", scopes=["members:read"])
    return World(acme=acme, globex=globex, people=people, team=team, role=role, policy=policy,
                 foreign_role=foreign_role, foreign_team=foreign_team, foreign_key=foreign_key)


def browser(user: User) -> Client:
    """A browser signed in through the sign-in page (CSRF checked, as in a real browser)."""
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD,
                                                "csrfmiddlewaretoken": _token(client, "/accounts/login/")})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def _token(client: Client, path: str) -> str:
    client.get(path)
    return client.cookies["csrftoken"].value


def post(client: Client, path: str, data: dict) -> object:
    """A form POST with the CSRF token, as the page's own forms send it."""
    return client.post(path, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def alert(html: str) -> str:
    """The text of the page's error alert."""
    found = re.search(r'<div class="alert alert--error" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no error alert on the page"
    return html_lib.unescape(found.group(1).strip())


def field_errors(html: str, field_id: str) -> list[str]:
    found = re.search(rf'<ul class="field__errors" id="{field_id}_error">(.*?)</ul>', html, re.S)
    return [html_lib.unescape(e) for e in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)] if found else []


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


PAGES = ["roles/", "policies/", "api-keys/", "grants/"]


# --- who sees what ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "text"), [
    ("roles/", "support"), ("policies/", "office-network"), ("api-keys/", "No API key yet."),
    ("grants/", "No grant yet."),
])
def test_each_page_renders_for_a_permitted_member(world: World, page: str, text: str) -> None:
    response = browser(world.people["admin"]).get(world.url(page))

    assert response.status_code == 200
    html = response.content.decode()
    assert text in html and "Acme Rockets" in html
    assert "orgs/layout.html" in [t.name for t in response.templates]
    for other in ("Globex CI", "spy", "Spies"):  # nothing of the other tenant
        assert other not in html


def test_the_tabs_follow_the_members_permissions(world: World) -> None:
    admin = browser(world.people["admin"]).get(world.url("")).content.decode()
    viewer = browser(world.people["viewer"]).get(world.url("")).content.decode()

    for page in PAGES:
        assert f'href="{world.url(page)}"' in admin
    assert f'href="{world.url("roles/")}"' in viewer  # member and viewer read roles
    for page in ("policies/", "api-keys/", "grants/"):
        assert f'href="{world.url(page)}"' not in viewer


@pytest.mark.parametrize("page", [*PAGES, "roles/{role}/", "policies/{policy}/"])
def test_a_stranger_gets_404_and_changes_nothing(world: World, page: str) -> None:
    client = browser(world.people["stranger"])
    path = world.url(page.format(role=world.role.pk, policy=world.policy.pk))

    assert client.get(path).status_code == 404
    for action in ("create", "update", "delete", "evaluate", "revoke", "rotate", "grant"):
        body = {"action": action, "role-name": "hacked", "policy-name": "hacked", "policy-effect": "allow",
                "policy-actions": "*", "policy-priority": "0", "key-name": "stolen", "key-scopes": "members:read"}
        assert post(client, path, body).status_code == 404
    assert Role.objects.get(pk=world.role.pk).name == "support"
    assert Policy.objects.get(pk=world.policy.pk).name == "office-network"
    assert not Role.objects.filter(name="hacked").exists() and not Policy.objects.filter(name="hacked").exists()
    assert not ApiKey.objects.filter(organization=world.acme).exists()


def test_another_organizations_role_and_policy_are_404_under_mine(world: World) -> None:
    foreign_policy = policy_create(organization=world.globex, actor=world.people["stranger"], caller=None,
                                   name="theirs", effect="allow", actions=["members:read"])
    client = browser(world.people["owner"])

    assert client.get(world.url(f"roles/{world.foreign_role.pk}/")).status_code == 404
    assert post(client, world.url(f"roles/{world.foreign_role.pk}/"), {"action": "delete"}).status_code == 404
    assert client.get(world.url(f"policies/{foreign_policy.pk}/")).status_code == 404
    assert post(client, world.url(f"policies/{foreign_policy.pk}/"), {"action": "delete"}).status_code == 404
    assert client.get(world.url("roles/not-a-uuid/")).status_code == 404
    assert Role.objects.filter(pk=world.foreign_role.pk).exists()
    assert Policy.objects.filter(pk=foreign_policy.pk).exists()


@pytest.mark.parametrize(("role", "page", "permission"), [
    ("billing", "roles/", "roles:read"), ("member", "policies/", "policies:read"),
    ("member", "api-keys/", "apikeys:read"), ("viewer", "grants/", "grants:manage"),
    ("billing", "roles/{role}/", "roles:read"), ("member", "policies/{policy}/", "policies:read"),
])
def test_a_member_without_the_permission_is_told_why(world: World, role: str, page: str, permission: str) -> None:
    response = browser(world.people[role]).get(world.url(page.format(role=world.role.pk, policy=world.policy.pk)))

    assert response.status_code == 403
    text = re.search(r'<div class="alert alert--error" role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert text and f"lacks the permission {permission}" in text.group(1)


def test_pages_need_a_signed_in_user(world: World) -> None:
    response = Client().get(world.url("roles/"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_posts_need_the_csrf_token(world: World) -> None:
    client = browser(world.people["owner"])

    response = client.post(world.url("roles/"), {"action": "create", "role-name": "forged",
                                                 "role-permissions": ["members:read"]})

    assert response.status_code == 403
    assert not Role.objects.filter(name="forged").exists()



# --- roles ------------------------------------------------------------------------------------------


def test_create_edit_and_delete_a_custom_role(world: World) -> None:
    client = browser(world.people["admin"])

    response = post(client, world.url("roles/"), {
        "action": "create", "role-name": "auditor", "role-description": "Reads the log",
        "role-permissions": ["members:read", "audit:read"], "role-parent": "viewer"})

    role = Role.objects.get(organization=world.acme, name="auditor")
    assert (response.status_code, response["Location"]) == (302, world.url(f"roles/{role.pk}/"))
    assert (role.permissions, role.parent.name, role.description) == (["audit:read", "members:read"], "viewer",
                                                                      "Reads the log")
    page = client.get(response["Location"]).content.decode()
    assert "The role auditor was created." in page
    effective = re.search(r'id="role-effective">(.*?)</dd>', page, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", effective) == ["audit:read", "members:read", "org:read", "roles:read",
                                                              "teams:read"]
    checked = re.findall(r'<input type="checkbox" name="role-permissions" value="([^"]+)"[^>]* checked>', page)
    assert checked == ["audit:read", "members:read"]

    response = post(client, world.url(f"roles/{role.pk}/"), {
        "action": "update", "role-name": "log-reader", "role-description": "", "role-permissions": ["audit:read"],
        "role-parent": ""})
    assert (response.status_code, response["Location"]) == (302, world.url(f"roles/{role.pk}/"))
    role.refresh_from_db()
    assert (role.name, role.permissions, role.parent_id, role.description) == ("log-reader", ["audit:read"], None, "")

    response = post(client, world.url(f"roles/{role.pk}/"), {"action": "delete"})
    assert (response.status_code, response["Location"]) == (302, world.url("roles/"))
    assert not Role.objects.filter(pk=role.pk).exists()
    trail = AuditEvent.objects.filter(target_id=str(role.pk)).order_by("seq")
    assert [(e.action, e.actor_id) for e in trail] == [(action, str(world.people["admin"].pk)) for action in
                                                        ("role.created", "role.updated", "role.deleted")]
    assert "The role log-reader was deleted." in client.get(world.url("roles/")).content.decode()


def test_a_role_in_use_is_not_deleted_and_the_page_says_why(world: World) -> None:
    from apps.orgs.services.organizations import member_change_role

    member = Membership.objects.get(organization=world.acme, user=world.people["member"])
    member_change_role(organization=world.acme, member=member, role="support", actor=world.people["owner"])

    response = post(browser(world.people["owner"]), world.url(f"roles/{world.role.pk}/"), {"action": "delete"})

    assert response.status_code == 409
    assert alert(response.content.decode()) == "The role support is still used by 1 member; reassign them first."
    assert Role.objects.filter(pk=world.role.pk).exists() and events("role.deleted") == []


def test_a_role_holding_more_than_its_author_is_refused(world: World) -> None:
    client = browser(world.people["admin"])  # admin: everything but org:delete, org:transfer, billing:manage

    mighty = post(client, world.url("roles/"), {"action": "create", "role-name": "mighty",
                                                "role-permissions": ["members:read", "org:delete"]})
    heir = post(client, world.url("roles/"), {"action": "create", "role-name": "heir", "role-parent": "owner"})
    grown = post(client, world.url(f"roles/{world.role.pk}/"), {
        "action": "update", "role-name": "support", "role-permissions": ["members:read", "billing:manage"]})

    assert (mighty.status_code, heir.status_code, grown.status_code) == (403, 403, 403)
    assert alert(mighty.content.decode()) == "The role mighty would give org:delete, which you do not hold."
    assert alert(heir.content.decode()) == ("The role heir would give billing:manage, org:delete, org:transfer, "
                                            "which you do not hold.")
    assert "billing:manage" in alert(grown.content.decode())
    assert not Role.objects.filter(name__in=["mighty", "heir"]).exists()
    assert Role.objects.get(pk=world.role.pk).permissions == ["members:read", "teams:read"]
    assert sorted(e.metadata["name"] for e in events("role.created")) == ["spy", "support"]  # the fixture's only
    assert events("role.updated") == []


@pytest.mark.parametrize(("name", "status", "message"), [
    ("support", 409, "A role named 'support' exists in this organization."),
    ("owner", 400, "'owner' is a system role's name."),
    ("Bad Name", 400, "2–50 lowercase letters, digits, '-' or '_', starting with a letter or digit."),
])
def test_an_invalid_role_name_is_shown_on_its_field(world: World, name: str, status: int, message: str) -> None:
    response = post(browser(world.people["owner"]), world.url("roles/"), {
        "action": "create", "role-name": name, "role-permissions": ["members:read"]})

    assert response.status_code == status
    assert field_errors(response.content.decode(), "id_role-name") == [message]
    assert list(Role.objects.filter(organization=world.acme).values_list("name", flat=True)) == ["support"]


def test_another_organizations_role_is_neither_offered_nor_accepted_as_parent(world: World) -> None:
    client = browser(world.people["owner"])
    assert 'value="spy"' not in client.get(world.url("roles/")).content.decode()

    response = post(client, world.url("roles/"), {"action": "create", "role-name": "mole", "role-parent": "spy"})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "id_role-parent") == [
        "Select a valid choice. spy is not one of the available choices."]
    assert not Role.objects.filter(name="mole").exists()


def test_a_member_reads_roles_but_cannot_change_them(world: World) -> None:
    client = browser(world.people["member"])
    listing = client.get(world.url("roles/")).content.decode()
    detail = client.get(world.url(f"roles/{world.role.pk}/")).content.decode()
    assert "support" in listing and "Create a custom role" not in listing
    assert "Helpdesk" in detail and "Change the role" not in detail and "Delete support" not in detail

    create = post(client, world.url("roles/"), {"action": "create", "role-name": "mine",
                                                "role-permissions": ["members:read"]})
    delete = post(client, world.url(f"roles/{world.role.pk}/"), {"action": "delete"})

    assert (create.status_code, delete.status_code) == (403, 403)
    assert alert(create.content.decode()) == "Your role (member) lacks the permission roles:manage."
    assert not Role.objects.filter(name="mine").exists() and Role.objects.filter(pk=world.role.pk).exists()


def test_system_roles_are_read_only(world: World) -> None:
    client = browser(world.people["owner"])
    admin_role = Role.objects.get(name="admin", organization__isnull=True)

    page = client.get(world.url(f"roles/{admin_role.pk}/")).content.decode()
    update = post(client, world.url(f"roles/{admin_role.pk}/"), {"action": "update", "role-name": "boss",
                                                                  "role-permissions": ["members:read"]})
    delete = post(client, world.url(f"roles/{admin_role.pk}/"), {"action": "delete"})

    assert "System role (cannot be changed)" in page and 'name="role-name"' not in page
    assert (update.status_code, delete.status_code) == (403, 403)
    assert alert(update.content.decode()) == "System roles cannot be changed; create a custom role instead."
    assert alert(delete.content.decode()) == "System roles cannot be deleted."
    assert Role.objects.get(pk=admin_role.pk).name == "admin"


# --- policies -----------------------------------------------------------------------------------------


def _policy_form(**changes: str) -> dict[str, str]:
    data = {"action": "create", "policy-name": "keys-need-mfa", "policy-description": "", "policy-effect": "deny",
            "policy-priority": "100", "policy-actions": "apikeys:manage\napikeys:read", "policy-resources": "",
            "policy-subjects": "role:admin", "policy-condition": "request.mfa_age < 0", "policy-enabled": "on",
            "policy-expires_at": ""}
    return {**data, **{f"policy-{k}" if k != "action" else k: v for k, v in changes.items()}}


def test_create_edit_and_delete_a_policy(world: World) -> None:
    client = browser(world.people["owner"])

    response = post(client, world.url("policies/"), _policy_form())

    policy = Policy.objects.get(organization=world.acme, name="keys-need-mfa")
    assert (response.status_code, response["Location"]) == (302, world.url(f"policies/{policy.pk}/"))
    assert (policy.effect, policy.priority, policy.actions, policy.subjects, policy.condition, policy.enabled) == \
        ("deny", 100, ["apikeys:manage", "apikeys:read"], ["role:admin"], "request.mfa_age < 0", True)
    page = client.get(response["Location"]).content.decode()
    assert "The policy keys-need-mfa was created." in page and "request.mfa_age &lt; 0</textarea>" in page

    response = post(client, world.url(f"policies/{policy.pk}/"), _policy_form(action="update", priority="200"))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.priority == 200
    assert events("policy.updated")[-1].changes == {"priority": [100, 200]}  # only what was edited

    response = post(client, world.url(f"policies/{policy.pk}/"), {"action": "delete"})
    assert (response.status_code, response["Location"]) == (302, world.url("policies/"))
    assert not Policy.objects.filter(pk=policy.pk).exists()
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(policy.pk)).order_by("seq")] == [
        "policy.created", "policy.updated", "policy.deleted"]


def test_an_invalid_condition_shows_the_parsers_message_on_its_field(world: World) -> None:
    from apps.rbac.conditions import InvalidCondition, compile_condition

    with pytest.raises(InvalidCondition) as parsed:
        compile_condition("request.ip ==")

    response = post(browser(world.people["owner"]), world.url("policies/"), _policy_form(condition="request.ip =="))

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "id_policy-condition") == [str(parsed.value)]
    assert not Policy.objects.filter(name="keys-need-mfa").exists()
    assert [e.metadata["name"] for e in events("policy.created")] == ["office-network"]  # the fixture's only


def test_a_condition_error_on_edit_changes_nothing(world: World) -> None:
    response = post(browser(world.people["owner"]), world.url(f"policies/{world.policy.pk}/"), _policy_form(
        action="update", name="office-network", effect="allow", priority="10", actions="audit:read",
        subjects="role:member", condition="subject.nickname == 'x'"))

    assert response.status_code == 400
    assert "Unknown attribute subject.nickname" in field_errors(response.content.decode(), "id_policy-condition")[0]
    assert Policy.objects.get(pk=world.policy.pk).condition == 'inCidr(request.ip, "10.0.0.0/8")'


def test_an_allow_policy_beyond_the_authors_permissions_is_refused(world: World) -> None:
    response = post(browser(world.people["admin"]), world.url("policies/"), _policy_form(
        name="self-promotion", effect="allow", actions="org:*", condition=""))

    assert response.status_code == 403
    assert alert(response.content.decode()) == ("The policy 'self-promotion' would give org:delete, org:transfer, "
                                                "which you do not hold.")
    assert not Policy.objects.filter(name="self-promotion").exists()


def _trace(html: str) -> list[tuple[str, ...]]:
    body = re.search(r'<table class="table" id="evaluation-trace">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [tuple(html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                                 row, re.S))
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_evaluate_shows_the_decision_and_its_trace(world: World) -> None:
    client = browser(world.people["admin"])
    form = {"action": "evaluate", "evaluate-permission": "audit:read", "evaluate-subject": "MEMBER@example.com"}

    inside = post(client, world.url("policies/"), {**form, "evaluate-ip": "10.1.2.3"})
    outside = post(client, world.url("policies/"), {**form, "evaluate-ip": "192.0.2.1"})

    assert (inside.status_code, outside.status_code) == (200, 200)
    html = inside.content.decode()
    result = html_lib.unescape(re.search(r'id="evaluation-result">(.*?)</div>', html, re.S).group(1))
    assert "Allowed" in result and "member@example.com" in result
    assert "allowed by policy 'office-network' (priority 10)" in result
    assert _trace(html) == [("role", "member", "No", "role member does not grant audit:read"),
                            ("policy", "office-network (allow, priority 10)", "Yes", _trace(html)[1][3])]
    other = _trace(outside.content.decode())
    assert "Denied" in outside.content.decode()
    assert other[1][:3] == ("policy", "office-network (allow, priority 10)", "No")
    assert other[1][3] == "its condition is false"


@pytest.mark.parametrize(("_case", "data", "status", "where", "message"), [
    ("stranger", {"evaluate-subject": "stranger@example.com"}, 404, "alert",
     "No member of this organization has that e-mail address."),
    ("unknown id", {"evaluate-subject": "00000000-0000-0000-0000-000000000000"}, 404, "alert",
     "No such member in this organization."),
    ("half a resource", {"evaluate-resource_type": "team"}, 400, "id_evaluate-resource_id",
     "Give both the resource's type and its id, or neither."),
])
def test_evaluate_refusals_are_shown(world: World, _case: str, data: dict, status: int, where: str,
                                     message: str) -> None:
    response = post(browser(world.people["admin"]), world.url("policies/"), {
        "action": "evaluate", "evaluate-permission": "members:read", **data})

    assert response.status_code == status
    html = response.content.decode()
    assert (alert(html) if where == "alert" else field_errors(html, where)[0]) == message
    assert 'id="evaluation-result"' not in html


# --- API keys -----------------------------------------------------------------------------------------


def _key_form(**changes: object) -> dict[str, object]:
    return {"action": "create", "key-name": "CI deploy", "key-scopes": ["members:read", "teams:read"],
            "key-expires_at": "", "key-allowed_ips": "", **{f"key-{k}": v for k, v in changes.items()}}


def _secret(html: str) -> str | None:
    found = re.search(r'<code id="new-key-secret">([^<]+)</code>', html)
    return found.group(1) if found else None


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_new_key_is_shown_once_with_no_store_and_never_again(world: World) -> None:
    client = browser(world.people["admin"])

    response = post(client, world.url("api-keys/"), _key_form(allowed_ips="127.0.0.1\n10.0.0.0/8"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    secret = _secret(html)
    key = ApiKey.objects.get(organization=world.acme)
    assert secret is not None and re.fullmatch(rf"plk_{key.prefix}_[A-Za-z0-9_-]{{43}}", secret)
    assert "shown only this once" in html
    assert (key.name, key.scopes, key.allowed_ips, key.created_by) == (
        "CI deploy", ["members:read", "teams:read"], ["127.0.0.1/32", "10.0.0.0/8"], world.people["admin"])
    assert _api(secret).get(f"/api/v1/organizations/{world.acme.pk}/members").status_code == 200  # a real key

    again = client.get(world.url("api-keys/"))
    assert again.status_code == 200 and _secret(again.content.decode()) is None
    assert secret not in again.content.decode() and f"plk_{key.prefix}_…" in again.content.decode()
    assert all(secret not in str(e.metadata) for e in events("apikey.created"))
    assert secret not in str(dict(client.session))  # not kept for a later page (messages, session)


def test_creating_a_key_needs_a_recent_sign_in_then_works_after_reauthenticating(world: World) -> None:
    client = browser(world.people["admin"])
    UserSession.objects.filter(user=world.people["admin"]).update(auth_time=timezone.now() - timedelta(minutes=11))
    link = f'href="/accounts/reauthenticate/?next=%2Forgs%2F{world.acme.pk}%2Fapi-keys%2F"'
    assert link in client.get(world.url("api-keys/")).content.decode()  # said before anything is typed

    refused = post(client, world.url("api-keys/"), _key_form())

    assert refused.status_code == 403
    assert alert(refused.content.decode()).startswith("Creating or rotating an API key hands out its secret")
    assert link in refused.content.decode() and _secret(refused.content.decode()) is None
    assert not ApiKey.objects.filter(organization=world.acme).exists()

    assert post(client, "/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    created = post(client, world.url("api-keys/"), _key_form())
    assert created.status_code == 200 and _secret(created.content.decode()) is not None


def test_rotate_shows_the_new_secret_once_and_revoke_stops_the_key(world: World) -> None:
    client = browser(world.people["admin"])
    key, old = apikey_create(organization=world.acme, actor=world.people["owner"], name="Deploy",
                             scopes=["members:read"])

    rotated = post(client, world.url("api-keys/"), {"action": "rotate", "key_id": str(key.pk), "overlap_seconds": "0"})

    assert rotated.status_code == 200 and "no-store" in rotated["Cache-Control"]
    new = _secret(rotated.content.decode())
    assert new is not None and new != old and new.startswith(f"plk_{key.prefix}_")
    members = f"/api/v1/organizations/{world.acme.pk}/members"
    assert _api(old).get(members).status_code == 401 and _api(new).get(members).status_code == 200

    revoked = post(client, world.url("api-keys/"), {"action": "revoke", "key_id": str(key.pk)})

    assert (revoked.status_code, revoked["Location"]) == (302, world.url("api-keys/"))
    key.refresh_from_db()
    assert key.revoked_at is not None and _api(new).get(members).status_code == 401
    page = client.get(world.url("api-keys/")).content.decode()
    assert "was revoked; it no longer works." in page and "Revoked" in page
    changes = AuditEvent.objects.filter(target_id=str(key.pk)).exclude(action="apikey.rejected").order_by("seq")
    assert [(e.action, e.actor_id) for e in changes] == [("apikey.created", str(world.people["owner"].pk)),
                                                         ("apikey.rotated", str(world.people["admin"].pk)),
                                                         ("apikey.revoked", str(world.people["admin"].pk))]


def test_scopes_beyond_the_creators_permissions_are_refused(world: World) -> None:
    response = post(browser(world.people["admin"]), world.url("api-keys/"), _key_form(
        scopes=["members:read", "billing:manage"]))

    assert response.status_code == 403
    assert alert(response.content.decode()) == "The key's scopes would give billing:manage, which you do not hold."
    assert not ApiKey.objects.filter(organization=world.acme).exists()


def test_an_invalid_key_form_is_shown_on_its_fields(world: World) -> None:
    response = post(browser(world.people["admin"]), world.url("api-keys/"), _key_form(
        scopes=[], allowed_ips="not-a-network"))

    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, "id_key-scopes") == ["This field is required."]
    assert not ApiKey.objects.filter(organization=world.acme).exists()
    again = post(browser(world.people["admin"]), world.url("api-keys/"), _key_form(allowed_ips="not-a-network"))
    assert again.status_code == 400
    assert field_errors(again.content.decode(), "id_key-allowed_ips") == [
        "'not-a-network' is not an IP address or CIDR such as 203.0.113.0/24."]


def test_another_organizations_key_is_404_from_my_page_even_when_i_am_also_its_member(world: World) -> None:
    MembershipFactory(organization=world.globex, user=world.people["owner"], role="admin")
    client = browser(world.people["owner"])
    before = ApiKey.objects.values_list("secret_hash", "revoked_at").get(pk=world.foreign_key.pk)

    for action in ("revoke", "rotate"):
        response = post(client, world.url("api-keys/"), {"action": action, "key_id": str(world.foreign_key.pk)})
        assert response.status_code == 404
        assert alert(response.content.decode()) == "No such API key."
        assert _secret(response.content.decode()) is None

    assert ApiKey.objects.values_list("secret_hash", "revoked_at").get(pk=world.foreign_key.pk) == before


def test_a_reader_of_keys_cannot_create_rotate_or_revoke(world: World) -> None:
    from apps.orgs.services.organizations import member_change_role

    owner = world.people["owner"]
    role_create(organization=world.acme, actor=owner, caller=user_caller(user=owner, organization=world.acme),
                name="key-reader", permissions=["apikeys:read"], parent="viewer")
    viewer = Membership.objects.get(organization=world.acme, user=world.people["viewer"])
    member_change_role(organization=world.acme, member=viewer, role="key-reader", actor=owner)
    key, _ = apikey_create(organization=world.acme, actor=owner, name="Deploy", scopes=["members:read"])
    client = browser(world.people["viewer"])

    page = client.get(world.url("api-keys/")).content.decode()
    assert "Deploy" in page and "Create a key" not in page and 'value="revoke"' not in page
    for body in (_key_form(), {"action": "rotate", "key_id": str(key.pk)}, {"action": "revoke",
                                                                             "key_id": str(key.pk)}):
        response = post(client, world.url("api-keys/"), body)
        assert response.status_code == 403
        assert alert(response.content.decode()) == "Your role (key-reader) lacks the permission apikeys:manage."
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.filter(organization=world.acme).count() == 1
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(key.pk))] == ["apikey.created"]


# --- grants -------------------------------------------------------------------------------------------


def _grant_form(**changes: str) -> dict[str, str]:
    return {"action": "grant", "grant-member_email": "", "grant-team": "", "grant-permission": "teams:manage",
            "grant-resource": "", **{f"grant-{k}": v for k, v in changes.items()}}


def test_grant_to_a_member_by_email_then_revoke(world: World) -> None:
    client = browser(world.people["admin"])
    viewer = world.people["viewer"]

    response = post(client, world.url("grants/"), _grant_form(member_email="Viewer@Example.com",
                                                              resource=f"team:{world.team.pk}"))

    assert (response.status_code, response["Location"]) == (302, world.url("grants/"))
    row = UserObjectGrant.objects.get(organization=world.acme)
    assert (row.user, row.permission.codename, row.object_pk) == (viewer, "teams:manage", str(world.team.pk))
    html = client.get(world.url("grants/")).content.decode()
    listed = re.search(r"<tr data-grant=.*?</tr>", html, re.S).group(0)
    assert "viewer@example.com" in listed and "teams:manage" in listed and "team Launch" in listed
    assert "by admin@example.com" in listed

    response = post(client, world.url("grants/"), {
        "action": "revoke", "subject_type": "user", "subject_id": str(viewer.pk), "permission": "teams:manage",
        "resource_type": "team", "resource_id": str(world.team.pk)})

    assert response.status_code == 302
    assert not UserObjectGrant.objects.exists()
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="grant.").order_by("seq")] == [
        "grant.created", "grant.deleted"]


def test_grant_to_a_team(world: World) -> None:
    response = post(browser(world.people["admin"]), world.url("grants/"), _grant_form(
        team=str(world.team.pk), permission="audit:read", resource=f"organization:{world.acme.pk}"))

    assert response.status_code == 302
    row = TeamObjectGrant.objects.get(organization=world.acme)
    assert (row.team, row.permission.codename, row.object_pk) == (world.team, "audit:read", str(world.acme.pk))


@pytest.mark.parametrize(("_case", "changes", "field", "message"), [
    ("no subject", {}, "id_grant-member_email", "Choose a member or a team (one of them)."),
    ("both subjects", {"member_email": "viewer@example.com", "team": "{team}"}, "id_grant-member_email",
     "Choose a member or a team (one of them)."),
    ("a stranger", {"member_email": "stranger@example.com"}, "id_grant-member_email",
     "No member of this organization has this e-mail address."),
    ("another tenant's team as subject", {"team": "{foreign_team}"}, "id_grant-team",
     "Select a valid choice. {foreign_team} is not one of the available choices."),
    ("another tenant's team as object", {"member_email": "viewer@example.com", "resource": "team:{foreign_team}"},
     "id_grant-resource", "Select a valid choice. team:{foreign_team} is not one of the available choices."),
])
def test_grants_the_form_refuses(world: World, _case: str, changes: dict, field: str, message: str) -> None:
    ids = {"team": world.team.pk, "foreign_team": world.foreign_team.pk}
    data = {"resource": f"team:{world.team.pk}", **{k: v.format(**ids) for k, v in changes.items()}}

    response = post(browser(world.people["admin"]), world.url("grants/"), _grant_form(**data))

    assert response.status_code == 400
    assert field_errors(response.content.decode(), field) == [message.format(**ids)]
    assert not UserObjectGrant.objects.exists() and not TeamObjectGrant.objects.exists()


def test_granting_what_i_do_not_hold_is_refused(world: World) -> None:
    response = post(browser(world.people["admin"]), world.url("grants/"), _grant_form(
        member_email="viewer@example.com", permission="billing:manage", resource=f"team:{world.team.pk}"))

    assert response.status_code == 403
    assert "billing:manage" in alert(response.content.decode())
    assert not UserObjectGrant.objects.exists()


def test_another_organizations_grant_cannot_be_revoked_from_mine(world: World) -> None:
    stranger = world.people["stranger"]
    grant_create(organization=world.globex, actor=stranger, caller=user_caller(user=stranger,
                                                                               organization=world.globex),
                 subject_type="user", subject_id=str(stranger.pk), permission="teams:manage", resource_type="team",
                 resource_id=str(world.foreign_team.pk))

    response = post(browser(world.people["owner"]), world.url("grants/"), {
        "action": "revoke", "subject_type": "user", "subject_id": str(stranger.pk), "permission": "teams:manage",
        "resource_type": "team", "resource_id": str(world.foreign_team.pk)})

    assert response.status_code == 404
    assert alert(response.content.decode()) == "No such grant."
    assert UserObjectGrant.objects.filter(organization=world.globex).count() == 1


@pytest.mark.parametrize(("role", "page", "body"), [
    ("viewer", "grants/", {"action": "grant", "grant-member_email": "viewer@example.com",
                           "grant-permission": "teams:read", "grant-resource": "team:{team}"}),
    ("member", "policies/", {"action": "create", "policy-name": "mine", "policy-effect": "allow",
                             "policy-priority": "0", "policy-actions": "members:read"}),
    ("member", "api-keys/", {"action": "create", "key-name": "mine", "key-scopes": "members:read"}),
])
def test_posts_of_a_member_without_the_pages_permission_are_403_and_change_nothing(
        world: World, role: str, page: str, body: dict) -> None:
    response = post(browser(world.people[role]), world.url(page),
                    {k: v.format(team=world.team.pk) for k, v in body.items()})

    assert response.status_code == 403
    assert not UserObjectGrant.objects.exists() and not Policy.objects.filter(name="mine").exists()
    assert not ApiKey.objects.filter(organization=world.acme).exists()
