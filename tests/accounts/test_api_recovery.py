"""Password reset, e-mail verification and magic links through the API, with the real e-mails."""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import UserSession
from apps.audit.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import bearer, signin

pytestmark = pytest.mark.django_db
def post(path: str, data: dict, client: APIClient | None = None):  # noqa: ANN201
    return (client or APIClient()).post(f"/api/v1/auth/{path}", data, format="json")


def reset_token_from(message) -> str:  # noqa: ANN001
    return re.search(r"/accounts/password/reset/key/([^/\s]+)/", message.body).group(1)


def test_forgot_password_answers_202_for_known_and_unknown_addresses(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    UserFactory(email="known@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        known = post("password/forgot", {"email": "known@example.com"})
        unknown = post("password/forgot", {"email": "unknown@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert "/accounts/password/reset/key/" in next(m for m in mail.outbox if m.to == ["known@example.com"]).body


def test_reset_sets_the_password_ends_every_session_and_is_single_use(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    UserFactory(email="r@example.com")
    access = signin("r@example.com").json()["tokens"]["access_token"]
    with django_capture_on_commit_callbacks(execute=True):
        post("password/forgot", {"email": "r@example.com"})
    token = reset_token_from(mail.outbox[-1])

    response = post("password/reset", {"token": token, "new_password": "a brand new passphrase"})

    assert response.status_code == 200
    assert bearer(access).get("/api/v1/auth/me").status_code == 401
    assert UserSession.objects.get().revoke_reason == "password_reset"
    assert signin("r@example.com").status_code == 401
    assert signin("r@example.com", "a brand new passphrase").status_code == 200
    again = post("password/reset", {"token": token, "new_password": "yet another passphrase"})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")
    assert AuditEvent.objects.filter(action="user.password_reset").count() == 1


def test_reset_refuses_a_forged_token_and_a_weak_password(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    UserFactory(email="f@example.com")
    assert post("password/reset", {"token": "1-abc", "new_password": "a brand new passphrase"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        post("password/forgot", {"email": "f@example.com"})
    weak = post("password/reset", {"token": reset_token_from(mail.outbox[-1]), "new_password": "123"})
    assert weak.status_code == 400 and weak.json()["code"] == "validation_failed"
    assert signin("f@example.com").status_code == 200


def test_reset_requests_are_rate_limited_per_email(settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "PASSWORD_RESET": "2/1h"}
    codes = [post("password/forgot", {"email": "x@example.com"}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]


def test_email_verification_token_from_the_signup_mail_verifies_once(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        signup = post("signup", {"email": "ver@example.com", "password": "a fine passphrase"})
    token = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[-1].body).group(1)
    me = bearer(signup.json()["tokens"]["access_token"])
    assert me.get("/api/v1/auth/me").json()["email_verified"] is False

    assert post("email/verify", {"token": token}).json() == {"email": "ver@example.com"}
    assert me.get("/api/v1/auth/me").json()["email_verified"] is True
    assert post("verify-email", {"token": token}).json()["code"] == "invalid_token"
    assert AuditEvent.objects.filter(action="user.email_verified").count() == 1


def test_resend_verification_sends_a_new_mail_after_the_cooldown(settings,  # noqa: ANN001
                                                                  django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        signup = post("signup", {"email": "again@example.com", "password": "a fine passphrase"})
    client = bearer(signup.json()["tokens"]["access_token"])
    too_soon = client.post("/api/v1/auth/email/resend-verification")
    assert too_soon.status_code == 429 and int(too_soon["Retry-After"]) == 180
    settings.ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN = 0
    before = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/auth/email/resend-verification")
    assert response.status_code == 202
    assert len(mail.outbox) == before + 1


def test_magic_link_signs_in_once(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    user = UserFactory(email="ml@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert post("magic-link", {"email": "ML@example.com"}).status_code == 202
        assert post("magic-link", {"email": "nobody@example.com"}).status_code == 202
    assert [m.to for m in mail.outbox] == [["ml@example.com"]]
    message = mail.outbox[0]
    assert message.alternatives and "Sign in" in message.alternatives[0][0]
    token = re.search(r"token=(\S+)", message.body).group(1)

    first = post("magic-link/verify", {"token": token})
    assert first.status_code == 200 and first.json()["user"]["id"] == str(user.pk)
    assert UserSession.objects.get().amr == ["email"]
    assert post("magic-link/verify", {"token": token}).json()["code"] == "invalid_token"


def test_magic_link_redirect_must_be_an_allowed_origin(settings, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    UserFactory(email="r2@example.com")
    bad = post("magic-link", {"email": "r2@example.com", "redirect_url": "https://evil.example/cb"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "redirect_not_allowed"
    settings.PLINTO_REDIRECT_ALLOWED_ORIGINS = ["https://app.example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        ok = post("magic-link", {"email": "r2@example.com", "redirect_url": "https://app.example.com/cb"})
    assert ok.status_code == 202
    assert "https://app.example.com/cb?token=" in mail.outbox[-1].body


def test_a_tampered_magic_link_is_refused() -> None:
    assert post("magic-link/verify", {"token": "eyJ1aWQiOiJ4In0:1abc:forged"}).json()["code"] == "invalid_token"
