"""POST /rbac/check, /rbac/check-bulk and GET /rbac/me/permissions: the decision service's answers about the
caller, through the API (API.md "Access control")."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.orgs.models import Team
from apps.orgs.roles import SystemRole
from apps.orgs.services.organizations import member_add, organization_create
from apps.rbac.roles import system_role_permissions
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme() -> dict:
    owner = UserFactory(email="owner@acme.test")
    org = organization_create(user=owner, name="Acme", slug="acme")
    viewer = UserFactory(email="viewer@acme.test")
    member_add(organization=org, user=viewer, role="viewer", actor=owner, source="test")
    rival = UserFactory(email="rival@globex.test")
    globex = organization_create(user=rival, name="Globex", slug="globex")
    return {"org": org, "team": Team.objects.create(organization=org, name="Core"),
            "globex_team": Team.objects.create(organization=globex, name="Secret"), "globex": globex}


def check(client: APIClient, org: object, permission: str, meta: dict | None = None, **extra: object):  # noqa: ANN201
    return client.post("/api/v1/rbac/check", {"organization_id": str(org.pk), "permission": permission, **extra},
                       format="json", **(meta or {}))


def test_check_answers_for_the_caller_with_the_reason(acme: dict) -> None:
    viewer = signed_in("viewer@acme.test")
    allowed = check(viewer, acme["org"], "members:read").json()
    assert allowed == {"permission": "members:read", "allowed": True, "reason": "allowed by role viewer"}
    refused = check(viewer, acme["org"], "members:invite").json()
    assert refused["allowed"] is False and "members:invite" in refused["reason"]


def test_check_with_a_resource_of_this_organization_and_of_another(acme: dict) -> None:
    owner = signed_in("owner@acme.test")
    team = check(owner, acme["org"], "teams:manage", resource={"type": "team", "id": str(acme["team"].pk)})
    assert team.json()["allowed"] is True
    foreign = check(owner, acme["org"], "teams:manage", resource={"type": "team", "id": str(acme["globex_team"].pk)})
    assert foreign.status_code == 404  # another tenant's object does not exist here
    unknown_type = check(owner, acme["org"], "teams:manage", resource={"type": "spaceship", "id": "1"})
    assert (unknown_type.status_code, unknown_type.json()["errors"][0]["field"]) == (400, "resource.type")


def test_check_refuses_unknown_permissions_and_strangers(acme: dict) -> None:
    owner = signed_in("owner@acme.test")
    response = check(owner, acme["org"], "members:fly")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "permission")
    assert check(signed_in("rival@globex.test"), acme["org"], "org:read").status_code == 404
    assert check(APIClient(), acme["org"], "org:read").status_code == 401


def test_check_context_reaches_policy_conditions_but_cannot_fake_the_request(acme: dict) -> None:
    owner = signed_in("owner@acme.test")
    response = owner.post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "Own tickets only", "effect": "deny", "actions": ["teams:read"], "subjects": ["role:viewer"],
        "condition": "!(has(request.context.owner_id) && request.context.owner_id == subject.id)"}, format="json")
    assert response.status_code == 201, response.content
    viewer = signed_in("viewer@acme.test")
    viewer_id = str(User.objects.get(email="viewer@acme.test").pk)
    assert check(viewer, acme["org"], "teams:read", context={"owner_id": viewer_id}).json()["allowed"] is True
    assert check(viewer, acme["org"], "teams:read", context={"owner_id": "someone-else"}).json()["allowed"] is False
    assert check(viewer, acme["org"], "teams:read").json()["allowed"] is False

    owner.post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "Office only", "effect": "deny", "actions": ["members:read"], "subjects": ["role:viewer"],
        "condition": '!inCidr(request.ip, "10.0.0.0/8")'}, format="json")
    faked = check(viewer, acme["org"], "members:read", meta={"REMOTE_ADDR": "203.0.113.9"}, context={"ip": "10.1.2.3"})
    assert faked.json()["allowed"] is False  # request.ip is the request's own, whatever the context says


def test_check_bulk_answers_in_order_and_bounds_the_batch(acme: dict) -> None:
    viewer = signed_in("viewer@acme.test")
    checks = [{"permission": "org:read"}, {"permission": "org:delete"},
              {"permission": "teams:read", "resource": {"type": "team", "id": str(acme["team"].pk)}},
              {"permission": "teams:read", "resource": {"type": "team", "id": str(acme["globex_team"].pk)}}]
    response = viewer.post("/api/v1/rbac/check-bulk", {"organization_id": str(acme["org"].pk), "checks": checks},
                           format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["permission"], r["allowed"]) for r in results] == [
        ("org:read", True), ("org:delete", False), ("teams:read", True), ("teams:read", False)]
    assert "in this organization" in results[3]["reason"]
    too_many = viewer.post("/api/v1/rbac/check-bulk", {"organization_id": str(acme["org"].pk),
                                                       "checks": [{"permission": "org:read"}] * 101}, format="json")
    assert too_many.status_code == 400


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.VIEWER, SystemRole.BILLING])
def test_my_permissions_are_exactly_my_roles(acme: dict, role: str) -> None:
    person = UserFactory(email=f"{role}-person@acme.test")
    member_add(organization=acme["org"], user=person, role=role, actor=None, source="test")
    body = signed_in(person.email).get("/api/v1/rbac/me/permissions",
                                       {"organization_id": str(acme["org"].pk)}).json()
    assert set(body["permissions"]) == system_role_permissions(role)
    assert body["roles"] == [role]


def test_my_permissions_follow_a_policy_at_once_and_need_an_organization(acme: dict) -> None:
    viewer = signed_in("viewer@acme.test")
    url = "/api/v1/rbac/me/permissions"
    assert "teams:read" in viewer.get(url, {"organization_id": str(acme["org"].pk)}).json()["permissions"]
    signed_in("owner@acme.test").post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "No teams", "effect": "deny", "actions": ["teams:*"], "subjects": ["role:viewer"]}, format="json")
    assert "teams:read" not in viewer.get(url, {"organization_id": str(acme["org"].pk)}).json()["permissions"]
    assert viewer.get(url).status_code == 400
    assert viewer.get(url, {"organization_id": str(acme["globex"].pk)}).status_code == 404


def test_a_condition_on_the_subjects_second_factor_sees_it_as_soon_as_it_is_enrolled(
        acme: dict, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    import pyotp

    signed_in("owner@acme.test").post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "Second factor for members", "effect": "deny", "actions": ["members:read"],
        "subjects": ["role:viewer"], "condition": "!subject.mfa_enabled"}, format="json")
    viewer = signed_in("viewer@acme.test")
    assert check(viewer, acme["org"], "members:read").json()["allowed"] is False
    assert check(viewer, acme["org"], "teams:read").json()["allowed"] is True  # the policy does not name it
    secret = viewer.post("/api/v1/mfa/totp/setup").json()["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        viewer.post("/api/v1/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}, format="json")
    assert check(viewer, acme["org"], "members:read").json()["allowed"] is True


def test_policy_edits_outside_the_api_reach_the_next_check_and_member_changes_keep_the_policy_cache(
        acme: dict) -> None:
    from apps.rbac import cache
    from apps.rbac.models import Policy

    owner = signed_in("owner@acme.test")
    owner.post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "No audit", "effect": "deny", "actions": ["audit:read"], "subjects": ["role:viewer"]}, format="json")
    owner.post(f"/api/v1/organizations/{acme['org'].pk}/policies", {
        "name": "Viewers audit", "effect": "allow", "actions": ["audit:read"], "subjects": ["role:viewer"]},
        format="json")
    viewer = signed_in("viewer@acme.test")
    assert check(viewer, acme["org"], "audit:read").json()["allowed"] is False

    access_before, policies_before = cache.versions(acme["org"].pk)
    member_add(organization=acme["org"], user=UserFactory(email="new@acme.test"), role="member", actor=None,
               source="test")
    access_after, policies_after = cache.versions(acme["org"].pk)
    assert access_after != access_before and policies_after == policies_before

    denial = Policy.objects.get(name="No audit")
    denial.enabled = False
    denial.save()  # as an operator's shell or the admin would: no service, no event
    assert check(viewer, acme["org"], "audit:read").json()["allowed"] is True
