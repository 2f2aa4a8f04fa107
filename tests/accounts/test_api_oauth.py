"""Social sign-in over the API against a fake GitHub: what Plinto sends on the wire and what it does."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.sites.models import Site
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


class FakeGitHub:
    """Answers the two or three HTTP calls allauth's GitHub adapter makes, and records them."""

    def __init__(self, *, uid: int = 4242, email: str = "octo@example.com", token_status: int = 200) -> None:
        self.uid, self.email, self.token_status = uid, email, token_status
        self.calls: list[tuple[str, str, dict]] = []

    def request(self, session, method: str, url: str, **kwargs):  # noqa: ANN001, ANN201
        self.calls.append((method, url, kwargs))
        if url == "https://github.com/login/oauth/access_token":
            body = {"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"} \
                if self.token_status == 200 else {"error": "bad_verification_code"}
            return self._response(self.token_status, body)
        if url == "https://api.github.com/user":
            return self._response(200, {"id": self.uid, "login": "octocat", "name": "Octo Cat", "email": None})
        if url == "https://api.github.com/user/emails":
            return self._response(200, [{"email": self.email, "primary": True, "verified": True}])
        raise AssertionError(f"unexpected call to {url}")

    @staticmethod
    def _response(status: int, body: object) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response


@pytest.fixture
def github(monkeypatch) -> FakeGitHub:  # noqa: ANN001
    app = SocialApp.objects.create(provider="github", name="GitHub", client_id="gh-client", secret="gh-secret")
    app.sites.add(Site.objects.get_current())
    fake = FakeGitHub()
    monkeypatch.setattr(requests.Session, "request", lambda session, method, url, **kw: fake.request(
        session, method, url, **kw))
    return fake


def authorize(client: APIClient | None = None, **body) -> dict:  # noqa: ANN003
    response = (client or APIClient()).post("/api/v1/auth/oauth/authorize/github", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def callback(state: str, code: str = "the-code"):  # noqa: ANN201
    return APIClient().get("/api/v1/auth/oauth/callback/github", {"code": code, "state": state})


def test_authorize_returns_the_provider_url_with_our_client_id_state_and_callback(github: FakeGitHub) -> None:
    result = authorize()
    url = urlsplit(result["authorization_url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://github.com/login/oauth/authorize"
    assert query["client_id"] == ["gh-client"] and query["state"] == [result["state"]]
    assert query["redirect_uri"] == ["http://localhost:8000/api/v1/auth/oauth/callback/github"]
    assert query["response_type"] == ["code"]


def test_callback_creates_the_user_and_signs_in(github: FakeGitHub) -> None:
    state = authorize()["state"]
    response = callback(state)
    body = response.json()
    assert response.status_code == 200, body
    user = User.objects.get(email="octo@example.com")
    assert body["user"]["id"] == str(user.pk) and body["tokens"]["access_token"]
    assert not user.has_usable_password()
    assert SocialAccount.objects.get(user=user).uid == "4242"
    assert UserSession.objects.get(user=user).amr == ["fed"]
    token_call = next(c for c in github.calls if c[1].endswith("/access_token"))
    assert token_call[0] == "POST"
    assert token_call[2]["data"]["code"] == "the-code" and token_call[2]["data"]["client_secret"] == "gh-secret"
    assert {"user.signed_up", "user.social_linked", "user.signed_in"} <= set(
        AuditEvent.objects.values_list("action", flat=True))


def test_second_sign_in_finds_the_linked_user(github: FakeGitHub) -> None:
    callback(authorize()["state"])
    response = callback(authorize()["state"])
    assert response.status_code == 200
    assert User.objects.filter(email="octo@example.com").count() == 1


def test_state_is_single_use_and_must_be_ours(github: FakeGitHub) -> None:
    state = authorize()["state"]
    assert callback(state).status_code == 200
    replay = callback(state)
    assert (replay.status_code, replay.json()["code"]) == (400, "oauth_failed")
    assert callback("forged-state").json()["code"] == "oauth_failed"


def test_an_existing_account_with_the_same_email_is_never_taken_over(github: FakeGitHub) -> None:
    UserFactory(email="octo@example.com")
    response = callback(authorize()["state"])
    assert (response.status_code, response.json()["code"]) == (409, "email_taken")
    assert not SocialAccount.objects.exists()


def test_a_refused_code_is_a_clean_error(github: FakeGitHub) -> None:
    github.token_status = 400
    response = callback(authorize()["state"])
    assert (response.status_code, response.json()["code"]) == (400, "oauth_failed")
    assert not User.objects.exists()


def test_redirect_uri_must_be_an_allowed_origin(github: FakeGitHub, settings) -> None:  # noqa: ANN001
    bad = APIClient().post("/api/v1/auth/oauth/authorize/github", {"redirect_uri": "https://evil.example/cb"},
                           format="json")
    assert bad.status_code == 400
    settings.PLINTO_REDIRECT_ALLOWED_ORIGINS = ["https://app.example.com"]
    url = authorize(redirect_uri="https://app.example.com/oauth")["authorization_url"]
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == ["https://app.example.com/oauth"]


def test_unconfigured_provider_is_404() -> None:
    response = APIClient().post("/api/v1/auth/oauth/authorize/google", {}, format="json")
    assert response.status_code == 404
