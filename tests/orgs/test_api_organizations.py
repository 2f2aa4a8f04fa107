"""Organizations and members through the API: tenancy, roles, the owner invariant, org switching."""

import threading

import jwt
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from apps.orgs.models import Membership, Organization
from apps.orgs.roles import system_role_id
from apps.orgs.services.organizations import member_add, organization_create
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in, signin

pytestmark = pytest.mark.django_db


def org_with(owner_email: str = "owner@example.com", **members: str) -> tuple[Organization, dict[str, User]]:
    """An organization owned by `owner_email`, with extra members {email_prefix: role}."""
    owner = User.objects.filter(email=owner_email).first() or UserFactory(email=owner_email)
    org = organization_create(user=owner, name="Acme", slug=f"acme-{Organization.objects.count()}")
    people = {"owner": owner}
    for name, role in members.items():
        people[name] = UserFactory(email=f"{name}@example.com")
        member_add(organization=org, user=people[name], role=role, actor=owner, source="test")
    return org, people


def test_create_makes_me_owner_and_lists_it_with_my_role() -> None:
    UserFactory(email="founder@example.com")
    client = signed_in("founder@example.com")
    response = client.post("/api/v1/organizations", {"name": "Acme Inc", "slug": "acme"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "owner"
    listing = client.get("/api/v1/organizations").json()
    assert [(o["slug"], o["role"]) for o in listing["results"]] == [("acme", "owner")]
    assert listing["next_cursor"] is None
    assert client.get("/api/v1/organizations/slug/ACME").json()["id"] == response.json()["id"]
    assert {"organization.created", "member.added"} <= set(AuditEvent.objects.filter(
        organization_id=response.json()["id"]).values_list("action", flat=True))


@pytest.mark.parametrize(("slug", "status"), [("Acme", 400), ("ab", 400), ("a" * 51, 400), ("with space", 400)])
def test_slug_must_match_the_pattern(slug: str, status: int) -> None:
    UserFactory(email="s@example.com")
    assert signed_in("s@example.com").post("/api/v1/organizations", {"name": "X", "slug": slug},
                                           format="json").status_code == status


def test_slug_is_unique() -> None:
    org_with()
    UserFactory(email="late@example.com")
    taken = signed_in("late@example.com").post("/api/v1/organizations", {"name": "Other", "slug": "acme-0"},
                                               format="json")
    assert (taken.status_code, taken.json()["code"]) == (409, "slug_taken")


def test_a_stranger_gets_404_for_every_read_and_write() -> None:
    org, _ = org_with()
    UserFactory(email="stranger@example.com")
    client = signed_in("stranger@example.com")
    base = f"/api/v1/organizations/{org.pk}"
    assert client.get(base).status_code == 404
    assert client.patch(base, {"name": "Pwned"}, format="json").status_code == 404
    assert client.get(f"{base}/members").status_code == 404
    assert client.get("/api/v1/organizations/slug/acme-0").status_code == 404
    org.refresh_from_db()
    assert org.name == "Acme"


def test_viewer_may_read_but_not_write_and_is_told_the_missing_permission() -> None:
    org, _ = org_with(viewer="viewer")
    client = signed_in("viewer@example.com")
    assert client.get(f"/api/v1/organizations/{org.pk}").status_code == 200
    response = client.patch(f"/api/v1/organizations/{org.pk}", {"name": "Renamed"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["permission"] == "org:update"


def test_admin_updates_settings_with_validation_and_audit() -> None:
    org, _ = org_with(admin="admin")
    client = signed_in("admin@example.com")
    bad = client.patch(f"/api/v1/organizations/{org.pk}", {"ip_allowlist": ["not-a-cidr"]}, format="json")
    assert bad.status_code == 400
    ok = client.patch(f"/api/v1/organizations/{org.pk}", {"name": "Acme 2", "allowed_email_domains": ["@Acme.COM"]},
                      format="json")
    assert ok.status_code == 200 and ok.json()["allowed_email_domains"] == ["acme.com"]
    event = AuditEvent.objects.get(action="organization.updated")
    assert event.changes["name"] == ["Acme", "Acme 2"] and event.organization_id == org.pk


def test_members_list_is_paginated_with_a_cursor() -> None:
    org, _ = org_with(a="member", b="member", c="viewer")
    client = signed_in("owner@example.com")
    first = client.get(f"/api/v1/organizations/{org.pk}/members", {"limit": 2}).json()
    second = client.get(f"/api/v1/organizations/{org.pk}/members",
                        {"limit": 2, "cursor": first["next_cursor"]}).json()
    emails = [m["email"] for m in first["results"] + second["results"]]
    assert len(emails) == 4 and len(set(emails)) == 4 and second["next_cursor"] is None
    assert client.get(f"/api/v1/organizations/{org.pk}/members", {"limit": 500}).status_code == 400


def test_the_last_owner_cannot_leave_be_demoted_or_removed() -> None:
    org, people = org_with(admin="admin")
    owner = signed_in("owner@example.com")
    base = f"/api/v1/organizations/{org.pk}"
    assert owner.post(f"{base}/leave").json()["code"] == "last_owner"
    assert owner.patch(f"{base}/members/{people['owner'].pk}", {"role": "admin"}, format="json").json()["code"] \
        == "last_owner"
    assert owner.delete(f"{base}/members/{people['owner'].pk}").json()["code"] == "last_owner"
    assert signed_in("admin@example.com").delete(f"{base}/members/{people['owner'].pk}").json()["code"] \
        == "permission_denied"  # and only owners remove owners at all
    assert Membership.objects.get(user=people["owner"]).role.name == "owner"


def test_only_owners_make_owners() -> None:
    org, people = org_with(admin="admin", member="member")
    response = signed_in("admin@example.com").patch(
        f"/api/v1/organizations/{org.pk}/members/{people['member'].pk}", {"role": "owner"}, format="json")
    assert response.status_code == 403
    assert Membership.objects.get(user=people["member"]).role.name == "member"


def test_role_change_is_audited_and_unknown_roles_refused() -> None:
    org, people = org_with(member="member")
    client = signed_in("owner@example.com")
    url = f"/api/v1/organizations/{org.pk}/members/{people['member'].pk}"
    assert client.patch(url, {"role": "wizard"}, format="json").json()["code"] == "unknown_role"
    assert client.patch(url, {"role": "admin"}, format="json").json()["role"] == "admin"
    assert AuditEvent.objects.get(action="member.role_changed").changes == {"role": ["member", "admin"]}


def test_transfer_ownership_needs_recent_auth_and_swaps_roles() -> None:
    org, people = org_with(member="member")
    client = signed_in("owner@example.com")
    url = f"/api/v1/organizations/{org.pk}/transfer-ownership"
    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    assert client.post(url, {"user_id": str(people["member"].pk)}, format="json").json()["code"] == \
        "reauthentication_required"
    UserSession.objects.update(auth_time=timezone.now())
    assert client.post(url, {"user_id": str(people["member"].pk)}, format="json").status_code == 200
    roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role__name"))
    assert roles == {"owner@example.com": "admin", "member@example.com": "owner"}


def test_bulk_changes_report_each_row_and_keep_an_owner() -> None:
    org, people = org_with(a="member", b="member")
    client = signed_in("owner@example.com")
    response = client.post(f"/api/v1/organizations/{org.pk}/members/bulk", {
        "action": "remove", "user_ids": [str(people["a"].pk), "not-a-user", str(people["owner"].pk),
                                         str(people["b"].pk)]}, format="json")
    assert response.json()["results"] == [
        {"user_id": str(people["a"].pk), "ok": True},
        {"user_id": "not-a-user", "ok": False, "code": "not_found"},
        {"user_id": str(people["owner"].pk), "ok": False, "code": "last_owner"},
        {"user_id": str(people["b"].pk), "ok": True},
    ]
    assert list(Membership.objects.filter(organization=org).values_list("user__email", flat=True)) == \
        ["owner@example.com"]


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner() -> None:
    org, people = org_with(second="owner")
    barrier = threading.Barrier(2)

    def demote(actor: str, target: User) -> None:
        try:
            client = signed_in(f"{actor}@example.com")
            barrier.wait()
            client.patch(f"/api/v1/organizations/{org.pk}/members/{target.pk}", {"role": "member"}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=("owner", people["second"])),
               threading.Thread(target=demote, args=("second", people["owner"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Membership.objects.filter(organization=org, role__name="owner").count() == 1


def test_delete_is_soft_needs_recent_auth_and_hides_the_org() -> None:
    org, _ = org_with()
    client = signed_in("owner@example.com")
    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    assert client.delete(f"/api/v1/organizations/{org.pk}").status_code == 403
    UserSession.objects.update(auth_time=timezone.now())
    assert client.delete(f"/api/v1/organizations/{org.pk}").status_code == 204
    assert client.get(f"/api/v1/organizations/{org.pk}").status_code == 404
    assert Organization.objects.get(pk=org.pk).deleted_at is not None


def test_switch_organization_puts_the_org_claim_in_a_new_token() -> None:
    org, _ = org_with()
    client = signed_in("owner@example.com")
    response = client.post("/api/v1/auth/switch-organization", {"organization_id": str(org.pk)}, format="json")
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["org"] == str(org.pk)
    other, _ = org_with("someone@example.com")
    assert client.post("/api/v1/auth/switch-organization", {"organization_id": str(other.pk)},
                       format="json").status_code == 404


def test_mfa_required_refuses_members_without_a_second_factor() -> None:
    org, _ = org_with(member="member")
    Organization.objects.filter(pk=org.pk).update(mfa_required=True)
    response = signed_in("member@example.com").get(f"/api/v1/organizations/{org.pk}")
    assert (response.status_code, response.json()["code"]) == (403, "mfa_enrollment_required")


def test_mfa_required_lets_members_with_a_factor_in(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    import pyotp

    org, _ = org_with(member="member")
    Organization.objects.filter(pk=org.pk).update(mfa_required=True)
    client = signed_in("member@example.com")
    secret = client.post("/api/v1/mfa/totp/setup").json()["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/v1/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}, format="json")
    assert client.get(f"/api/v1/organizations/{org.pk}").status_code == 200


def test_ip_allowlist_refuses_calls_from_elsewhere() -> None:
    org, _ = org_with()
    Organization.objects.filter(pk=org.pk).update(ip_allowlist=["10.0.0.0/8"])
    client = signed_in("owner@example.com")
    response = client.get(f"/api/v1/organizations/{org.pk}", REMOTE_ADDR="203.0.113.5")
    assert (response.status_code, response.json()["code"]) == (403, "ip_not_allowed")
    assert client.get(f"/api/v1/organizations/{org.pk}", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_sole_owner_cannot_delete_their_account() -> None:
    org_with()
    client = signed_in("owner@example.com")
    response = client.delete("/api/v1/users/me")
    assert response.status_code == 409 and "Acme" in response.json()["detail"]


def test_members_can_see_each_other_but_not_strangers() -> None:
    org, people = org_with(member="member")
    stranger = UserFactory(email="stranger@example.com")
    client = signed_in("member@example.com")
    assert client.get(f"/api/v1/users/{people['owner'].pk}").status_code == 200
    assert client.get(f"/api/v1/users/{stranger.pk}").status_code == 404


def test_anonymous_calls_are_401() -> None:
    org, _ = org_with()
    assert APIClient().get(f"/api/v1/organizations/{org.pk}").status_code == 401
    assert signin("owner@example.com").status_code == 200


def test_a_team_role_grants_its_permissions_to_the_teams_members() -> None:
    from apps.orgs.models import Team, TeamMembership

    org, people = org_with(viewer="viewer")
    client = signed_in("viewer@example.com")
    assert client.patch(f"/api/v1/organizations/{org.pk}", {"name": "X"}, format="json").status_code == 403
    team = Team.objects.create(organization=org, name="Admins", role_id=system_role_id("admin"))
    TeamMembership.objects.create(team=team, membership=Membership.objects.get(user=people["viewer"]))
    assert client.patch(f"/api/v1/organizations/{org.pk}", {"name": "X"}, format="json").status_code == 200


def test_deleted_organizations_are_purged_after_the_grace_period_keeping_their_audit_chain() -> None:
    from datetime import timedelta

    from apps.audit.selectors import chain_verify
    from apps.orgs.tasks import organizations_purge_task

    old, _ = org_with()
    recent, _ = org_with("other@example.com")
    Organization.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    Organization.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=1))

    assert organizations_purge_task.delay().get() == 1

    assert list(Organization.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Membership.objects.filter(organization_id=old.pk).exists()
    assert AuditEvent.objects.filter(organization_id=old.pk, action="organization.purged").exists()
    assert chain_verify(chain_key=str(old.pk)).ok


def test_session_max_age_asks_for_a_recent_sign_in() -> None:
    org, _ = org_with(member="member")
    Organization.objects.filter(pk=org.pk).update(session_max_age=600)
    client = signed_in("member@example.com")
    assert client.get(f"/api/v1/organizations/{org.pk}").status_code == 200
    UserSession.objects.filter(user__email="member@example.com").update(auth_time="2026-01-01T00:00:00Z")
    response = client.get(f"/api/v1/organizations/{org.pk}")
    assert (response.status_code, response.json()["code"]) == (403, "reauthentication_required")
