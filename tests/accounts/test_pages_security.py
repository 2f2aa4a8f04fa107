"""Security and Sessions pages, with the Django test client."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import UserSession
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def browser_signed_in(email: str, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0") -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def test_security_page_summarises_the_account() -> None:
    UserFactory(email="sec@example.com")
    html = browser_signed_in("sec@example.com").get("/accounts/security/").content.decode()
    assert "Security" in html and "Change password" in html and "1 active session." in html


def test_pages_need_a_signed_in_user() -> None:
    for path in ("/accounts/security/", "/accounts/sessions/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_sessions_page_lists_browser_and_api_sessions_and_marks_this_one() -> None:
    UserFactory(email="s@example.com")
    browser = browser_signed_in("s@example.com")
    APIClient(HTTP_USER_AGENT="curl/8.5").post("/api/v1/auth/signin", {"email": "s@example.com", "password": PASSWORD},
                                               format="json")
    html = browser.get("/accounts/sessions/").content.decode()
    assert "Firefox" in html and "curl" in html and "This browser" in html


def test_signing_out_another_session_from_the_page_ends_it_at_once() -> None:
    UserFactory(email="s2@example.com")
    browser = browser_signed_in("s2@example.com")
    tokens = APIClient().post("/api/v1/auth/signin", {"email": "s2@example.com", "password": PASSWORD},
                              format="json").json()["tokens"]
    api_session = UserSession.objects.filter(revoked_at__isnull=True).exclude(
        pk=browser.session["plinto_session_id"]).get()
    response = browser.post("/accounts/sessions/", {"session_id": str(api_session.pk)})
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.get("/api/v1/auth/me").status_code == 401


def test_revoking_a_browser_session_from_the_api_signs_that_browser_out() -> None:
    UserFactory(email="s3@example.com")
    browser = browser_signed_in("s3@example.com")
    assert browser.get("/accounts/security/").status_code == 200
    tokens = APIClient().post("/api/v1/auth/signin", {"email": "s3@example.com", "password": PASSWORD},
                              format="json").json()["tokens"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.delete("/api/v1/sessions").json() == {"revoked": 1}
    response = browser.get("/accounts/security/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_users_session_cannot_be_revoked_from_the_page() -> None:
    UserFactory(email="victim@example.com")
    APIClient().post("/api/v1/auth/signin", {"email": "victim@example.com", "password": PASSWORD}, format="json")
    victim_session = UserSession.objects.get()
    UserFactory(email="attacker@example.com")
    attacker = browser_signed_in("attacker@example.com")
    attacker.post("/accounts/sessions/", {"session_id": str(victim_session.pk)})
    victim_session.refresh_from_db()
    assert victim_session.revoked_at is None


def test_sign_out_all_others_keeps_this_browser() -> None:
    UserFactory(email="s4@example.com")
    browser = browser_signed_in("s4@example.com")
    for _ in range(2):
        APIClient().post("/api/v1/auth/signin", {"email": "s4@example.com", "password": PASSWORD}, format="json")
    browser.post("/accounts/sessions/", {"action": "revoke_others"})
    assert UserSession.objects.filter(revoked_at__isnull=True).count() == 1
    assert browser.get("/accounts/sessions/").status_code == 200


def test_magic_link_page_asks_for_a_click_then_signs_the_browser_in_once(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    import re

    from django.core import mail

    UserFactory(email="link@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post("/api/v1/auth/magic-link", {"email": "link@example.com"}, format="json")
    link = re.search(r"(http://\S+/accounts/magic-link/\?token=\S+)", mail.outbox[-1].body).group(1)
    token = link.split("token=", 1)[1]
    browser = Client()
    page = browser.get(link.replace("http://localhost:8000", ""))
    assert page.status_code == 200 and token in page.content.decode()  # GET does not consume it
    response = browser.post("/accounts/magic-link/", {"token": token})
    assert response.status_code == 302 and response["Location"] == "/accounts/security/"
    assert browser.get("/accounts/security/").status_code == 200
    assert Client().post("/accounts/magic-link/", {"token": token}).status_code == 400


def test_page_sign_in_shares_the_api_lockout(settings, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    from django.core import mail

    settings.LOCKOUT_THRESHOLD = 3
    UserFactory(email="pl@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            Client().post("/accounts/login/", {"login": "pl@example.com", "password": "wrong"})
    page = Client().post("/accounts/login/", {"login": "pl@example.com", "password": PASSWORD})
    assert page.status_code == 200 and "Too many failed sign-ins" in page.content.decode()
    api = APIClient().post("/api/v1/auth/signin", {"email": "pl@example.com", "password": PASSWORD}, format="json")
    assert api.json()["code"] == "account_locked"
    assert any("locked" in m.subject for m in mail.outbox)


def test_changing_the_password_on_the_page_is_audited_and_ends_other_sessions() -> None:
    from apps.audit.models import AuditEvent

    UserFactory(email="pw@example.com")
    api = APIClient().post("/api/v1/auth/signin", {"email": "pw@example.com", "password": PASSWORD},
                           format="json").json()["tokens"]
    browser = browser_signed_in("pw@example.com")
    response = browser.post("/accounts/password/change/", {
        "oldpassword": PASSWORD, "password1": "a brand new passphrase", "password2": "a brand new passphrase"})
    assert response.status_code == 302, response.content.decode()[:1000]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api['access_token']}")
    assert client.get("/api/v1/auth/me").status_code == 401
    assert browser.get("/accounts/security/").status_code == 200
    assert AuditEvent.objects.filter(action="user.password_changed", metadata__method="page").count() == 1


def test_signing_out_other_sessions_from_the_api_with_the_cookie_keeps_this_browser() -> None:
    UserFactory(email="cookie@example.com")
    for _ in range(2):
        APIClient().post("/api/v1/auth/signin", {"email": "cookie@example.com", "password": PASSWORD}, format="json")
    browser = browser_signed_in("cookie@example.com")
    api = APIClient()
    api.cookies = browser.cookies  # the browser calling the API with its session cookie (CSRF-exempt for GET)
    listing = api.get("/api/v1/sessions").json()
    assert len(listing["results"]) == 3 and sum(s["is_current"] for s in listing["results"]) == 1
    api = APIClient(enforce_csrf_checks=False)
    api.cookies = browser.cookies
    assert api.delete("/api/v1/sessions").json() == {"revoked": 2}
    assert browser.get("/accounts/security/").status_code == 200
