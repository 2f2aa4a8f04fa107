"""Every organization endpoint × every kind of caller, from one table.

MATRIX names, for each (method, route) that acts inside an organization, the permission it needs. A test walks
the URLconf and fails if a route under /api/v1/ is neither in MATRIX nor declared as not organization-scoped, so a
new endpoint cannot ship without its row. Each case then calls the endpoint as one caller and expects:

- anonymous: 401; a member of another organization: 404 (existence is not leaked);
- a member (system roles, a custom role) or an API key: allowed when the role's permissions (or the key's scopes)
  hold the table's permission, else 403 `permission_denied` (404 where the table says the refusal is a 404).

"Allowed" means the permission check let the request through: the endpoint may still answer 400 for the empty
body the matrix sends, 409 for a conflict, 403 `privilege_escalation` when the caller may act but not grant what
it lacks, and so on, but never 401, 404 or 403 `permission_denied` / `user_required`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.orgs.models import Domain, Invitation, Membership, Team, TeamMembership
from apps.orgs.roles import SystemRole, system_role_id
from apps.orgs.services.organizations import member_add, organization_create
from apps.rbac import catalog
from apps.rbac.models import ApiKey, Policy, Role
from apps.rbac.roles import system_role_permissions
from apps.rbac.services.apikeys import key_string, secret_hash
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.urlconf import METHODS, api_views

pytestmark = pytest.mark.django_db

ANY_MEMBER = "any member"  # no permission: every member of the organization (and its keys) may
USER_ONLY = {  # operations that need a person (recent authentication, or membership itself): keys get 401/403
    ("delete", "api/v1/organizations/<str:org_id>"),
    ("post", "api/v1/organizations/<str:org_id>/transfer-ownership"),
    ("post", "api/v1/organizations/<str:org_id>/leave"),
    ("post", "api/v1/organizations/<str:org_id>/api-keys"),
    ("post", "api/v1/api-keys/<str:key_id>/rotate"),
    ("patch", "api/v1/api-keys/<str:key_id>"),  # a key could lift its own expiry or network limits
}
DENIED_AS_404 = {  # the object is only visible with the permission: a refusal is a 404
    ("get", "api/v1/audit-logs/<str:event_id>"),
}

ORG = "api/v1/organizations/<str:org_id>"
MATRIX: dict[tuple[str, str], str] = {
    ("get", ORG): "org:read",
    ("patch", ORG): "org:update",
    ("delete", ORG): "org:delete",
    ("get", "api/v1/organizations/slug/<str:slug>"): "org:read",
    ("get", f"{ORG}/members"): "members:read",
    ("post", f"{ORG}/members/bulk"): "members:manage",
    ("patch", f"{ORG}/members/<str:user_id>"): "members:manage",
    ("delete", f"{ORG}/members/<str:user_id>"): "members:remove",
    ("post", f"{ORG}/leave"): ANY_MEMBER,
    ("post", f"{ORG}/transfer-ownership"): "org:transfer",
    ("get", f"{ORG}/invitations"): "members:invite",
    ("post", f"{ORG}/invitations"): "members:invite",
    ("post", f"{ORG}/invitations/bulk"): "members:invite",
    ("delete", "api/v1/invitations/<str:invitation_id>"): "members:invite",
    ("post", "api/v1/invitations/<str:invitation_id>/resend"): "members:invite",
    ("get", f"{ORG}/teams"): "teams:read",
    ("post", f"{ORG}/teams"): "teams:manage",
    ("get", "api/v1/teams/<str:team_id>"): "teams:read",
    ("patch", "api/v1/teams/<str:team_id>"): "teams:manage",
    ("delete", "api/v1/teams/<str:team_id>"): "teams:manage",
    ("get", "api/v1/teams/<str:team_id>/members"): "teams:read",
    ("put", "api/v1/teams/<str:team_id>/members/<str:user_id>"): "teams:manage",
    ("delete", "api/v1/teams/<str:team_id>/members/<str:user_id>"): "teams:manage",
    ("get", f"{ORG}/domains"): "org:read",
    ("post", f"{ORG}/domains"): "domains:manage",
    ("get", "api/v1/domains/<str:domain_id>"): "org:read",
    ("patch", "api/v1/domains/<str:domain_id>"): "domains:manage",
    ("delete", "api/v1/domains/<str:domain_id>"): "domains:manage",
    ("post", "api/v1/domains/<str:domain_id>/verify"): "domains:manage",
    ("get", f"{ORG}/audit-logs"): "audit:read",
    ("get", f"{ORG}/audit-logs/verify"): "audit:read",
    ("get", f"{ORG}/audit-logs/stats"): "audit:read",
    ("post", f"{ORG}/audit-logs/export"): "audit:read",
    ("get", "api/v1/audit-logs/<str:event_id>"): "audit:read",
    ("post", "api/v1/rbac/check"): ANY_MEMBER,
    ("post", "api/v1/rbac/check-bulk"): ANY_MEMBER,
    ("get", "api/v1/rbac/me/permissions"): ANY_MEMBER,
    ("get", f"{ORG}/roles"): "roles:read",
    ("post", f"{ORG}/roles"): "roles:manage",
    ("get", "api/v1/roles/<str:role_id>"): "roles:read",
    ("patch", "api/v1/roles/<str:role_id>"): "roles:manage",
    ("delete", "api/v1/roles/<str:role_id>"): "roles:manage",
    ("get", f"{ORG}/grants"): "grants:manage",
    ("post", f"{ORG}/grants"): "grants:manage",
    ("delete", f"{ORG}/grants"): "grants:manage",
    ("get", f"{ORG}/policies"): "policies:read",
    ("post", f"{ORG}/policies"): "policies:manage",
    ("post", "api/v1/policies/evaluate"): "policies:read",
    ("get", "api/v1/policies/<str:policy_id>"): "policies:read",
    ("patch", "api/v1/policies/<str:policy_id>"): "policies:manage",
    ("delete", "api/v1/policies/<str:policy_id>"): "policies:manage",
    ("get", f"{ORG}/api-keys"): "apikeys:read",
    ("post", f"{ORG}/api-keys"): "apikeys:manage",
    ("get", "api/v1/api-keys/<str:key_id>"): "apikeys:read",
    ("patch", "api/v1/api-keys/<str:key_id>"): "apikeys:manage",
    ("delete", "api/v1/api-keys/<str:key_id>"): "apikeys:manage",
    ("post", "api/v1/api-keys/<str:key_id>/rotate"): "apikeys:manage",
}
# Routes that act on the caller's own account or are public: no organization, so not in the matrix.
NOT_ORG_SCOPED = re.compile(r"^api/v1/(auth/|users/|sessions|mfa/|passkeys/|audit/event-types$|"
                            r"invitations/validate/|invitations/accept$|organizations$|rbac/permissions$)")

REFUSALS = {"permission_denied", "user_required"}  # the access check said no
CUSTOM_ROLE_PERMISSIONS = ["org:read", "members:read", "teams:read", "audit:read", "policies:read"]
ROLE_CALLERS = [*SystemRole.values, "custom"]
CALLERS = [*ROLE_CALLERS, "key with scope", "key without scope", "other tenant", "anonymous"]


def _api_operations() -> set[tuple[str, str]]:
    return {(method, route) for route, view in api_views() for method in METHODS if hasattr(view, method)}


def test_every_organization_endpoint_is_in_the_matrix_and_every_row_is_routed() -> None:
    routed = _api_operations()
    scoped = {(m, r) for m, r in routed if not NOT_ORG_SCOPED.match(r)}
    assert scoped - set(MATRIX) == set(), "add these operations to MATRIX with the permission they need"
    assert set(MATRIX) - routed == set(), "these MATRIX rows name no routed operation"
    assert {p for p in MATRIX.values() if p != ANY_MEMBER} <= catalog.codes()


@dataclass
class World:
    org: object
    people: dict
    ids: dict
    key_secret: str


@pytest.fixture
def world() -> World:
    owner = UserFactory(email="owner@matrix.test")
    org = organization_create(user=owner, name="Matrix", slug="matrix")
    people = {"owner": owner}
    custom = Role.objects.create(organization=org, name="auditor", permissions=CUSTOM_ROLE_PERMISSIONS)
    for role in [*SystemRole.values[1:], "custom", "target"]:
        people[role] = UserFactory(email=f"{role}@matrix.test")
        member_add(organization=org, user=people[role], role=custom if role == "custom" else
                   ("member" if role == "target" else role), actor=owner, source="test")
    team = Team.objects.create(organization=org, name="Core")
    TeamMembership.objects.create(team=team, membership=Membership.objects.get(organization=org,
                                                                                user=people["target"]))
    invitation = Invitation.objects.create(organization=org, email="new@matrix.test", invited_by=owner,
                                           role_id=system_role_id(SystemRole.MEMBER), token_hash=secrets.token_hex(32),
                                           expires_at="2099-01-01T00:00:00Z")
    domain = Domain.objects.create(organization=org, domain="matrix.test", verification_token="x")
    policy = Policy.objects.create(organization=org, name="Office", effect="allow", actions=["org:read"])
    other_role = Role.objects.create(organization=org, name="unused", permissions=["org:read"])
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey.objects.create(organization=org, name="ci", prefix=prefix, secret_hash=secret_hash(prefix, secret),
                                scopes=["org:read"])
    event = AuditEvent.objects.filter(organization_id=org.pk).first()
    stranger = UserFactory(email="stranger@other.test")
    organization_create(user=stranger, name="Other", slug="other-matrix")
    people["other tenant"] = stranger
    ids = {"org_id": org.pk, "slug": org.slug, "user_id": people["target"].pk, "team_id": team.pk,
           "invitation_id": invitation.pk, "domain_id": domain.pk, "event_id": event.pk, "role_id": other_role.pk,
           "policy_id": policy.pk, "key_id": key.pk}
    return World(org=org, people=people, ids=ids, key_secret=key_string(prefix, secret))


def _key_client(world: World, scopes: list[str]) -> APIClient:
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    ApiKey.objects.create(organization=world.org, name="matrix", prefix=prefix, secret_hash=secret_hash(prefix, secret),
                          scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_string(prefix, secret)}")
    return client


def _client(world: World, caller: str, permission: str) -> APIClient:
    if caller == "anonymous":
        return APIClient()
    if caller == "key with scope":
        return _key_client(world, [permission if permission != ANY_MEMBER else "org:read"])
    if caller == "key without scope":
        return _key_client(world, ["org:read" if permission != "org:read" else "members:read"])
    return signed_in(world.people[caller].email)


def _holds(caller: str, permission: str) -> bool:
    if permission == ANY_MEMBER:
        return caller not in ("other tenant", "anonymous")
    if caller == "custom":
        return permission in CUSTOM_ROLE_PERMISSIONS
    if caller in SystemRole.values:
        return permission in system_role_permissions(caller)
    return caller == "key with scope"


def _expected(method: str, route: str, caller: str) -> str:
    permission = MATRIX[(method, route)]
    if caller == "anonymous":
        return "401"
    if caller == "other tenant":
        return "404"
    if caller.startswith("key") and (method, route) in USER_ONLY:
        return "refused"
    if _holds(caller, permission):
        return "allowed"
    return "404" if (method, route) in DENIED_AS_404 else "403"


def _request(client: APIClient, method: str, route: str, world: World):  # noqa: ANN202
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(world.ids[m.group(1)]), route)
    org_id = str(world.org.pk)
    if route == "api/v1/rbac/me/permissions":
        return client.get(path, {"organization_id": org_id})
    body = {}
    if route in ("api/v1/rbac/check", "api/v1/policies/evaluate"):
        body = {"organization_id": org_id, "permission": "org:read"}
    elif route == "api/v1/rbac/check-bulk":
        body = {"organization_id": org_id, "checks": [{"permission": "org:read"}]}
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body, format="json")


CASES = [(m, r, c) for (m, r) in sorted(MATRIX) for c in CALLERS]


@pytest.mark.parametrize(("method", "route", "caller"), CASES,
                         ids=[f"{m.upper()} {r.removeprefix('api/v1/')} as {c}" for m, r, c in CASES])
def test_permission_matrix(method: str, route: str, caller: str, world: World) -> None:
    expected = _expected(method, route, caller)
    response = _request(_client(world, caller, MATRIX[(method, route)]), method, route, world)
    status = response.status_code
    code = response.json().get("code") if response.get("Content-Type", "").endswith("json") and status >= 400 else None
    seen = f"{status} {code or ''}".strip()
    if expected == "allowed":
        assert status not in (401, 404) and not (status == 403 and code in REFUSALS), seen
    elif expected == "refused":
        assert status in (401, 403), seen
    elif expected == "403":
        assert (status, code) == (403, "permission_denied"), seen
    else:
        assert str(status) == expected, seen
