"""Invitations through the REST API (API.md "Organizations"): invite, list, resend, revoke, validate,
accept (signed in or signing up), bulk JSON/CSV, expiry, and the tenant/permission matrix."""

import hashlib
import re
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Invitation, InvitationStatus, Membership
from apps.orgs.roles import system_role_id
from apps.orgs.tasks import invitations_expire_task
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import bearer, signed_in
from tests.orgs.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long invitation passphrase 7"
LINK = re.compile(re.escape(settings.PUBLIC_URL.rstrip("/")) + r"/invitations/accept/\?token=([A-Za-z0-9_-]+)")


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def sent_tokens() -> list[str]:
    return [LINK.search(message.body).group(1) for message in mail.outbox]


@pytest.fixture
def owner() -> Membership:
    return MembershipFactory(owner=True, user__email="owner@example.com")


@pytest.fixture
def org(owner: Membership):  # noqa: ANN201
    return owner.organization


@pytest.fixture
def admin(org) -> Membership:  # noqa: ANN001
    return MembershipFactory(admin=True, organization=org, user__email="admin@example.com")


@pytest.fixture
def owner_client(owner: Membership) -> APIClient:
    return signed_in(owner.user.email)


@pytest.fixture
def admin_client(admin: Membership) -> APIClient:
    return signed_in(admin.user.email)


def invite(client: APIClient, org, capture: DjangoCaptureOnCommitCallbacks,  # noqa: ANN001
           **body: object) -> Response:
    with capture(execute=True):
        return client.post(f"/api/v1/organizations/{org.pk}/invitations",
                           {"email": "new@example.com", "role": "member", **body}, format="json")


# --- create -------------------------------------------------------------------------------------

