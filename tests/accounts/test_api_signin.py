"""Sign-up, lockout, rate limits, password change and re-authentication through the API."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from tests.accounts import helpers
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def signin(email: str, password: str = PASSWORD, ip: str = "198.51.100.7"):  # noqa: ANN201
    return helpers.signin(email, password, REMOTE_ADDR=ip)


def test_signup_creates_the_account_signs_in_and_sends_verification(api_client: APIClient,
                                                                    django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/signup", {"email": "New@Example.com", "password": "a fine passphrase",
                                                           "first_name": "Nia"}, format="json")
    body = response.json()
    assert response.status_code == 201
    assert body["user"]["email"] == "New@example.com" and body["user"]["email_verified"] is False
    assert bearer(body["tokens"]["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert [m.to for m in mail.outbox] == [["new@example.com"]]  # allauth addresses mail in lower case
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.signed_up", "user.created", "user.signed_in"} <= actions


def test_signup_with_mandatory_verification_returns_no_tokens(api_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = api_client.post("/api/v1/auth/signup", {"email": "v@example.com", "password": "a fine passphrase"},
                               format="json")
    assert response.status_code == 201
    assert response.json()["verification_required"] is True and "tokens" not in response.json()
    signin_response = signin("v@example.com", "a fine passphrase")
    assert (signin_response.status_code, signin_response.json()["code"]) == (403, "email_verification_required")


@pytest.mark.parametrize(("_case", "password", "code"), [
    ("too short", "short1", "password_too_short"),
    ("too common", "password123", "password_too_common"),
    ("like the email", "samantha.jones@example.com", "password_too_similar"),
    ("too long", "x" * 129, "max_length"),
])
def test_signup_rejects_weak_passwords(api_client: APIClient, _case: str, password: str, code: str) -> None:
    response = api_client.post("/api/v1/auth/signup", {"email": "samantha.jones@example.com", "password": password},
                               format="json")
    assert response.status_code == 400
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == ("password", code)
    assert not User.objects.filter(email="samantha.jones@example.com").exists()


def test_signup_accepts_long_unicode_passphrases_without_composition_rules(api_client: APIClient) -> None:
    password = "ünïcødé pässphrase 密码 " * 4  # 96 characters, no digits or symbols required
    response = api_client.post("/api/v1/auth/signup", {"email": "u@example.com", "password": password}, format="json")
    assert response.status_code == 201
    assert signin("u@example.com", password).status_code == 200


def test_signup_with_a_taken_email_is_a_conflict(api_client: APIClient) -> None:
    UserFactory(email="taken@example.com")
    response = api_client.post("/api/v1/auth/signup", {"email": "TAKEN@example.com", "password": "a fine passphrase"},
                               format="json")
    assert (response.status_code, response.json()["code"]) == (409, "email_taken")
    assert response.json()["type"].endswith("/email-taken")
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_signup_is_rate_limited_per_ip(settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "SIGNUP": "2/1h"}
    client = APIClient(REMOTE_ADDR="203.0.113.50")
    codes = [client.post("/api/v1/auth/signup", {"email": f"s{i}@example.com", "password": "a fine passphrase"},
                         format="json").status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_signin_is_rate_limited_per_email_and_ip(settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "SIGNIN": "3/5m"}
    UserFactory(email="rl@example.com")
    codes = [signin("rl@example.com", "wrong").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    limited = signin("rl@example.com")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited["X-RateLimit-Limit"] == "3" and limited["X-RateLimit-Remaining"] == "0"
    assert signin("rl@example.com", ip="198.51.100.8").status_code == 200  # another IP is not limited


@pytest.mark.parametrize("_case", ["known email", "unknown email"])
def test_lockout_answers_the_same_for_known_and_unknown_emails(settings, _case: str,  # noqa: ANN001
                                                               django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    settings.LOCKOUT_THRESHOLD = 3
    settings.RATELIMIT_ENABLED = False
    email = "owner@example.com" if _case == "known email" else "ghost@example.com"
    UserFactory(email="owner@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        codes = [signin(email, "wrong", ip=f"198.51.100.{i}").status_code for i in range(4)]
    locked = signin(email, PASSWORD if _case == "known email" else "wrong", ip="198.51.100.99")
    assert codes == [401, 401, 401, 429]
    assert (locked.status_code, locked.json()["code"]) == (429, "account_locked")
    assert int(locked["Retry-After"]) > 800
    if _case == "known email":
        assert AuditEvent.objects.filter(action="user.locked_out").count() == 1
        assert [m.to for m in mail.outbox] == [["owner@example.com"]]
        assert "locked" in mail.outbox[0].subject
    else:
        assert not AuditEvent.objects.filter(action="user.locked_out").exists()
        assert mail.outbox == []


def test_successful_signin_resets_the_failure_count(settings) -> None:  # noqa: ANN001
    settings.LOCKOUT_THRESHOLD = 3
    UserFactory(email="forgetful@example.com")
    assert [signin("forgetful@example.com", "wrong").status_code for _ in range(2)] == [401, 401]
    assert signin("forgetful@example.com").status_code == 200
    assert [signin("forgetful@example.com", "wrong").status_code for _ in range(2)] == [401, 401]
    assert signin("forgetful@example.com").status_code == 200


def test_suspended_user_cannot_sign_in(api_client: APIClient) -> None:
    UserFactory(email="sus@example.com", is_active=False)
    response = signin("sus@example.com")
    assert (response.status_code, response.json()["code"]) == (403, "account_suspended")
    assert signin("sus@example.com", "wrong").json()["code"] == "invalid_credentials"  # no hint without the password


def test_suspending_a_user_in_the_admin_ends_their_sessions_at_once() -> None:
    from django.test import Client

    victim = UserFactory(email="victim@example.com")
    token = signin("victim@example.com").json()["tokens"]["access_token"]
    operator = UserFactory(email="op@example.com", staff=True)
    admin = Client()
    admin.force_login(operator)
    response = admin.post(f"/admin/accounts/user/{victim.pk}/change/", {
        "email": victim.email, "first_name": victim.first_name, "last_name": victim.last_name,
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "metadata": "{}",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert bearer(token).get("/api/v1/auth/me").status_code == 401
    assert UserSession.objects.get(user=victim).revoke_reason == "user_suspended"


def test_password_change_revokes_other_sessions_and_keeps_this_one() -> None:
    UserFactory(email="pc@example.com")
    other = signin("pc@example.com").json()["tokens"]
    mine = signin("pc@example.com").json()["tokens"]
    response = bearer(mine["access_token"]).post("/api/v1/auth/password/change", {
        "current_password": PASSWORD, "new_password": "another fine passphrase"}, format="json")
    assert response.json() == {"sessions_revoked": 1}
    assert bearer(other["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert bearer(mine["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert signin("pc@example.com", "another fine passphrase").status_code == 200
    assert AuditEvent.objects.filter(action="user.password_changed").count() == 1


def test_password_change_with_a_wrong_current_password_changes_nothing() -> None:
    user = UserFactory(email="pc2@example.com")
    mine = signin("pc2@example.com").json()["tokens"]
    response = bearer(mine["access_token"]).post("/api/v1/auth/password/change", {
        "current_password": "nope", "new_password": "another fine passphrase"}, format="json")
    assert response.status_code == 401
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reauthenticate_refreshes_auth_time() -> None:
    UserFactory(email="re@example.com")
    tokens = signin("re@example.com").json()["tokens"]
    session = UserSession.objects.get()
    UserSession.objects.filter(pk=session.pk).update(auth_time="2026-01-01T00:00:00Z")
    client = bearer(tokens["access_token"])
    assert client.post("/api/v1/auth/reauthenticate", {"password": "wrong"}, format="json").status_code == 401
    response = client.post("/api/v1/auth/reauthenticate", {"password": PASSWORD}, format="json")
    assert response.status_code == 200 and "reauthenticated_until" in response.json()
    session.refresh_from_db()
    assert timezone.now() - session.auth_time < timedelta(minutes=1)
    assert AuditEvent.objects.filter(action="user.reauthenticated").count() == 1


def test_me_requires_authentication(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
