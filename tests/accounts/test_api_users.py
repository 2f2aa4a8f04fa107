import pytest

from apps.accounts import hooks
from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


def test_update_my_profile_is_audited_with_changes() -> None:
    UserFactory(email="p@example.com", first_name="Old")
    client = signed_in("p@example.com")
    response = client.patch("/api/v1/users/me", {"first_name": "New", "timezone": "Europe/Paris", "locale": "fr-FR",
                                                 "metadata": {"plan": "team"}}, format="json")
    assert response.status_code == 200
    body = client.get("/api/v1/users/me").json()
    assert (body["first_name"], body["timezone"], body["locale"], body["metadata"]) == \
        ("New", "Europe/Paris", "fr-FR", {"plan": "team"})
    event = AuditEvent.objects.get(action="user.updated")
    assert event.changes["first_name"] == ["Old", "New"]


@pytest.mark.parametrize(("field", "value"), [("timezone", "Mars/Olympus"), ("locale", "not a locale!"),
                                              ("metadata", {"blob": "x" * 9000})])
def test_profile_update_rejects_bad_values(field: str, value: object) -> None:
    UserFactory(email="bad@example.com")
    response = signed_in("bad@example.com").patch("/api/v1/users/me", {field: value}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field


def test_email_cannot_be_changed_through_the_profile() -> None:
    UserFactory(email="keep@example.com")
    signed_in("keep@example.com").patch("/api/v1/users/me", {"email": "evil@example.com"}, format="json")
    assert User.objects.filter(email="keep@example.com").exists()


def test_delete_me_needs_recent_authentication() -> None:
    UserFactory(email="del@example.com")
    client = signed_in("del@example.com")
    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    response = client.delete("/api/v1/users/me")
    assert (response.status_code, response.json()["code"]) == (403, "reauthentication_required")
    assert User.objects.filter(email="del@example.com").exists()


def test_delete_me_removes_the_account_and_keeps_the_audit_trail() -> None:
    user = UserFactory(email="gone@example.com")
    client = signed_in("gone@example.com")
    assert client.delete("/api/v1/users/me").status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.get(action="user.deleted").actor_email == "gone@example.com"
    assert client.get("/api/v1/auth/me").status_code == 401


def test_delete_me_is_refused_while_a_higher_app_objects() -> None:
    def sole_owner(user: User) -> list[str]:
        return ["sole owner of organization Acme"]

    hooks.register_deletion_blocker(sole_owner)
    try:
        UserFactory(email="owner@example.com")
        response = signed_in("owner@example.com").delete("/api/v1/users/me")
    finally:
        hooks._deletion_blockers.remove(sole_owner)
    assert response.status_code == 409 and "Acme" in response.json()["detail"]
    assert User.objects.filter(email="owner@example.com").exists()


def test_export_contains_my_data_and_no_secrets() -> None:
    UserFactory(email="ex@example.com")
    client = signed_in("ex@example.com")
    response = client.get("/api/v1/users/me/export")
    data = response.json()
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert data["profile"]["email"] == "ex@example.com"
    assert len(data["sessions"]) == 1 and data["activity"][0]["action"] == "user.signed_in"
    text = response.content.decode()
    assert "password" not in text and "refresh" not in text and "token_hash" not in text


def test_users_see_themselves_but_not_strangers() -> None:
    me = UserFactory(email="me@example.com")
    stranger = UserFactory(email="stranger@example.com")
    client = signed_in("me@example.com")
    assert client.get(f"/api/v1/users/{me.pk}").json()["email"] == "me@example.com"
    assert client.get(f"/api/v1/users/{stranger.pk}").status_code == 404
    assert client.get("/api/v1/users/not-a-uuid").status_code == 404


def test_staff_can_see_any_user() -> None:
    UserFactory(email="staff@example.com", staff=True)
    other = UserFactory(email="o@example.com")
    assert signed_in("staff@example.com").get(f"/api/v1/users/{other.pk}").status_code == 200
