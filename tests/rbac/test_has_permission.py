"""The declarative access of API views (apps.rbac.access.HasPermission) and lists filtered by object grants.

- GET /organizations/{id}/teams: `teams:read` organization-wide shows every team; without it, a member whose
  object grants (to them or to one of their teams) give `teams:read` on some teams sees exactly those; neither is
  a 403 `permission_denied`; a stranger a 404; another organization's team never appears.
- Every organization-scoped API view declares its access with HasPermission (after IsAuthenticated), one
  requirement per method it serves, agreeing with the permission matrix (tests/rbac/test_permission_matrix.py).
- Anonymous callers get 401 before any lookup, validation or access check; refused calls still count against
  the API rate limit, and an allowed call counts once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from rest_framework.permissions import IsAuthenticated
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.orgs.models import Organization, Team
from apps.orgs.services.organizations import member_add, organization_create
from apps.orgs.services.teams import team_create, team_member_add
from apps.rbac import catalog
from apps.rbac.access import ANY_MEMBER, ByAction, HasPermission, ListPermission
from apps.rbac.models import ApiKey, UserObjectGrant
from apps.rbac.services.apikeys import key_string, secret_hash
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.rbac.test_permission_matrix import ANY_MEMBER as MATRIX_ANY_MEMBER
from tests.rbac.test_permission_matrix import MATRIX, NOT_ORG_SCOPED
from tests.urlconf import api_views

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

    def teams_url(self, org: Organization | None = None) -> str:
        return f"/api/v1/organizations/{(org or self.acme).pk}/teams"

    def listed(self, who: str, org: Organization | None = None) -> list[str]:
        response = self.client(who).get(self.teams_url(org))
        assert response.status_code == 200, response.content
        return sorted(team["name"] for team in response.json()["results"])

    def grant(self, subject: str, team: str, permission: str = "teams:read", *, subject_type: str = "user") -> None:
        subject_id = self.teams[subject].pk if subject_type == "team" else self.people[subject].pk
        org = self.globex if team == "Z" else self.acme
        response = self.client("rival" if team == "Z" else "owner").post(
            f"/api/v1/organizations/{org.pk}/grants",
            {"subject": {"type": subject_type, "id": str(subject_id)}, "permission": permission,
             "resource": {"type": "team", "id": str(self.teams[team].pk)}}, format="json")
        assert response.status_code == 201, response.content


@pytest.fixture
def world() -> World:
    """Acme: owner, viewer (teams:read from the role), billing and clerk (billing role: no teams:read), teams
    X, Y, W (clerk is in Y). Globex: rival (owner), `both` (billing in Acme, viewer in Globex), team Z."""
    people = {name: UserFactory(email=f"{name}@perm.test")
              for name in ("owner", "viewer", "billing", "clerk", "rival", "both", "stranger")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme-perm")
    for name, role in (("viewer", "viewer"), ("billing", "billing"), ("clerk", "billing"), ("both", "billing")):
        member_add(organization=acme, user=people[name], role=role, actor=people["owner"], source="test")
    globex = organization_create(user=people["rival"], name="Globex", slug="globex-perm")
    member_add(organization=globex, user=people["both"], role="viewer", actor=people["rival"], source="test")
    organization_create(user=people["stranger"], name="Initech", slug="initech-perm")
    teams = {name: team_create(organization=acme, actor=people["owner"], name=name) for name in ("X", "Y", "W")}
    team_member_add(team=teams["Y"], user_id=people["clerk"].pk, actor=people["owner"])
    teams["Z"] = team_create(organization=globex, actor=people["rival"], name="Z")
    return World(acme=acme, globex=globex, people=people, teams=teams)


# --- the team list, filtered by grants ---------------------------------------------------------------------


def test_an_organization_wide_reader_sees_every_team(world: World) -> None:
    world.grant("billing", "X")  # someone else's grants change nothing for readers
    assert world.listed("viewer") == world.listed("owner") == ["W", "X", "Y"]


def test_a_member_without_teams_read_sees_exactly_the_teams_granted(world: World) -> None:
    world.grant("billing", "X")
    world.grant("billing", "W", "teams:manage")  # another permission on W does not make W readable
    assert world.listed("billing") == ["X"]
    assert world.client("clerk").get(world.teams_url()).status_code == 403  # a grant is the grantee's alone


def test_a_grant_to_one_of_my_teams_counts(world: World) -> None:
    world.grant("Y", "Y", subject_type="team")  # clerk is in team Y
    world.grant("Y", "W", subject_type="team")
    assert world.listed("clerk") == ["W", "Y"]
    refused = world.client("billing").get(world.teams_url())  # not in team Y
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_paging_walks_the_granted_teams_only(world: World) -> None:
    world.grant("billing", "X")
    world.grant("billing", "W")
    first = world.client("billing").get(world.teams_url(), {"limit": 1}).json()
    second = world.client("billing").get(world.teams_url(), {"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [t["name"] for t in first["results"] + second["results"]] == ["X", "W"]  # created_at order
    assert second["next_cursor"] is None


def test_neither_permission_nor_grant_is_a_403_naming_teams_read(world: World) -> None:
    response = world.client("billing").get(world.teams_url())
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert "teams:read" in response.json()["detail"]
    assert response.json()["permission"] == "teams:read"


def test_a_stranger_gets_404_even_with_grants_in_their_own_organization(world: World) -> None:
    team_member_add(team=world.teams["Z"], user_id=world.people["rival"].pk, actor=world.people["rival"])
    world.grant("Z", "Z", subject_type="team")  # Globex's owner holds a teams:read grant, in Globex
    for who in ("stranger", "rival"):
        response = world.client(who).get(world.teams_url())
        assert response.status_code == 404, (who, response.content)
        assert response.json()["code"] != "permission_denied"
    assert world.client("viewer").get(world.teams_url(world.globex)).status_code == 404
    assert world.client("stranger").get("/api/v1/organizations/not-a-uuid/teams").status_code == 404


def test_another_organizations_team_never_appears(world: World) -> None:
    world.grant("both", "Z")  # a real grant in Globex: Globex's business only
    world.grant("both", "X")
    assert world.listed("both") == ["X"]
    assert "Z" in world.listed("both", world.globex)  # there, `both` reads every team as a viewer
    # A row forged straight into the database, tagged with Acme but naming Globex's team, shows nothing either.
    team_type = ContentType.objects.get_for_model(Team)
    permission, _ = Permission.objects.get_or_create(content_type=team_type, codename="teams:read",
                                                     defaults={"name": "teams:read"})
    UserObjectGrant.objects.create(organization=world.acme, user=world.people["billing"], permission=permission,
                                   content_type=team_type, object_pk=str(world.teams["Z"].pk))
    world.grant("billing", "W")  # (also bumps the access version)
    assert world.listed("billing") == ["W"]


def test_a_deny_policy_hides_a_granted_team_from_the_list_as_from_its_page(world: World) -> None:
    world.grant("billing", "X")
    world.grant("billing", "W")
    response = world.client("owner").post(f"/api/v1/organizations/{world.acme.pk}/policies", {
        "name": "No W", "effect": "deny", "actions": ["teams:read"], "resources": [f"team:{world.teams['W'].pk}"],
        "subjects": [f"user:{world.people['billing'].pk}"]}, format="json")
    assert response.status_code == 201, response.content
    assert world.client("billing").get(f"/api/v1/teams/{world.teams['W'].pk}").status_code == 403
    assert world.listed("billing") == ["X"]


def test_api_keys_hold_no_grants_the_list_needs_their_scope(world: World) -> None:
    def key_client(scopes: list[str]) -> APIClient:
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        ApiKey.objects.create(organization=world.acme, name="ci", prefix=prefix,
                              secret_hash=secret_hash(prefix, secret), scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_string(prefix, secret)}")
        return client

    assert len(key_client(["teams:read"]).get(world.teams_url()).json()["results"]) == 3
    refused = key_client(["org:read"]).get(world.teams_url())
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")


def test_head_is_checked_like_get(world: World) -> None:
    assert world.client("viewer").head(world.teams_url()).status_code == 200
    assert world.client("billing").head(world.teams_url()).status_code == 403
    assert world.client("stranger").head(world.teams_url()).status_code == 404
    assert world.client("stranger").head(f"/api/v1/teams/{world.teams['X'].pk}").status_code == 404


# --- every organization endpoint declares its access --------------------------------------------------------

# Organization-scoped by MATRIX, but answering questions about the caller rather than doing something that needs a
# permission: any member or API key of the organization may ask (HasPermission's ANY_MEMBER refuses keys), and they
# need the decision service's Caller itself. They call `caller_for` after validating the body / query, which names
# the organization.
UNDECLARED = {
    "api/v1/rbac/check": "any member or key may ask; the organization is in the body (caller_for in the handler)",
    "api/v1/rbac/check-bulk": "as rbac/check",
    "api/v1/rbac/me/permissions": "any member or key may ask; the organization is in the query string",
}


def _declared(view: type) -> HasPermission | None:
    found = [p for p in getattr(view, "permission_classes", []) if isinstance(p, HasPermission)]
    assert len(found) <= 1, view
    return found[0] if found else None


def _org_scoped_views() -> list[tuple[str, type]]:
    return [(route, view) for route, view in api_views() if not NOT_ORG_SCOPED.match(route)]


def test_every_organization_scoped_view_declares_has_permission_for_each_method() -> None:
    views = _org_scoped_views()
    assert len(views) > 30
    for route, view in views:
        if route in UNDECLARED:
            assert _declared(view) is None, f"{route} declares HasPermission now: drop it from UNDECLARED"
            continue
        declared = _declared(view)
        assert declared is not None, f"{view.__name__} ({route}) must declare HasPermission"
        classes = list(view.permission_classes)
        assert classes[0] is IsAuthenticated and classes.index(declared) > 0, (route, classes)
        assert "<str:org_id>" in route or hasattr(view, "resolve_organization"), route
        assert declared.permissions() <= catalog.codes(), (route, declared.permissions() - catalog.codes())
        for method in ("get", "post", "put", "patch", "delete"):
            if not hasattr(view, method):
                continue
            requirement = declared.requirement(method.upper())
            assert requirement is not None, f"{method.upper()} {route} is not declared in {declared!r}"
            expected = MATRIX[(method, route)]
            if requirement is ANY_MEMBER:
                assert expected == MATRIX_ANY_MEMBER, (method, route)
            else:
                code = (requirement.permission if isinstance(requirement, ListPermission) else
                        requirement.default if isinstance(requirement, ByAction) else requirement)
                assert code == expected, (method, route, code, expected)


def test_has_permission_declarations_are_well_formed() -> None:
    with pytest.raises(TypeError):
        HasPermission()
    with pytest.raises(TypeError):
        HasPermission("org:read", GET="org:read")
    with pytest.raises(TypeError):
        HasPermission(FETCH="org:read")
    declared = HasPermission(GET="teams:read", POST="teams:manage")
    assert declared.requirement("HEAD") == "teams:read"
    assert declared.requirement("OPTIONS") is None and declared.requirement("DELETE") is None
    assert HasPermission("org:read").requirement("PATCH") == "org:read"


# --- anonymous first; rate limits still count refused calls -------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/api/v1/organizations/00000000-0000-0000-0000-000000000000/teams", None),
    ("get", "/api/v1/teams/not-a-team", None),
    ("get", "/api/v1/roles/00000000-0000-0000-0000-000000000000", None),
    ("delete", "/api/v1/invitations/00000000-0000-0000-0000-000000000000", None),
    ("post", "/api/v1/organizations/{org}/members/bulk", "{not json"),
    ("post", "/api/v1/policies/evaluate", {"organization_id": ""}),
    ("post", "/api/v1/organizations/{org}/audit-logs/export", {"format": "xls"}),
])
def test_anonymous_gets_401_before_lookup_validation_or_access(world: World, method: str, path: str,
                                                               body: object) -> None:
    path = path.format(org=world.acme.pk)
    client = APIClient()
    if isinstance(body, str):
        response = getattr(client, method)(path, body, content_type="application/json")
    else:
        response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"


def test_a_route_keyed_by_a_missing_object_is_404_before_validation(world: World) -> None:
    response = world.client("owner").patch("/api/v1/teams/00000000-0000-0000-0000-000000000000", {"name": ""},
                                           format="json")
    assert response.status_code == 404, response.content
    response = world.client("stranger").post("/api/v1/policies/evaluate", {"organization_id": str(world.acme.pk),
                                                                           "permission": "org:read"}, format="json")
    assert response.status_code == 404, response.content
    response = world.client("stranger").post("/api/v1/policies/evaluate", {"organization_id": str(world.acme.pk)},
                                             format="json")
    assert response.status_code == 400, response.content  # the body names the organization: it is read first


def test_refused_calls_count_against_the_api_rate_limit(world: World, settings) -> None:  # noqa: ANN001
    client = world.client("stranger")  # signs in before the limit shrinks
    settings.RATELIMITS = {**settings.RATELIMITS, "API": "3/1m"}
    statuses = [client.get(world.teams_url()).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_an_allowed_call_counts_once(world: World, settings) -> None:  # noqa: ANN001
    client = world.client("viewer")
    settings.RATELIMITS = {**settings.RATELIMITS, "API": "3/1m"}
    statuses = [client.get(world.teams_url()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
