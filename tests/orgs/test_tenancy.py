"""Every organization-scoped endpoint, found from the URLconf, walked as the wrong person.

New endpoints are covered as soon as they are routed: a stranger (a member of another
organization) gets 404 and changes nothing, an anonymous caller gets 401, a viewer gets 403 on writes.
"""

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.orgs.models import Domain, Invitation, Membership, Organization, Team, TeamMembership
from apps.orgs.roles import system_role_id
from apps.orgs.services.organizations import member_add, organization_create
from apps.rbac.models import ApiKey, Policy, Role, TeamObjectGrant, UserObjectGrant
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.urlconf import METHODS, api_views

pytestmark = pytest.mark.django_db

SCOPED = re.compile(r"^api/v1/(organizations/<|teams/<|invitations/<|domains/<|roles/<|policies/<|api-keys/<|"
                    r"audit-logs/<)")
PUBLIC = ("api/v1/invitations/validate/", "api/v1/invitations/accept")
WRITE_METHODS = {"post", "put", "patch", "delete"}
ANY_MEMBER_MAY = {("api/v1/organizations/<str:org_id>/leave", "post")}  # leaving is every member's right


def _scoped_operations() -> list[tuple[str, str]]:
    return [(route, method) for route, view in api_views() if SCOPED.match(route) and not route.startswith(PUBLIC)
            for method in METHODS if hasattr(view, method)]


OPERATIONS = _scoped_operations()


@pytest.fixture
def victim() -> dict:
    """An organization with one of everything, so every placeholder has a real id to point at."""
    owner = UserFactory(email="owner@victim.test")
    org = organization_create(user=owner, name="Victim", slug="victim")
    viewer = UserFactory(email="viewer@victim.test")
    member_add(organization=org, user=viewer, role="viewer", actor=owner, source="test")
    team = Team.objects.create(organization=org, name="Core")
    TeamMembership.objects.create(team=team, membership=Membership.objects.get(user=viewer))
    invitation = Invitation.objects.create(
        organization=org, email="new@victim.test", role_id=system_role_id("member"), invited_by=owner,
        token_hash=hashlib.sha256(b"t").hexdigest(), expires_at=timezone.now() + timedelta(days=7))
    domain = Domain.objects.create(organization=org, domain="victim.test", verification_token="x")
    role = Role.objects.create(organization=org, name="auditor", permissions=["audit:read"])
    policy = Policy.objects.create(organization=org, name="Office", effect="deny", actions=["org:delete"])
    key = ApiKey.objects.create(organization=org, name="ci", prefix="victimkey001", secret_hash="0" * 64,
                                scopes=["org:read"])
    event = AuditEvent.objects.filter(organization_id=org.pk).first()
    return {"org": org, "viewer": viewer, "team": team, "invitation": invitation, "domain": domain, "role": role,
            "policy": policy, "key": key, "event": event}


def _url(route: str, victim: dict) -> str:
    kind = route.split("/")[2]  # organizations | teams | invitations | domains
    by_kind = {"teams": victim["team"].pk, "invitations": victim["invitation"].pk, "domains": victim["domain"].pk}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "org_id":
            return str(victim["org"].pk)
        if name == "slug":
            return victim["org"].slug
        if name == "user_id":
            return str(victim["viewer"].pk)
        if name == "team_id":
            return str(victim["team"].pk)
        if name in ("role_id", "policy_id", "key_id", "event_id"):
            return str(victim[name.removesuffix("_id")].pk)
        if name in ("invitation_id", "domain_id", "id", "pk"):
            return str(by_kind.get(kind, victim["invitation"].pk) if name in ("id", "pk") else
                       (victim["invitation"].pk if name == "invitation_id" else victim["domain"].pk))
        raise AssertionError(f"no test value for <{name}> in {route}")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


def _snapshot() -> list:
    return [list(model.objects.order_by("pk").values()) for model in
            (Organization, Membership, Team, TeamMembership, Invitation, Domain, Role, Policy, ApiKey,
             UserObjectGrant, TeamObjectGrant)]


def _call(client: APIClient, method: str, url: str):  # noqa: ANN201
    return getattr(client, method)(url, {} if method != "get" else None, format="json")


def test_the_suite_found_the_organization_endpoints() -> None:
    routes = {route for route, _ in OPERATIONS}
    assert "api/v1/organizations/<str:org_id>" in routes
    assert "api/v1/organizations/<str:org_id>/members/<str:user_id>" in routes


@pytest.mark.parametrize(("route", "method"), OPERATIONS, ids=[f"{m.upper()} {r}" for r, m in OPERATIONS])
def test_a_member_of_another_organization_gets_404_and_changes_nothing(route: str, method: str, victim: dict) -> None:
    organization_create(user=UserFactory(email="mallory@other.test"), name="Other", slug="other")
    client = signed_in("mallory@other.test")
    before = _snapshot()
    response = _call(client, method, _url(route, victim))
    assert response.status_code == 404, (method, route, response.content)
    assert _snapshot() == before


@pytest.mark.parametrize(("route", "method"), OPERATIONS, ids=[f"{m.upper()} {r}" for r, m in OPERATIONS])
def test_anonymous_gets_401(route: str, method: str, victim: dict) -> None:
    before = _snapshot()
    assert _call(APIClient(), method, _url(route, victim)).status_code == 401
    assert _snapshot() == before


WRITES = [(r, m) for r, m in OPERATIONS if m in WRITE_METHODS and (r, m) not in ANY_MEMBER_MAY]


@pytest.mark.parametrize(("route", "method"), WRITES, ids=[f"{m.upper()} {r}" for r, m in WRITES])
def test_a_viewer_may_not_write(route: str, method: str, victim: dict) -> None:
    client = signed_in("viewer@victim.test")
    before = _snapshot()
    response = _call(client, method, _url(route, victim))
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), (method, route)
    assert _snapshot() == before
