"""Organization API keys through the public API: the secret shown once, authentication by both headers,
scopes, tenancy, revocation, expiry, networks, rotation with overlap, throttled bookkeeping, escalation."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import UserSession
from apps.audit.models import AuditEvent
from apps.orgs.models import Invitation, Organization, Team
from apps.rbac import catalog
from apps.rbac.models import ApiKey
from tests.accounts.helpers import signed_in
from tests.orgs.test_api_organizations import org_with

pytestmark = pytest.mark.django_db


def _create(client: APIClient, org: Organization, **body: object):  # noqa: ANN202
    body.setdefault("name", "CI")
    body.setdefault("scopes", ["members:read"])
    return client.post(f"/api/v1/organizations/{org.pk}/api-keys", body, format="json")


def _new_key(client: APIClient, org: Organization, **body: object) -> tuple[str, dict]:
    response = _create(client, org, **body)
    assert response.status_code == 201, response.content
    data = response.json()
    return data["key"], data


def _as_key(key: str, header: str = "bearer", **extra: str) -> APIClient:
    client = APIClient(**extra)
    if header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    else:
        client.credentials(HTTP_X_API_KEY=key)
    return client


def _members(client: APIClient, org: Organization, **extra: str):  # noqa: ANN202
    return client.get(f"/api/v1/organizations/{org.pk}/members", **extra)


def _events(action: str, **filters: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))


def _later(seconds: int):  # noqa: ANN202
    """Move the clock `seconds` ahead for everything reading django.utils.timezone.now()."""
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=seconds))


@pytest.fixture
def org_and_owner() -> tuple[Organization, dict, APIClient]:
    org, people = org_with("owner@example.com", admin="admin", viewer="viewer")
    return org, people, signed_in("owner@example.com")


# --- creation and the secret ----------------------------------------------------------------------


def test_create_shows_the_key_once_and_stores_only_a_hash(org_and_owner) -> None:  # noqa: ANN001
    org, people, owner = org_and_owner
    response = _create(owner, org, name="Deploy", scopes=["members:read", "teams:read"],
                       allowed_ips=["10.1.2.3/8"])
    assert response.status_code == 201, response.content
    body = response.json()
    key = body["key"]
    prefix, secret = key[len("plk_"):].split("_", 1)
    assert key.startswith("plk_") and body["prefix"] == prefix and len(prefix) == 12
    assert len(secret) >= 43  # 256 bits, URL-safe base64
    assert body["scopes"] == ["members:read", "teams:read"]
    assert body["allowed_ips"] == ["10.0.0.0/8"]  # normalised
    assert {"id", "name", "prefix", "scopes", "expires_at", "allowed_ips", "created_at", "last_used_at",
            "key"} <= set(body)

    listing = owner.get(f"/api/v1/organizations/{org.pk}/api-keys").json()
    assert [k["id"] for k in listing["results"]] == [body["id"]]
    assert "key" not in listing["results"][0] and secret not in str(listing)
    detail = owner.get(f"/api/v1/api-keys/{body['id']}")
    assert detail.status_code == 200 and "key" not in detail.json() and secret not in detail.content.decode()

    row = ApiKey.objects.get(pk=body["id"])
    assert row.created_by == people["owner"]
    for field in ApiKey._meta.concrete_fields:
        assert secret not in str(getattr(row, field.attname)), field.name
    event = _events("apikey.created")[-1]
    assert (event.actor_type, event.actor_id) == ("user", str(people["owner"].pk))
    assert event.metadata == {"name": "Deploy", "prefix": prefix, "scopes": ["members:read", "teams:read"],
                              "expires_at": None, "allowed_ips": ["10.0.0.0/8"]}
    assert not any(secret in str(e.metadata) + str(e.changes) for e in AuditEvent.objects.all())


def test_the_secret_is_never_stored_for_idempotent_replay(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    first = owner.post(
        f"/api/v1/organizations/{org.pk}/api-keys", {"name": "CI", "scopes": ["members:read"]}, format="json",
        HTTP_IDEMPOTENCY_KEY="create-key-1")
    assert first.status_code == 201 and "no-store" in first["Cache-Control"]
    again = owner.post(f"/api/v1/organizations/{org.pk}/api-keys", {"name": "CI", "scopes": ["members:read"]},
                       format="json", HTTP_IDEMPOTENCY_KEY="create-key-1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert again.json()["key"] != first.json()["key"]  # a new key, not the first secret handed out twice
    rotated = owner.post(f"/api/v1/api-keys/{first.json()['id']}/rotate", {}, format="json",
                         HTTP_IDEMPOTENCY_KEY="rotate-1")
    assert rotated.status_code == 200 and "no-store" in rotated["Cache-Control"]
    from django.core.cache import cache

    stored = " ".join(str(cache.get(k)) for k in cache.keys("*"))
    for response in (first, again, rotated):
        assert response.json()["key"].split("_", 2)[2] not in stored


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_key_authenticates_with_either_header_within_its_scopes(org_and_owner, header: str) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, _ = _new_key(owner, org, scopes=["members:read"])
    client = _as_key(key, header)
    response = _members(client, org)
    assert response.status_code == 200, response.content
    assert {m["email"] for m in response.json()["results"]} >= {"owner@example.com", "admin@example.com"}

    denied = client.get(f"/api/v1/organizations/{org.pk}/teams")  # teams:read is not among the scopes
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied" and "teams:read" in denied.json()["detail"]


def test_key_can_invite_within_scope_and_is_the_audited_actor(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    # Inviting as `member` hands out that role's permissions: the key must hold them too (roles' escalation rule).
    key, body = _new_key(owner, org, scopes=["members:invite", "members:read", "org:read", "roles:read", "teams:read"])
    response = _as_key(key).post(f"/api/v1/organizations/{org.pk}/invitations",
                                 {"email": "new@example.com", "role": "member"}, format="json")
    assert response.status_code == 201, response.content
    invitation = Invitation.objects.get(pk=response.json()["id"])
    assert invitation.invited_by is None
    event = _events("invitation.sent")[-1]
    assert (event.actor_type, event.actor_id, event.actor_email) == ("api_key", body["id"], "")

    resent = _as_key(key).post(f"/api/v1/invitations/{invitation.pk}/resend", {}, format="json")
    assert resent.status_code == 200, resent.content
    assert _events("invitation.sent")[-1].actor_id == body["id"]
    assert _as_key(key).delete(f"/api/v1/invitations/{invitation.pk}").status_code == 204
    revoked = _events("invitation.revoked")[-1]
    assert (revoked.actor_type, revoked.actor_id) == ("api_key", body["id"])


# --- tenancy and what a key is not ----------------------------------------------------------------


def test_key_of_one_organization_finds_nothing_in_another(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    other, _ = org_with("boss@example.com")
    other_key = ApiKey.objects.create(organization=other, name="theirs", prefix="zzzzzzzzzzzz", secret_hash="x",
                                      scopes=["members:read"])
    team = Team.objects.create(organization=other, name="Theirs")
    every_scope = ["members:read", "audit:read", "teams:read", "apikeys:read", "org:read", "policies:read"]
    key, _ = _new_key(owner, org, scopes=every_scope)
    client = _as_key(key)
    for path in (f"/api/v1/organizations/{other.pk}", f"/api/v1/organizations/{other.pk}/members",
                 f"/api/v1/organizations/{other.pk}/audit-logs", f"/api/v1/organizations/{other.pk}/teams",
                 f"/api/v1/organizations/{other.pk}/api-keys", f"/api/v1/organizations/{other.pk}/policies",
                 f"/api/v1/api-keys/{other_key.pk}"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.content)
    assert client.get(f"/api/v1/organizations/{org.pk}/audit-logs").status_code == 200  # its own: fine
    # Object routes written for members do not accept keys: refused, whatever the id, leaking nothing.
    assert client.get(f"/api/v1/teams/{team.pk}").status_code in (403, 404)


@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/v1/users/me", None),
    ("get", "/api/v1/auth/me", None),
    ("get", "/api/v1/sessions", None),
    ("get", "/api/v1/organizations", None),
    ("post", "/api/v1/organizations", {"name": "Keyed", "slug": "keyed-org"}),
    ("post", "/api/v1/passkeys/register/options", {}),
    ("post", "/api/v1/auth/password/change", {"current_password": "x", "new_password": "another long passphrase"}),
])
def test_key_is_not_a_user(org_and_owner, method: str, path: str, body: dict | None) -> None:  # noqa: ANN001
    """Routes about the signed-in person refuse keys with 403 user_required: never a 500, never anyone's data."""
    org, _, owner = org_and_owner
    key, _ = _new_key(owner, org, scopes=sorted(catalog.codes()))
    client = _as_key(key)
    response = client.get(path) if body is None else getattr(client, method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "user_required"
    assert "owner@example.com" not in response.content.decode()
    assert Organization.objects.count() == 1


def test_key_reads_and_changes_its_own_organization(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org, scopes=["org:read", "org:update"])
    client = _as_key(key)
    response = client.get(f"/api/v1/organizations/{org.pk}")
    assert response.status_code == 200, response.content
    assert response.json()["role"] is None  # a key holds scopes, not a role
    assert client.patch(f"/api/v1/organizations/{org.pk}", {"name": "Renamed"}, format="json").status_code == 200
    assert Organization.objects.get(pk=org.pk).name == "Renamed"
    event = _events("organization.updated")[-1]
    assert (event.actor_type, event.actor_id) == ("api_key", body["id"])


@override_settings(RATELIMITS={**settings.RATELIMITS, "API": "2/1m"})
def test_each_key_has_its_own_rate_limit_bucket(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    first, _ = _new_key(owner, org)
    second, _ = _new_key(owner, org)
    assert [_members(_as_key(first), org).status_code for _ in range(3)] == [200, 200, 429]
    assert _members(_as_key(second), org).status_code == 200


# --- refusals: revoked, expired, networks, malformed ----------------------------------------------


def test_revoked_key_fails_on_the_very_next_request_and_stays_listed(org_and_owner) -> None:  # noqa: ANN001
    org, people, owner = org_and_owner
    key, body = _new_key(owner, org)
    client = _as_key(key)
    assert _members(client, org).status_code == 200
    assert owner.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    response = _members(client, org)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")
    listed = owner.get(f"/api/v1/organizations/{org.pk}/api-keys").json()["results"]
    assert listed[0]["revoked_at"] is not None
    assert owner.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204  # again: no-op
    events = _events("apikey.revoked")
    assert len(events) == 1 and events[0].metadata == {"prefix": body["prefix"]}
    assert events[0].actor_id == str(people["owner"].pk)
    rotated = owner.post(f"/api/v1/api-keys/{body['id']}/rotate", {}, format="json")
    assert rotated.status_code == 409 and rotated.json()["code"] == "api_key_revoked"


def test_expired_key_fails(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    expires = timezone.now() + timedelta(hours=1)
    key, body = _new_key(owner, org, expires_at=expires.isoformat())
    client = _as_key(key)
    assert _members(client, org).status_code == 200
    with _later(3601):
        response = _members(client, org)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"
    assert _events("apikey.rejected")[-1].metadata == {"prefix": body["prefix"], "reason": "expired"}


def test_expires_at_must_be_in_the_future(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    response = _create(owner, org, expires_at=(timezone.now() - timedelta(minutes=1)).isoformat())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "expires_at"
    assert not ApiKey.objects.exists()


def test_allowed_ips_limit_where_a_key_works(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org, allowed_ips=["10.0.0.0/8", "2001:db8::1"])
    assert _members(_as_key(key), org, REMOTE_ADDR="10.9.8.7").status_code == 200
    assert _members(_as_key(key), org, REMOTE_ADDR="2001:db8::1").status_code == 200
    refused = _members(_as_key(key), org, REMOTE_ADDR="192.0.2.1")
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"
    assert _events("apikey.rejected")[-1].metadata == {"prefix": body["prefix"], "reason": "ip_not_allowed"}
    assert _create(owner, org, allowed_ips=["not-a-network"]).status_code == 400


def test_organization_ip_allowlist_applies_to_keys(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, _ = _new_key(owner, org)
    Organization.objects.filter(pk=org.pk).update(ip_allowlist=["10.0.0.0/8"])
    refused = _members(_as_key(key), org, REMOTE_ADDR="192.0.2.1")
    assert refused.status_code == 403 and refused.json()["code"] == "ip_not_allowed"
    assert _members(_as_key(key), org, REMOTE_ADDR="10.1.1.1").status_code == 200


@pytest.mark.parametrize("_case, value", [
    ("empty after plk_", "plk_"),
    ("no secret", "plk_abcdefghijkl"),
    ("short secret", "plk_abcdefghijkl_short"),
    ("upper-case prefix", "plk_ABCDEFGHIJKL_" + "a" * 43),
    ("prefix with underscore", "plk_abc_defghijk_" + "a" * 43),
    ("bad secret alphabet", "plk_abcdefghijkl_" + "!" * 43),
    ("very long", "plk_abcdefghijkl_" + "a" * 5000),
    ("unicode", "plk_abcdéfghijkl_" + "a" * 43),
])
def test_malformed_keys_answer_401(org_and_owner, _case: str, value: str) -> None:  # noqa: ANN001, PT019
    org, _, _ = org_and_owner
    for header in ("bearer", "x-api-key"):
        response = _members(_as_key(value, header), org)
        assert response.status_code == 401, (header, response.content)
        assert response.json()["code"] == "invalid_api_key"


def test_x_api_key_that_is_not_a_key_answers_401(org_and_owner) -> None:  # noqa: ANN001
    org, _, _ = org_and_owner
    response = _members(_as_key("garbage", "x-api-key"), org)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_prefix_answers_401_without_an_event(org_and_owner) -> None:  # noqa: ANN001
    org, _, _ = org_and_owner
    response = _members(_as_key("plk_abcdefghijkl_" + "a" * 43), org)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"
    assert _events("apikey.rejected") == []


def test_wrong_secret_is_refused_and_audited_once_per_minute(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org)
    forged = key[: -43] + ("A" if key[-43] != "A" else "B") + key[-42:]
    for _ in range(5):
        response = _members(_as_key(forged), org)
        assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"
        assert response["WWW-Authenticate"].startswith("Bearer")
    events = _events("apikey.rejected")
    assert len(events) == 1
    assert events[0].metadata == {"prefix": body["prefix"], "reason": "wrong_secret"}
    assert (events[0].outcome, events[0].target_id, str(events[0].organization_id)) == ("failure", body["id"],
                                                                                       str(org.pk))
    assert key[-43:] not in str(events[0].metadata) and forged[-43:] not in str(events[0].metadata)
    from django.core.cache import cache

    cache.delete(f"rbac:apikey:rejected:{body['id']}")  # the minute is over
    _members(_as_key(forged), org)
    assert len(_events("apikey.rejected")) == 2
    assert _members(_as_key(key), org).status_code == 200  # the real key is unaffected


# --- rotation ---------------------------------------------------------------------------------------


def test_rotation_keeps_the_old_secret_for_the_overlap_only(org_and_owner) -> None:  # noqa: ANN001
    org, people, owner = org_and_owner
    old, body = _new_key(owner, org)
    response = owner.post(f"/api/v1/api-keys/{body['id']}/rotate", {"overlap_seconds": 600}, format="json")
    assert response.status_code == 200, response.content
    new = response.json()["key"]
    assert new != old and response.json()["prefix"] == body["prefix"]
    assert _members(_as_key(new), org).status_code == 200
    assert _members(_as_key(old), org).status_code == 200  # within the overlap
    with _later(601):
        assert _members(_as_key(old), org).status_code == 401
        assert _members(_as_key(new), org).status_code == 200
    event = _events("apikey.rotated")[-1]
    assert event.actor_id == str(people["owner"].pk)
    assert event.metadata["prefix"] == body["prefix"] and event.metadata["overlap_until"]
    assert "key" not in owner.get(f"/api/v1/api-keys/{body['id']}").json()
    for secret in (old[-43:], new[-43:]):
        assert not any(secret in str(e.metadata) + str(e.changes) for e in AuditEvent.objects.all())


def test_rotation_without_overlap_ends_the_old_secret_at_once(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    old, body = _new_key(owner, org)
    response = owner.post(f"/api/v1/api-keys/{body['id']}/rotate", {"overlap_seconds": 0}, format="json")
    assert response.status_code == 200, response.content
    assert _members(_as_key(old), org).status_code == 401
    assert _members(_as_key(response.json()["key"]), org).status_code == 200
    assert _events("apikey.rotated")[-1].metadata["overlap_until"] is None


def test_rotation_default_overlap_is_an_hour_and_the_maximum_a_week(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    old, body = _new_key(owner, org)
    too_long = owner.post(f"/api/v1/api-keys/{body['id']}/rotate", {"overlap_seconds": 7 * 86400 + 1}, format="json")
    assert too_long.status_code == 400
    assert owner.post(f"/api/v1/api-keys/{body['id']}/rotate", {}, format="json").status_code == 200
    with _later(3500):
        assert _members(_as_key(old), org).status_code == 200
    with _later(3700):
        assert _members(_as_key(old), org).status_code == 401


def test_rotating_needs_every_scope_of_the_key(org_and_owner) -> None:  # noqa: ANN001
    """Rotation hands out a working secret: an admin may not take over the owner's org:delete key."""
    org, _, owner = org_and_owner
    _, body = _new_key(owner, org, scopes=["org:delete", "members:read"])
    admin = signed_in("admin@example.com")
    response = admin.post(f"/api/v1/api-keys/{body['id']}/rotate", {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "privilege_escalation"
    assert "org:delete" in response.json()["detail"]
    assert _events("apikey.rotated") == []


# --- bookkeeping ------------------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org)
    assert ApiKey.objects.get(pk=body["id"]).last_used_at is None
    assert _members(_as_key(key), org, REMOTE_ADDR="10.0.0.1").status_code == 200
    first = ApiKey.objects.get(pk=body["id"])
    assert first.last_used_at is not None and first.last_used_ip == "10.0.0.1"
    with _later(30):
        assert _members(_as_key(key), org, REMOTE_ADDR="10.0.0.2").status_code == 200
    second = ApiKey.objects.get(pk=body["id"])
    assert (second.last_used_at, second.last_used_ip) == (first.last_used_at, "10.0.0.1")
    with _later(61):
        assert _members(_as_key(key), org, REMOTE_ADDR="10.0.0.3").status_code == 200
    third = ApiKey.objects.get(pk=body["id"])
    assert third.last_used_at > first.last_used_at and third.last_used_ip == "10.0.0.3"
    # A refused request (403 out of scope) still counts as a use: it outlives the rolled-back request.
    with _later(200):
        assert _as_key(key).get(f"/api/v1/organizations/{org.pk}/teams").status_code == 403
    assert ApiKey.objects.get(pk=body["id"]).last_used_at > third.last_used_at


# --- who may create, change and rotate --------------------------------------------------------------


def test_creating_needs_a_recent_sign_in(org_and_owner) -> None:  # noqa: ANN001
    org, people, owner = org_and_owner
    UserSession.objects.filter(user=people["owner"]).update(auth_time=timezone.now() - timedelta(minutes=11))
    response = _create(owner, org)
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"
    assert not ApiKey.objects.exists()


def test_scopes_beyond_the_creators_permissions_are_refused(org_and_owner) -> None:  # noqa: ANN001
    org, _, _ = org_and_owner
    admin = signed_in("admin@example.com")
    response = _create(admin, org, scopes=["members:read", "org:delete", "billing:manage"])
    assert response.status_code == 403
    assert response.json()["code"] == "privilege_escalation"
    assert response.json()["permissions"] == ["billing:manage", "org:delete"]
    assert not ApiKey.objects.exists() and _events("apikey.created") == []
    assert _create(admin, org, scopes=["members:read", "members:invite"]).status_code == 201


@pytest.mark.parametrize("_case, scopes", [("unknown", ["members:read", "nope:nothing"]), ("empty", []),
                                          ("not a list", "members:read")])
def test_scopes_must_be_a_non_empty_list_from_the_catalog(org_and_owner, _case: str, scopes) -> None:  # noqa: ANN001, PT019
    org, _, owner = org_and_owner
    response = _create(owner, org, scopes=scopes)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"].startswith("scopes")
    assert not ApiKey.objects.exists()


def test_viewer_can_neither_create_nor_list(org_and_owner) -> None:  # noqa: ANN001
    org, _, _ = org_and_owner
    viewer = signed_in("viewer@example.com")
    response = _create(viewer, org)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert "apikeys:manage" in response.json()["detail"]
    assert viewer.get(f"/api/v1/organizations/{org.pk}/api-keys").status_code == 403
    assert not ApiKey.objects.exists()


def test_stranger_gets_404(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    _, body = _new_key(owner, org)
    org_with("stranger@example.com")
    stranger = signed_in("stranger@example.com")
    assert _create(stranger, org).status_code == 404
    assert stranger.get(f"/api/v1/organizations/{org.pk}/api-keys").status_code == 404
    for response in (stranger.get(f"/api/v1/api-keys/{body['id']}"),
                     stranger.patch(f"/api/v1/api-keys/{body['id']}", {"name": "mine"}, format="json"),
                     stranger.delete(f"/api/v1/api-keys/{body['id']}"),
                     stranger.post(f"/api/v1/api-keys/{body['id']}/rotate", {}, format="json"),
                     owner.get("/api/v1/api-keys/not-a-uuid")):
        assert response.status_code == 404, response.content
    assert ApiKey.objects.get(pk=body["id"]).revoked_at is None


def test_a_key_cannot_create_rotate_or_change_keys(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org, scopes=["apikeys:manage", "apikeys:read", "members:read"])
    client = _as_key(key)
    response = _create(client, org)
    assert response.status_code == 403 and response.json()["code"] == "user_required"
    rotate = client.post(f"/api/v1/api-keys/{body['id']}/rotate", {}, format="json")
    assert rotate.status_code == 403 and rotate.json()["code"] == "user_required"
    patch = client.patch(f"/api/v1/api-keys/{body['id']}", {"expires_at": None, "allowed_ips": []}, format="json")
    assert patch.status_code == 403 and patch.json()["code"] == "user_required"
    assert ApiKey.objects.count() == 1
    assert client.get(f"/api/v1/organizations/{org.pk}/api-keys").status_code == 200  # apikeys:read
    assert client.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204  # a key may revoke (itself)
    event = _events("apikey.revoked")[-1]
    assert (event.actor_type, event.actor_id) == ("api_key", body["id"])
    assert _members(client, org).status_code == 401


def test_update_changes_fields_and_refuses_escalation(org_and_owner) -> None:  # noqa: ANN001
    org, people, owner = org_and_owner
    _, body = _new_key(owner, org, scopes=["members:read"])
    admin = signed_in("admin@example.com")
    refused = admin.patch(f"/api/v1/api-keys/{body['id']}", {"scopes": ["members:read", "org:delete"]}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "privilege_escalation"
    assert ApiKey.objects.get(pk=body["id"]).scopes == ["members:read"]
    unknown = admin.patch(f"/api/v1/api-keys/{body['id']}", {"scopes": ["bogus:scope"]}, format="json")
    assert unknown.status_code == 400

    response = admin.patch(f"/api/v1/api-keys/{body['id']}",
                           {"name": "Renamed", "scopes": ["teams:read"], "allowed_ips": ["192.0.2.7"]}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["scopes"], response.json()["allowed_ips"]) == (
        "Renamed", ["teams:read"], ["192.0.2.7/32"])
    event = _events("apikey.updated")[-1]
    assert event.actor_id == str(people["admin"].pk)
    assert event.changes == {"name": ["CI", "Renamed"], "scopes": [["members:read"], ["teams:read"]],
                             "allowed_ips": [[], ["192.0.2.7/32"]]}
    same = admin.patch(f"/api/v1/api-keys/{body['id']}", {"name": "Renamed"}, format="json")
    assert same.status_code == 200 and len(_events("apikey.updated")) == 1  # nothing changed, nothing audited


def test_scope_change_takes_effect_on_the_next_request(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org, scopes=["members:read"])
    client = _as_key(key)
    assert _members(client, org).status_code == 200
    assert owner.patch(f"/api/v1/api-keys/{body['id']}", {"scopes": ["teams:read"]}, format="json").status_code == 200
    assert _members(client, org).status_code == 403
    assert client.get(f"/api/v1/organizations/{org.pk}/teams").status_code == 200


def test_policies_can_deny_a_key_but_never_widen_it(org_and_owner) -> None:  # noqa: ANN001
    org, _, owner = org_and_owner
    key, body = _new_key(owner, org, scopes=["members:read"])
    client = _as_key(key)
    allow = owner.post(f"/api/v1/organizations/{org.pk}/policies",
                       {"name": "more", "effect": "allow", "actions": ["teams:read"],
                        "subjects": [f"apikey:{body['id']}"]}, format="json")
    assert allow.status_code == 201, allow.content
    assert client.get(f"/api/v1/organizations/{org.pk}/teams").status_code == 403  # outside its scopes still
    deny = owner.post(f"/api/v1/organizations/{org.pk}/policies",
                      {"name": "less", "effect": "deny", "actions": ["members:read"],
                       "subjects": [f"apikey:{body['id']}"]}, format="json")
    assert deny.status_code == 201, deny.content
    response = _members(client, org)
    assert response.status_code == 403 and "less" in response.json()["detail"]
