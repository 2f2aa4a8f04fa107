"""The operators' console: user admin and the read-only audit view, through the test client."""

import pytest
from django.test import Client

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from apps.audit.services import emit
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db




def test_the_admin_login_is_the_accounts_sign_in_page() -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/admin/")


def test_an_operator_signs_in_and_reaches_the_admin_audited_with_request_context(operator: User) -> None:
    client = Client(HTTP_USER_AGENT="Firefox/130", HTTP_X_REQUEST_ID="login-1")
    response = client.post("/accounts/login/?next=/admin/", {"login": "OPS@example.com",
                                                              "password": "correct horse battery staple"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="user.signed_in")
    assert (event.actor_id, event.user_agent, event.request_id, event.ip) == \
        (str(operator.pk), "Firefox/130", "login-1", "127.0.0.1")
    assert event.metadata == {"method": "browser", "session_id": event.metadata["session_id"]}
    assert UserSession.objects.get(pk=event.metadata["session_id"]).user == operator


def test_failed_sign_in_is_audited_as_failure(operator: User) -> None:
    response = Client().post("/accounts/login/", {"login": "ops@example.com", "password": "wrong"})
    assert response.status_code == 200  # the form again, with an error
    event = AuditEvent.objects.get(action="user.signin_failed")
    assert event.outcome == "failure"
    assert event.metadata == {"method": "session", "email": "ops@example.com", "reason": "invalid_credentials"}
    assert "wrong" not in str(event.metadata)


def test_user_list_searches_by_email_and_filters_by_state(admin_client: Client) -> None:
    UserFactory(email="active.one@example.com")
    UserFactory(email="suspended.one@example.com", is_active=False)
    found = admin_client.get("/admin/accounts/user/", {"q": "suspended"}).content.decode()
    assert "suspended.one@example.com" in found and "active.one@example.com" not in found
    inactive = admin_client.get("/admin/accounts/user/", {"is_active__exact": "0"}).content.decode()
    assert "suspended.one@example.com" in inactive and "active.one@example.com" not in inactive


def test_creating_a_user_in_the_admin_is_audited(admin_client: Client, operator: User) -> None:
    response = admin_client.post("/admin/accounts/user/add/", {
        "email": "new@example.com", "usable_password": "true",
        "password1": "a long passphrase 42", "password2": "a long passphrase 42",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new@example.com")
    assert user.check_password("a long passphrase 42")
    event = AuditEvent.objects.get(action="user.created")
    assert (event.actor_id, event.target_id, event.metadata) == (str(operator.pk), str(user.pk), {"source": "admin"})


def test_suspending_a_user_in_the_admin_records_what_changed(admin_client: Client) -> None:
    user = UserFactory(email="eve@example.com")
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", {
        "email": "eve@example.com", "first_name": user.first_name, "last_name": user.last_name,
        "is_staff": "", "is_superuser": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        # is_active absent = unticked
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert user.is_active is False
    event = AuditEvent.objects.get(action="user.updated")
    assert event.changes == {"is_active": [True, False]}


def test_audit_admin_lists_events_but_cannot_change_or_delete_them(admin_client: Client) -> None:
    event = emit(action="user.signed_in", metadata={"method": "password"})
    listing = admin_client.get("/admin/audit/auditevent/", {"action": "user.signed_in"})
    assert listing.status_code == 200 and "user.signed_in" in listing.content.decode()
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert detail.status_code == 200 and event.hash in detail.content.decode()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_non_staff_users_cannot_reach_the_admin() -> None:
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/admin/accounts/user/").status_code == 302
