"""allauth's server-rendered pages through our templates, and the flows behind them, with the test client."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialApp
from django.contrib.sites.models import Site
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks as Capture
from pytest_django import Settings

from apps.accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's password
NEW_PASSWORD = "a brand new passphrase 42"
STYLESHEET_LINK = 'href="/static/css/plinto.css"'
# Any attribute loading or linking something off-site, including protocol-relative URLs.
EXTERNAL_URL = re.compile(r"""\b(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
VERIFICATION_URL = re.compile(r"http://testserver(/accounts/confirm-email/[-:\w]+/)")
RESET_URL = re.compile(r"http://testserver(/accounts/password/reset/key/[0-9A-Za-z]+-[^/\s]+/)")
CODE_LINE = re.compile(r"^\s*([A-Z0-9]+(?:-[A-Z0-9]+)*)\s*$", re.MULTILINE)


@pytest.fixture(autouse=True)
def _plinto_accounts(settings: Settings) -> None:
    settings.ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"


def assert_plinto_page(response: HttpResponse, layout: str, status: int = 200) -> str:
    assert response.status_code == status
    html = response.content.decode()
    assert "base.html" in [template.name for template in response.templates]
    assert f'class="layout layout--{layout}"' in html
    assert STYLESHEET_LINK in html
    assert "<span>Plinto</span>" in html and "· Plinto</title>" in html
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert not EXTERNAL_URL.search(html), EXTERNAL_URL.search(html)
    return html


def html_part(message: mail.EmailMessage) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def signed_in_client(user: User) -> Client:
    """Signed in through the sign-in page, so allauth records how (its pages may ask for it)."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def sign_up(client: Client, email: str, capture: Capture) -> HttpResponse:
    with capture(execute=True):
        return client.post("/accounts/signup/", {"email": email, "password1": NEW_PASSWORD,
                                                 "password2": NEW_PASSWORD})


@pytest.mark.parametrize(("_case", "url", "status"), [
    ("sign in", "/accounts/login/", 200),
    ("sign up", "/accounts/signup/", 200),
    ("sign in by code", "/accounts/login/code/", 200),
    ("password reset request", "/accounts/password/reset/", 200),
    ("password reset sent", "/accounts/password/reset/done/", 200),
    ("password reset bad link", "/accounts/password/reset/key/1-not-a-key/", 200),
    ("password reset complete", "/accounts/password/reset/key/done/", 200),
    ("verification sent", "/accounts/confirm-email/", 200),
    ("verification bad link", "/accounts/confirm-email/not-a-key/", 200),
    ("inactive account", "/accounts/inactive/", 200),
    ("social login cancelled", "/accounts/3rdparty/login/cancelled/", 200),
    ("social login error", "/accounts/3rdparty/login/error/", 401),  # allauth answers this page with 401
])
def test_public_pages_render_with_the_plinto_entrance_layout(_case: str, url: str, status: int) -> None:
    assert_plinto_page(Client().get(url), "entrance", status)


@pytest.mark.parametrize(("_case", "url", "layout"), [
    ("e-mail management", "/accounts/email/", "manage"),
    ("password change", "/accounts/password/change/", "manage"),
    ("social connections", "/accounts/3rdparty/", "manage"),
    ("sign out", "/accounts/logout/", "manage"),
])
def test_account_pages_render_with_the_plinto_layout_when_signed_in(_case: str, url: str, layout: str) -> None:
    html = assert_plinto_page(signed_in_client(UserFactory()).get(url), layout)
    assert 'class="manage-nav"' in html and f'href="{url}" aria-current="page"' in html


def test_stylesheet_is_served_from_our_own_static_files_and_loads_nothing_remote() -> None:
    response = Client().get("/static/css/plinto.css")
    assert response.status_code == 200
    css = b"".join(response.streaming_content).decode()
    assert "prefers-color-scheme: dark" in css and ":focus-visible" in css
    assert "http" not in css and "@import" not in css and "url(" not in css


def test_sign_in_page_keeps_csrf_and_labels_every_field() -> None:
    html = assert_plinto_page(Client().get("/accounts/login/"), "entrance")
    assert 'name="csrfmiddlewaretoken"' in html
    for field_id in ("id_login", "id_password", "id_remember"):
        assert f'<label for="{field_id}">' in html
    assert 'autocomplete="email"' in html and 'autocomplete="current-password"' in html
    assert 'href="/accounts/password/reset/"' in html  # "forgot your password" help text, as HTML
    assert 'href="/accounts/login/code/"' in html


def test_configured_social_providers_are_listed_on_the_sign_in_page() -> None:
    app = SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="secret")
    app.sites.add(Site.objects.get_current())
    html = assert_plinto_page(Client().get("/accounts/login/"), "entrance")
    assert 'class="provider-list"' in html
    assert re.search(r'<a class="btn btn--secondary btn--block provider provider--github" '
                     r'href="/accounts/github/login/\?process=login">GitHub</a>', html)


def test_sign_up_creates_the_user_and_emails_a_verification_link_in_text_and_html(
        django_capture_on_commit_callbacks: Capture) -> None:
    response = sign_up(Client(), "signup.link@example.com", django_capture_on_commit_callbacks)

    assert response.status_code == 302
    user = User.objects.get(email="signup.link@example.com")
    assert user.check_password(NEW_PASSWORD)
    assert EmailAddress.objects.get(user=user, email="signup.link@example.com").verified is False
    [message] = mail.outbox
    assert message.to == ["signup.link@example.com"]
    assert message.subject == "[Plinto] Welcome to Plinto: confirm your e-mail address"
    path = VERIFICATION_URL.search(message.body).group(1)
    html = html_part(message)
    assert f'href="http://testserver{path}"' in html and "Welcome to Plinto" in html
    # audited like a sign-up through the API, and recorded as a session of its own
    from apps.accounts.models import UserSession
    from apps.audit.models import AuditEvent

    assert {"user.signed_up", "user.created", "user.signed_in"} <= set(
        AuditEvent.objects.filter(target_id=str(user.pk)).values_list("action", flat=True))
    assert UserSession.objects.filter(user=user, revoked_at__isnull=True).count() == 1


def test_sign_up_with_invalid_data_shows_the_errors_next_to_the_fields_and_sends_nothing(
        django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/signup/", {"email": "not-an-address", "password1": "x",
                                                       "password2": "y"})
    html = assert_plinto_page(response, "entrance")
    assert 'aria-invalid="true"' in html and 'id="id_email_error"' in html
    assert 'aria-describedby="id_email_error"' in html
    assert not User.objects.exists() and mail.outbox == []


def test_sign_up_with_mandatory_verification_shows_the_verification_sent_page(
        settings: Settings, django_capture_on_commit_callbacks: Capture) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client = Client()
    response = sign_up(client, "signup.mandatory@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert_plinto_page(client.get(response["Location"]), "entrance")
    assert len(mail.outbox) == 1


def test_posting_to_the_verification_link_verifies_the_address(django_capture_on_commit_callbacks: Capture) -> None:
    sign_up(Client(), "signup.confirm@example.com", django_capture_on_commit_callbacks)
    path = VERIFICATION_URL.search(mail.outbox[0].body).group(1)
    client = Client()  # the link is opened in another browser, signed out

    page = assert_plinto_page(client.get(path), "entrance")  # confirm-on-GET is off: a form, not a change
    assert f'action="{path}"' in page
    assert EmailAddress.objects.get(email="signup.confirm@example.com").verified is False
    response = client.post(path)

    assert response.status_code == 302
    assert EmailAddress.objects.get(email="signup.confirm@example.com").verified is True


def test_sign_in_with_email_and_password_starts_a_session(settings: Settings) -> None:
    user = UserFactory(email="signin.password@example.com")
    client = Client()
    response = client.post("/accounts/login/", {"login": "SIGNIN.password@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_REDIRECT_URL
    assert client.session["_auth_user_id"] == str(user.pk)


def test_sign_in_with_a_wrong_password_shows_an_error_and_starts_no_session() -> None:
    UserFactory(email="signin.wrong@example.com")
    client = Client()
    response = client.post("/accounts/login/", {"login": "signin.wrong@example.com", "password": "wrong"})
    html = assert_plinto_page(response, "entrance")
    assert '<div class="alert alert--error" role="alert">' in html
    assert "_auth_user_id" not in client.session


def test_sign_in_by_code_emails_a_code_that_signs_in(django_capture_on_commit_callbacks: Capture) -> None:
    user = UserFactory(email="signin.code@example.com")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/login/code/", {"email": "signin.code@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/confirm/"
    [message] = mail.outbox
    assert message.subject == "[Plinto] Your sign-in code"
    code = CODE_LINE.search(message.body).group(1)
    assert code in html_part(message)

    assert_plinto_page(client.get("/accounts/login/code/confirm/"), "entrance")
    response = client.post("/accounts/login/code/confirm/", {"code": code})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_password_reset_link_sets_a_new_password_and_the_old_one_stops_working(
        settings: Settings, django_capture_on_commit_callbacks: Capture) -> None:
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = True
    user = UserFactory(email="reset.link@example.com")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": "reset.link@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/done/"
    [message] = mail.outbox
    assert message.subject == "[Plinto] Reset your password"
    path = RESET_URL.search(message.body).group(1)
    assert f'href="http://testserver{path}"' in html_part(message)

    response = client.get(path)  # allauth moves the key into the session and redirects
    assert response.status_code == 302
    set_password_url = response["Location"]
    assert 'name="password1"' in assert_plinto_page(client.get(set_password_url), "entrance")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(set_password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/key/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    old, new = ({"login": "reset.link@example.com", "password": password} for password in (PASSWORD, NEW_PASSWORD))
    assert Client().post("/accounts/login/", old).status_code == 200  # the form again, with an error
    assert Client().post("/accounts/login/", new).status_code == 302
    notice = mail.outbox[1]  # the security notice to the owner
    assert notice.subject == "[Plinto] Your password was reset" and html_part(notice)
    assert "Bad Token" in assert_plinto_page(Client().get(path), "entrance")  # the link worked once


def test_password_reset_for_an_unknown_address_answers_exactly_like_a_known_one(
        django_capture_on_commit_callbacks: Capture) -> None:
    UserFactory(email="reset.known@example.com")
    answers = []
    for email in ("reset.known@example.com", "reset.unknown@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/accounts/password/reset/", {"email": email})
        answers.append((response.status_code, response["Location"], response.content))

    assert answers[0] == answers[1]
    known, unknown = mail.outbox
    assert (known.to, unknown.to) == (["reset.known@example.com"], ["reset.unknown@example.com"])
    assert RESET_URL.search(known.body) and not RESET_URL.search(unknown.body)
    assert unknown.subject == "[Plinto] No account for this address" and html_part(unknown)


def test_adding_an_address_emails_a_verification_link(django_capture_on_commit_callbacks: Capture) -> None:
    client = signed_in_client(UserFactory(email="manage.add@example.com"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/email/", {"action_add": "", "email": "manage.second@example.com"})
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["manage.second@example.com"]
    assert message.subject == "[Plinto] Confirm your e-mail address"
    assert VERIFICATION_URL.search(message.body) and "Welcome" not in message.body
    html = assert_plinto_page(client.get("/accounts/email/"), "manage")
    assert "manage.second@example.com" in html and '<span class="badge badge--warning' in html


def test_signing_out_ends_the_session() -> None:
    client = signed_in_client(UserFactory())
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