def test_invite_creates_a_pending_invitation_and_emails_a_link_whose_token_is_stored_hashed(
        owner_client: APIClient, org, owner: Membership, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    response = invite(owner_client, org, django_capture_on_commit_callbacks, email="New@Example.com",
                      role="admin", message="Welcome aboard!", expires_in_days=3)

    assert response.status_code == 201, response.content
    body = response.json()
    invitation = Invitation.objects.get()
    assert body == {
        "id": str(invitation.pk), "email": "new@example.com", "role": "admin", "status": "pending",
        "invited_by": {"id": str(owner.user.pk), "email": "owner@example.com"},
        "expires_at": body["expires_at"], "created_at": body["created_at"],
    }
    assert timedelta(days=3) - timedelta(minutes=1) < invitation.expires_at - timezone.now() <= timedelta(days=3)
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    assert org.name in message.subject
    [token] = sent_tokens()
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert invitation.token_hash == sha256(token)
    assert token not in response.content.decode()
    assert invitation.token_hash not in response.content.decode()
    assert "Welcome aboard!" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and f"/invitations/accept/?token={token}" in html
    [event] = events("invitation.sent")
    assert (event.actor_id, str(event.organization_id), event.target_id) == (str(owner.user.pk), str(org.pk),
                                                                             str(invitation.pk))
    assert event.metadata["email"] == "new@example.com" and event.metadata["resent"] is False


def test_invite_defaults_to_seven_days(owner_client: APIClient, org,  # noqa: ANN001
                                       django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    assert invite(owner_client, org, django_capture_on_commit_callbacks).status_code == 201
    remaining = Invitation.objects.get().expires_at - timezone.now()
    assert timedelta(days=7) - timedelta(minutes=1) < remaining <= timedelta(days=7)


@pytest.mark.parametrize(("_case", "body", "status", "code"), [
    ("unknown role", {"role": "wizard"}, 400, "unknown_role"),
    ("admin inviting an owner", {"role": "owner"}, 403, "permission_denied"),
    ("domain not allowed", {"email": "x@elsewhere.org"}, 400, "email_domain_not_allowed"),
    ("already a member", {"email": "Member@Example.com"}, 409, "already_member"),
    ("pending invitation", {"email": "PENDING@example.com"}, 409, "invitation_pending"),
    ("not an e-mail", {"email": "not-an-address"}, 400, "validation_failed"),
    ("expiry of 0 days", {"expires_in_days": 0}, 400, "validation_failed"),
    ("expiry of 31 days", {"expires_in_days": 31}, 400, "validation_failed"),
])
def test_invite_refusals_change_nothing(admin_client: APIClient, org, _case: str, body: dict,  # noqa: ANN001
                                        status: int, code: str, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    org.allowed_email_domains = ["example.com"]
    org.save()
    MembershipFactory(organization=org, user__email="member@example.com")
    InvitationFactory(organization=org, email="pending@example.com")
    before = list(Invitation.objects.values_list("pk", "status", "token_hash"))

    response = invite(admin_client, org, django_capture_on_commit_callbacks, **body)

    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert response["Content-Type"] == "application/problem+json"
    assert list(Invitation.objects.values_list("pk", "status", "token_hash")) == before
    assert mail.outbox == [] and events("invitation.sent") == []


def test_owner_may_invite_an_owner(owner_client: APIClient, org,  # noqa: ANN001
                                   django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    response = invite(owner_client, org, django_capture_on_commit_callbacks, role="owner")
    assert (response.status_code, response.json()["role"]) == (201, "owner")


def test_an_expired_pending_invitation_does_not_block_a_new_one(owner_client: APIClient, org,  # noqa: ANN001
                                                                django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    old = InvitationFactory(organization=org, email="new@example.com", expired=True)

    response = invite(owner_client, org, django_capture_on_commit_callbacks)

    assert response.status_code == 201, response.content
    old.refresh_from_db()
    assert old.status == InvitationStatus.EXPIRED
    assert [e.target_id for e in events("invitation.expired")] == [str(old.pk)]


# --- list ---------------------------------------------------------------------------------------

def test_list_shows_effective_statuses_filters_and_pages(owner_client: APIClient, org) -> None:  # noqa: ANN001
    pending = InvitationFactory(organization=org, email="a@example.com")
    stale = InvitationFactory(organization=org, email="b@example.com", expired=True)
    revoked = InvitationFactory(organization=org, email="c@example.com", revoked=True)
    accepted = InvitationFactory(organization=org, email="d@example.com", accepted=True)
    InvitationFactory(email="elsewhere@example.com")  # another organization's
    url = f"/api/v1/organizations/{org.pk}/invitations"

    body = owner_client.get(url).json()
    assert {r["email"]: r["status"] for r in body["results"]} == {
        "a@example.com": "pending", "b@example.com": "expired", "c@example.com": "revoked",
        "d@example.com": "accepted"}
    assert body["next_cursor"] is None
    assert all("token" not in key for row in body["results"] for key in row)

    for status, expected in [("pending", pending), ("expired", stale), ("revoked", revoked), ("accepted", accepted)]:
        rows = owner_client.get(url, {"status": status}).json()["results"]
        assert [r["id"] for r in rows] == [str(expected.pk)], status

    first = owner_client.get(url, {"limit": 3}).json()
    second = owner_client.get(url, {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(first["results"]) == 3 and len(second["results"]) == 1 and second["next_cursor"] is None
    assert {r["id"] for r in first["results"] + second["results"]} == {
        str(i.pk) for i in (pending, stale, revoked, accepted)}

    bad = owner_client.get(url, {"status": "lost"})
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_failed")


# --- resend and revoke --------------------------------------------------------------------------

def test_resend_emails_a_new_link_and_kills_the_old_one(admin_client: APIClient, org,  # noqa: ANN001
                                                        django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, token="old-token", expired=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/v1/invitations/{invitation.pk}/resend", {"expires_in_days": 2},
                                     format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending"
    [token] = sent_tokens()
    invitation.refresh_from_db()
    assert invitation.token_hash == sha256(token) != sha256("old-token")
    assert timedelta(days=2) - timedelta(minutes=1) < invitation.expires_at - timezone.now() <= timedelta(days=2)
    assert token not in response.content.decode()
    public = APIClient()
    assert public.get("/api/v1/invitations/validate/old-token").status_code == 404
    assert public.get(f"/api/v1/invitations/validate/{token}").status_code == 200
    [event] = events("invitation.sent")
    assert event.metadata["resent"] is True


def test_resend_of_an_accepted_invitation_is_refused(admin_client: APIClient, org) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, accepted=True)
    response = admin_client.post(f"/api/v1/invitations/{invitation.pk}/resend", format="json")
    assert (response.status_code, response.json()["code"]) == (409, "invitation_not_pending")
    assert mail.outbox == []


def test_only_owners_resend_owner_invitations(admin_client: APIClient, owner_client: APIClient, org,  # noqa: ANN001
                                              django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, role_id=system_role_id("owner"), token="owner-token")
    url = f"/api/v1/invitations/{invitation.pk}/resend"

    with django_capture_on_commit_callbacks(execute=True):
        refused = admin_client.post(url, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    invitation.refresh_from_db()
    assert invitation.token_hash == sha256("owner-token") and mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(url, format="json").status_code == 200
    assert len(mail.outbox) == 1


def test_revoke_kills_the_link_and_is_recorded(admin_client: APIClient, org, admin: Membership) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, token="to-revoke")

    response = admin_client.delete(f"/api/v1/invitations/{invitation.pk}")

    assert response.status_code == 204
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED and invitation.revoked_at is not None
    assert APIClient().get("/api/v1/invitations/validate/to-revoke").json()["code"] == "invitation_invalid"
    [event] = events("invitation.revoked")
    assert (event.actor_id, event.target_id) == (str(admin.user.pk), str(invitation.pk))
    assert admin_client.delete(f"/api/v1/invitations/{invitation.pk}").status_code == 204  # idempotent
    assert len(events("invitation.revoked")) == 1


def test_revoking_an_accepted_invitation_is_refused(admin_client: APIClient, org) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, accepted=True)
    response = admin_client.delete(f"/api/v1/invitations/{invitation.pk}")
    assert (response.status_code, response.json()["code"]) == (409, "invitation_not_pending")


# --- who may call -------------------------------------------------------------------------------

ORG_CALLS: list[tuple[str, Callable[[APIClient, object, Invitation], Response]]] = [
    ("list", lambda c, org, inv: c.get(f"/api/v1/organizations/{org.pk}/invitations")),
    ("create", lambda c, org, inv: c.post(f"/api/v1/organizations/{org.pk}/invitations",
                                          {"email": "x@example.com", "role": "member"}, format="json")),
    ("bulk", lambda c, org, inv: c.post(f"/api/v1/organizations/{org.pk}/invitations/bulk",
                                        {"invitations": [{"email": "x@example.com", "role": "member"}]},
                                        format="json")),
    ("resend", lambda c, org, inv: c.post(f"/api/v1/invitations/{inv.pk}/resend", format="json")),
    ("revoke", lambda c, org, inv: c.delete(f"/api/v1/invitations/{inv.pk}")),
]


@pytest.mark.parametrize(("_case", "status"), [("anonymous", 401), ("other tenant's admin", 404), ("viewer", 403),
                                               ("member", 403)])
@pytest.mark.parametrize(("_call", "call"), ORG_CALLS)
def test_callers_without_access_are_refused_and_change_nothing(
        org, _case: str, status: int, _call: str, call: Callable, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    invitation = InvitationFactory(organization=org, email="victim@example.com")
    before = list(Invitation.objects.values_list("pk", "status", "token_hash", "expires_at"))
    if _case == "anonymous":
        client = APIClient()
    elif _case == "other tenant's admin":
        client = signed_in(MembershipFactory(admin=True, user__email="stranger@example.com").user.email)
    else:
        client = signed_in(MembershipFactory(organization=org, role=_case, user__email=f"{_case}@example.com")
                           .user.email)

    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, org, invitation)

    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["code"] == "permission_denied"
        assert "members:invite" in response.json()["detail"]
    if status == 404:
        assert "victim@example.com" not in response.content.decode()
    assert list(Invitation.objects.values_list("pk", "status", "token_hash", "expires_at")) == before
    assert mail.outbox == []


def test_unknown_invitation_ids_answer_404(admin_client: APIClient) -> None:
    for invitation_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = admin_client.delete(f"/api/v1/invitations/{invitation_id}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


# --- validate (public) --------------------------------------------------------------------------

def test_validate_describes_the_invitation_without_authentication(org, owner: Membership) -> None:  # noqa: ANN001
    owner.user.first_name, owner.user.last_name = "Olga", "Owner"
    owner.user.save()
    invitation = InvitationFactory(organization=org, invited_by=owner.user, role_id=system_role_id("admin"), token="t1",
                                   email="guest@example.com")

    response = APIClient().get("/api/v1/invitations/validate/t1")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"organization": {"name": org.name, "slug": org.slug},
                    "inviter": {"name": "Olga Owner", "email": "owner@example.com"},
                    "role": "admin", "email": "guest@example.com", "expires_at": body["expires_at"]}
    assert body["expires_at"].replace("Z", "+00:00") == invitation.expires_at.isoformat()


@pytest.mark.parametrize(("_case", "traits", "reason"), [
    ("unknown", None, "unknown"), ("revoked", {"revoked": True}, "revoked"),
    ("accepted", {"accepted": True}, "accepted"), ("expired", {"expired": True}, "expired"),
    ("organization deleted", {"organization__deleted_at": timezone.now()}, "unknown"),
])
def test_validate_refuses_unusable_links(_case: str, traits: dict | None, reason: str) -> None:
    if traits is not None:
        InvitationFactory(token="t1", **traits)
    response = APIClient().get("/api/v1/invitations/validate/t1")
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        404, "invitation_invalid", reason)


# --- accept -------------------------------------------------------------------------------------

def test_signed_in_invitee_accepts_and_joins(org, owner: Membership) -> None:  # noqa: ANN001
    invitee = UserFactory(email="Guest@Example.com")
    invitation = InvitationFactory(organization=org, email="guest@example.com", role_id=system_role_id("admin"),
                                   token="t1", invited_by=owner.user)

    response = signed_in("Guest@Example.com").post("/api/v1/invitations/accept", {"token": "t1"}, format="json")

    assert response.status_code == 200, response.content
    membership = Membership.objects.get(organization=org, user=invitee)
    assert response.json() == {"organization": {"id": str(org.pk), "name": org.name, "slug": org.slug},
                               "user_id": str(invitee.pk), "role": "admin", "status": "active",
                               "joined_at": response.json()["joined_at"]}
    assert (membership.role.name, membership.invited_by_id) == ("admin", owner.user.pk)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by_id) == (InvitationStatus.ACCEPTED, invitee.pk)
    [accepted] = events("invitation.accepted")
    assert (accepted.actor_id, accepted.metadata["signed_up"]) == (str(invitee.pk), False)
    assert [e.target_id for e in events("member.added")] == [str(invitee.pk)]
    assert events("member.added")[0].metadata == {"role": "admin", "source": "invitation"}


def test_accepting_twice_is_refused(org) -> None:  # noqa: ANN001
    UserFactory(email="guest@example.com")
    InvitationFactory(organization=org, email="guest@example.com", token="t1")
    client = signed_in("guest@example.com")
    assert client.post("/api/v1/invitations/accept", {"token": "t1"}, format="json").status_code == 200

    again = client.post("/api/v1/invitations/accept", {"token": "t1"}, format="json")

    assert (again.status_code, again.json()["code"], again.json()["reason"]) == (404, "invitation_invalid", "accepted")
    assert Membership.objects.filter(organization=org, user__email="guest@example.com").count() == 1


def test_another_user_cannot_accept_someone_elses_invitation(org) -> None:  # noqa: ANN001
    UserFactory(email="intruder@example.com")
    invitation = InvitationFactory(organization=org, email="guest@example.com", token="t1")

    response = signed_in("intruder@example.com").post("/api/v1/invitations/accept", {"token": "t1"}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "invitation_email_mismatch")
    assert not Membership.objects.filter(organization=org, user__email="intruder@example.com").exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.parametrize(("_case", "traits", "reason"), [
    ("expired", {"expired": True}, "expired"), ("revoked", {"revoked": True}, "revoked")])
def test_accepting_an_expired_or_revoked_invitation_is_refused(org, _case: str, traits: dict,  # noqa: ANN001
                                                               reason: str) -> None:
    UserFactory(email="guest@example.com")
    InvitationFactory(organization=org, email="guest@example.com", token="t1", **traits)

    response = signed_in("guest@example.com").post("/api/v1/invitations/accept", {"token": "t1"}, format="json")

    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        404, "invitation_invalid", reason)
    assert not Membership.objects.filter(organization=org, user__email="guest@example.com").exists()


def test_anonymous_invitee_signs_up_verified_and_joins_in_one_step(org, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    InvitationFactory(organization=org, email="guest@example.com", role_id=system_role_id("viewer"), token="t1")

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post("/api/v1/invitations/accept", {
            "token": "t1", "password": PASSWORD, "first_name": "Gina"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(email="guest@example.com")
    assert (body["user"]["id"], body["user"]["email"], body["user"]["email_verified"]) == (
        str(user.pk), "guest@example.com", True)
    assert user.first_name == "Gina" and user.check_password(PASSWORD)
    assert EmailAddress.objects.filter(user=user, email="guest@example.com", verified=True, primary=True).exists()
    assert body["membership"]["role"] == "viewer" and body["membership"]["organization"]["id"] == str(org.pk)
    assert Membership.objects.filter(organization=org, user=user, role__name="viewer").exists()
    me = bearer(body["tokens"]["access_token"]).get("/api/v1/auth/me")
    assert (me.status_code, me.json()["email"]) == (200, "guest@example.com")
    assert events("invitation.accepted")[0].metadata["signed_up"] is True
    assert events("user.signed_up")[0].metadata == {"method": "invitation"}
    assert mail.outbox == []  # no verification e-mail: the link proved the mailbox


@pytest.mark.parametrize(("_case", "body", "status", "code"), [
    ("no password", {}, 401, "not_authenticated"),
    ("weak password", {"password": "123"}, 400, "validation_failed"),
    ("address has an account", {"password": PASSWORD}, 409, "email_taken"),
])
def test_sign_up_acceptance_refusals_change_nothing(org, _case: str, body: dict, status: int,  # noqa: ANN001
                                                    code: str) -> None:
    if _case == "address has an account":
        UserFactory(email="GUEST@example.com")
    InvitationFactory(organization=org, email="guest@example.com", token="t1")
    users = User.objects.count()

    response = APIClient().post("/api/v1/invitations/accept", {"token": "t1", **body}, format="json")

    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert User.objects.count() == users
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    assert Membership.objects.filter(organization=org).count() == 1  # the owner


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_acceptances_make_one_membership() -> None:
    org = MembershipFactory(owner=True).organization
    UserFactory(email="racer@example.com")
    InvitationFactory(organization=org, email="racer@example.com", token="race")
    clients = [signed_in("racer@example.com"), signed_in("racer@example.com")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def accept(client: APIClient) -> None:
        try:
            barrier.wait()
            statuses.append(client.post("/api/v1/invitations/accept", {"token": "race"}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 404]
    assert Membership.objects.filter(organization=org, user__email="racer@example.com").count() == 1
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


# --- bulk ---------------------------------------------------------------------------------------

def bulk_rows_setup(org) -> None:  # noqa: ANN001
    org.allowed_email_domains = ["example.com"]
    org.save()
    MembershipFactory(organization=org, user__email="member@example.com")
    InvitationFactory(organization=org, email="pending@example.com")


BULK_EXPECTED = [
    ("one@example.com", True, None),
    ("not-an-address", False, "invalid_email"),
    ("ONE@example.com", False, "duplicate_in_request"),
    ("member@example.com", False, "already_member"),
    ("pending@example.com", False, "invitation_pending"),
    ("two@example.com", False, "unknown_role"),
    ("x@elsewhere.org", False, "email_domain_not_allowed"),
    ("boss@example.com", False, "permission_denied"),
    ("three@example.com", True, None),
]
BULK_ROLES = ["member", "member", "admin", "member", "member", "wizard", "member", "owner", "viewer"]


def assert_bulk_results(response: Response, org) -> None:  # noqa: ANN001
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["email"], r["ok"], r.get("code")) for r in results] == BULK_EXPECTED
    created = {str(i.pk): i.email for i in Invitation.objects.filter(organization=org, invited_by__isnull=False)
               .exclude(email="pending@example.com")}
    assert {r["invitation_id"]: r["email"].lower() for r in results if r["ok"]} == created
    assert all("invitation_id" not in r for r in results if not r["ok"])
    assert sorted(m.to[0] for m in mail.outbox) == ["one@example.com", "three@example.com"]
    assert len(events("invitation.sent")) == 2


def test_bulk_json_invites_row_by_row_in_input_order(admin_client: APIClient, org,  # noqa: ANN001
                                                     django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    bulk_rows_setup(org)
    rows = [{"email": email, "role": role} for (email, _, _), role in zip(BULK_EXPECTED, BULK_ROLES, strict=True)]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/v1/organizations/{org.pk}/invitations/bulk", {"invitations": rows},
                                     format="json")

    assert_bulk_results(response, org)


def test_bulk_csv_invites_row_by_row_in_input_order(admin_client: APIClient, org,  # noqa: ANN001
                                                    django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    bulk_rows_setup(org)
    lines = ["\ufeffRole,Email,Note"] + [f'{role},"{email}",x' for (email, _, _), role in
                                          zip(BULK_EXPECTED, BULK_ROLES, strict=True)]
    body = ("\r\n".join(lines[:3]) + "\r\n\r\n" + "\r\n".join(lines[3:]) + "\r\n").encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/v1/organizations/{org.pk}/invitations/bulk", body,
                                     content_type="text/csv; charset=utf-8")

    assert_bulk_results(response, org)


@pytest.mark.parametrize(("_case", "body", "detail"), [
    ("empty body", b"", None),
    ("no header", b"a@example.com,member\n", "header"),
    ("short row", b"email,role\na@example.com,member\nb@example.com\n", "Line 3"),
    ("unterminated quote", b'email,role\na@example.com,"member\n', "Line"),
    ("not UTF-8", b"email,role\n\xff\xfe@example.com,member\n", "UTF-8"),
])
def test_bulk_malformed_csv_is_refused_whole(admin_client: APIClient, org, _case: str, body: bytes,  # noqa: ANN001
                                            detail: str | None) -> None:
    response = admin_client.post(f"/api/v1/organizations/{org.pk}/invitations/bulk", body, content_type="text/csv")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    if detail is None:  # nothing to parse: the body lacks the required list
        assert response.json()["code"] == "validation_failed"
    else:
        assert response.json()["code"] == "malformed_csv"
        assert detail.lower() in response.json()["detail"].lower()
    assert not Invitation.objects.exists()


def test_bulk_of_more_than_500_rows_is_refused(admin_client: APIClient, org) -> None:  # noqa: ANN001
    url = f"/api/v1/organizations/{org.pk}/invitations/bulk"
    rows = [{"email": f"u{i}@example.com", "role": "member"} for i in range(501)]
    csv_body = "email,role\n" + "".join(f"u{i}@example.com,member\n" for i in range(501))

    for response in (admin_client.post(url, {"invitations": rows}, format="json"),
                     admin_client.post(url, csv_body, content_type="text/csv")):
        assert (response.status_code, response.json()["code"]) == (400, "validation_failed")
        assert response.json()["errors"][0]["field"] == "invitations"
    assert not Invitation.objects.exists()


def test_bulk_needs_rows(admin_client: APIClient, org) -> None:  # noqa: ANN001
    response = admin_client.post(f"/api/v1/organizations/{org.pk}/invitations/bulk", {"invitations": []},
                                 format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_failed")


# --- expiry -------------------------------------------------------------------------------------

def test_expiry_task_marks_overdue_pending_invitations_once(org) -> None:  # noqa: ANN001
    overdue = InvitationFactory(organization=org, expired=True)
    current = InvitationFactory(organization=org)
    revoked = InvitationFactory(organization=org, revoked=True, expires_at=timezone.now() - timedelta(days=1))

    assert invitations_expire_task.delay().get() == 1
    assert invitations_expire_task.delay().get() == 0

    statuses = dict(Invitation.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: "expired", current.pk: "pending", revoked.pk: "revoked"}
    [event] = events("invitation.expired")
    assert (event.actor_type, event.target_id, str(event.organization_id)) == ("system", str(overdue.pk), str(org.pk))
