"""The MFA pages under /accounts/2fa/ and the sign-in's second step, with the Django test client.

Real OTP clients (pyotp), the locmem SMS outbox, and a software authenticator posting to the JSON
endpoints exactly as static/js/webauthn.js does.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any
from urllib.parse import quote

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from apps.mfa import backends, codes
from apps.mfa.models import BackupCode, Channel, MessageDevice, RememberedDevice, TOTPDevice, WebAuthnCredential
from apps.mfa.services import factors
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import PASSWORD
from tests.mfa.soft_authenticator import NotAllowedError, SoftAuthenticator

pytestmark = pytest.mark.django_db

BASE = "/accounts/2fa"
ORIGIN = settings.WEBAUTHN_ORIGIN[0]


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture
def commit(django_capture_on_commit_callbacks):  # noqa: ANN001, ANN201
    """Runs on-commit work (SMS task, e-mails) as the real commit would."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def alice() -> User:
    return UserFactory(email="alice@example.com")


def password_login(email: str, client: Client | None = None, **extra: Any):  # noqa: ANN201
    client = client or Client()
    return client, client.post("/accounts/login/", {"login": email, "password": PASSWORD}, **extra)


def signed_in(email: str) -> Client:
    client, response = password_login(email)
    assert response.status_code == 302 and response["Location"] == "/accounts/security/", response
    return client


def totp_enrolled(user: User) -> pyotp.TOTP:
    """TOTP through the service, confirmed with the previous step's code so that now() is still unused."""
    _, secret, _, _ = factors.totp_setup(user=user)
    totp = pyotp.TOTP(secret)
    factors.totp_confirm(user=user, code=totp.at(time.time() - 30))
    return totp


def wrong_code(totp: pyotp.TOTP) -> str:
    accepted = {totp.at(time.time() + delta) for delta in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in accepted)


def post_json(client: Client, url: str, body: dict[str, Any] | None = None, **extra: Any):  # noqa: ANN201
    """What webauthn.js sends: a JSON body (the CSRF header is added by callers that enforce CSRF)."""
    return client.post(url, body or {}, content_type="application/json", **extra)


def register_key(client: Client, authenticator: SoftAuthenticator, name: str = "") -> dict[str, Any]:
    options = post_json(client, f"{BASE}/webauthn/register/options")
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json()["publicKey"])
    response = post_json(client, f"{BASE}/webauthn/register/verify",
                         {"ceremony_id": options.json()["ceremony_id"], "credential": credential, "name": name})
    assert response.status_code == 201, response.content
    return response.json()


def verify_code(client: Client, method: str, code: str, *, remember: bool = False, **extra: Any):  # noqa: ANN201
    data = {"action": "verify", "method": method, "code": code, **({"remember": "1"} if remember else {})}
    return client.post(f"{BASE}/authenticate/", data, **extra)


def session_amr(client: Client) -> list[str]:
    return UserSession.objects.get(pk=client.session["plinto_session_id"]).amr


# --- access ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/totp/", "/sms/", "/email/", "/backup-codes/"])
def test_management_pages_need_a_signed_in_user(path: str) -> None:
    response = Client().get(f"{BASE}{path}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_authenticate_page_without_a_pending_sign_in_goes_back_to_sign_in() -> None:
    response = Client().get(f"{BASE}/authenticate/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def test_account_navigation_links_the_page(alice: User) -> None:
    html = signed_in(alice.email).get("/accounts/security/").content.decode()
    assert f'href="{BASE}/"' in html and "Two-factor authentication" in html


# --- the overview page ---------------------------------------------------------------------------------------------


def test_page_lists_factors_and_backup_codes_without_any_secret(alice: User, commit) -> None:  # noqa: ANN001
    client = signed_in(alice.email)  # before MFA is on: this test is about the page, not the sign-in
    totp_enrolled(alice)
    with commit(execute=True):
        factors.message_setup(user=alice, channel=Channel.SMS, destination="+33612345678")
    sms = MessageDevice.objects.get()
    code = re.search(r"\b(\d{6})\b", backends.outbox[-1].body).group(1)
    factors.message_confirm(user=alice, channel=Channel.SMS, code=code)
    factors.backup_codes_regenerate(user=alice)
    device = TOTPDevice.objects.get()

    response = client.get(f"{BASE}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Authenticator app" in html and "SMS to …5678" in html and "Never" in html
    assert "10 unused backup codes left." in html
    assert f'action="{BASE}/factors/{device.pk}/remove/"' in html and f"{BASE}/factors/{sms.pk}/remove/" in html
    seed_base32 = base64.b32encode(bytes.fromhex(device.key)).decode().rstrip("=")
    assert device.key not in html and seed_base32 not in html and "+33612345678" not in html


def test_page_shows_mfa_off_and_the_ways_to_add_a_factor(alice: User) -> None:
    html = signed_in(alice.email).get(f"{BASE}/").content.decode()
    assert "No second factor yet." in html and "Off" in html
    for link in (f"{BASE}/totp/", f"{BASE}/sms/", f"{BASE}/email/", f"{BASE}/backup-codes/"):
        assert f'href="{link}"' in html
    assert f'data-options-url="{BASE}/webauthn/register/options"' in html


# --- enrolment -------------------------------------------------------------------------------------------------


def test_totp_enrolment_through_the_pages(alice: User) -> None:
    client = signed_in(alice.email)
    page = client.get(f"{BASE}/totp/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert '<div class="mfa-qr" role="img"' in html and "<svg" in html and "<?xml" not in html
    secret = re.search(r'class="mfa-secret">([A-Z2-7]+)<', html).group(1)
    assert secret in client.get(f"{BASE}/totp/").content.decode()  # a reload keeps the same pending secret
    totp = pyotp.TOTP(secret)

    refused = client.post(f"{BASE}/totp/", {"code": wrong_code(totp)})
    assert refused.status_code == 400 and "That code is not valid" in refused.content.decode()
    assert secret in refused.content.decode() and not TOTPDevice.objects.filter(confirmed=True).exists()

    confirmed = client.post(f"{BASE}/totp/", {"code": totp.now()})
    assert confirmed.status_code == 302 and confirmed["Location"] == f"{BASE}/"
    assert TOTPDevice.objects.get().confirmed is True and factors.mfa_enabled(alice)
    assert "mfa_totp_setup" not in client.session
    assert "Your authenticator app is set up." in client.get(f"{BASE}/").content.decode()


def test_totp_setup_keeps_the_secret_out_of_the_session_in_clear(alice: User) -> None:
    client = signed_in(alice.email)
    html = client.get(f"{BASE}/totp/").content.decode()
    secret = re.search(r'class="mfa-secret">([A-Z2-7]+)<', html).group(1)
    assert secret not in str(dict(client.session.items()))


def test_sms_enrolment_through_the_pages(alice: User, commit) -> None:  # noqa: ANN001
    client = signed_in(alice.email)
    invalid = client.post(f"{BASE}/sms/", {"action": "send", "phone_number": "0612"})
    assert invalid.status_code == 400 and "E.164" in invalid.content.decode() and not backends.outbox

    with commit(execute=True):
        sent = client.post(f"{BASE}/sms/", {"action": "send", "phone_number": "+33 6 12 34 56 78"})
    assert sent.status_code == 200 and "SMS to …5678" in sent.content.decode()
    assert [m.to for m in backends.outbox] == ["+33612345678"]
    code = re.search(r"\b(\d{6})\b", backends.outbox[-1].body).group(1)

    wrong = client.post(f"{BASE}/sms/", {"action": "confirm", "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    device = MessageDevice.objects.get()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # skip django-otp's back-off
    device.save()

    confirmed = client.post(f"{BASE}/sms/", {"action": "confirm", "code": code})
    assert confirmed.status_code == 302 and confirmed["Location"] == f"{BASE}/"
    assert MessageDevice.objects.get().confirmed is True and factors.methods_of(alice) == ["sms"]


def test_email_codes_enrolment_defaults_to_the_account_address(alice: User, commit) -> None:  # noqa: ANN001
    client = signed_in(alice.email)
    assert 'value="alice@example.com"' in client.get(f"{BASE}/email/").content.decode()
    with commit(execute=True):
        client.post(f"{BASE}/email/", {"action": "send", "email": ""})
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert mail.outbox[-1].to == ["alice@example.com"]
    response = client.post(f"{BASE}/email/", {"action": "confirm", "code": code})
    assert response.status_code == 302 and factors.methods_of(alice) == ["email"]


def test_security_key_registration_through_the_json_endpoints(alice: User) -> None:
    client = signed_in(alice.email)
    answer = register_key(client, SoftAuthenticator(origin=ORIGIN, resident=False), name="Blue key")
    assert answer == {"location": f"{BASE}/"}
    key = WebAuthnCredential.objects.get()
    assert key.user == alice and key.name == "Blue key" and key.discoverable is False
    assert "Blue key" in client.get(f"{BASE}/").content.decode()


def test_security_key_registration_refuses_an_answer_from_another_origin(alice: User) -> None:
    client = signed_in(alice.email)
    options = post_json(client, f"{BASE}/webauthn/register/options").json()
    credential = SoftAuthenticator().create(options["publicKey"], origin="https://evil.example")
    response = post_json(client, f"{BASE}/webauthn/register/verify",
                         {"ceremony_id": options["ceremony_id"], "credential": credential})
    assert response.status_code == 400 and response.json()["detail"]
    assert not WebAuthnCredential.objects.exists()


def test_json_endpoints_take_the_csrf_token_from_the_header_like_webauthn_js(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(f"{BASE}/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert post_json(client, f"{BASE}/webauthn/register/options").status_code == 403
    response = post_json(client, f"{BASE}/webauthn/register/options", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["publicKey"]["rp"]["id"] == settings.WEBAUTHN_RP_ID


# --- backup codes and removal, behind reauthentication --------------------------------------------------


def test_backup_codes_regenerate_behind_reauthentication_and_are_shown_once(alice: User) -> None:
    client = signed_in(alice.email)
    assert client.get(f"{BASE}/backup-codes/").status_code == 200  # the explanation needs no reauthentication

    asked = client.post(f"{BASE}/backup-codes/")
    assert asked.status_code == 302
    assert asked["Location"] == f"/accounts/reauthenticate/?next={quote(f'{BASE}/backup-codes/', safe='')}"
    assert not BackupCode.objects.exists()

    wrong = client.post(asked["Location"], {"password": "not my password"})
    assert wrong.status_code == 200 and not BackupCode.objects.exists()

    shown = client.post(asked["Location"], {"password": PASSWORD})  # allauth resumes the suspended POST
    html = shown.content.decode()
    plain = re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4})</code>", html)
    assert shown.status_code == 200 and len(plain) == 10 and "no-store" in shown["Cache-Control"]
    stored = set(BackupCode.objects.values_list("code_hash", flat=True))
    assert {codes.code_hash(c, purpose="backup") for c in plain} == stored
    assert not any(c in client.get(f"{BASE}/").content.decode() for c in plain)

    again = client.post(f"{BASE}/backup-codes/")  # recently reauthenticated: no second password prompt
    assert again.status_code == 200 and BackupCode.objects.count() == 10
    assert not set(BackupCode.objects.values_list("code_hash", flat=True)) & stored


def test_remove_factor_behind_reauthentication(alice: User) -> None:
    client = signed_in(alice.email)
    totp_enrolled(alice)
    device = TOTPDevice.objects.get()
    assert client.get(f"{BASE}/factors/{device.pk}/remove/").status_code == 405

    asked = client.post(f"{BASE}/factors/{device.pk}/remove/")
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/reauthenticate/")
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    done = client.post(asked["Location"], {"password": PASSWORD})
    assert done.status_code == 302 and done["Location"] == f"{BASE}/"
    assert not TOTPDevice.objects.exists() and not factors.mfa_enabled(alice)
    assert AuditEvent.objects.filter(action="factor.removed").count() == 1


def test_someone_elses_factor_answers_404_and_stays(alice: User) -> None:
    bob = UserFactory(email="bob@example.com")
    totp_enrolled(bob)
    device = TOTPDevice.objects.get(user=bob)
    client = signed_in(alice.email)
    assert client.post(f"{BASE}/factors/{device.pk}/remove/").status_code == 404
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.post(f"{BASE}/factors/{device.pk}/remove/").status_code == 404
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# --- signing in with a second factor ------------------------------------------------------------------------


def test_sign_in_with_totp_stops_at_the_second_factor_then_completes(alice: User, settings) -> None:  # noqa: ANN001
    settings.MFA_THROTTLE_FACTOR = 0  # the wrong code's django-otp back-off is not what this is about
    totp = totp_enrolled(alice)

    client, response = password_login(alice.email)
    assert response.status_code == 302 and response["Location"] == f"{BASE}/authenticate/"
    assert client.get("/accounts/security/").status_code == 302  # not signed in yet
    assert not UserSession.objects.exists()
    page = client.get(f"{BASE}/authenticate/")
    assert page.status_code == 200 and "Code from your authenticator app" in page.content.decode()

    refused = verify_code(client, "totp", wrong_code(totp))
    assert refused.status_code == 400 and "That code is not valid." in refused.content.decode()
    assert client.get("/accounts/security/").status_code == 302

    done = verify_code(client, "totp", totp.now())
    assert done.status_code == 302 and done["Location"] == "/accounts/security/"
    assert client.get("/accounts/security/").status_code == 200
    assert "mfa" in session_amr(client) and "pwd" in session_amr(client)
    assert "plinto_remember" not in done.cookies


def test_sign_in_with_a_backup_code(alice: User) -> None:
    totp_enrolled(alice)
    plain = factors.backup_codes_regenerate(user=alice)
    client, _ = password_login(alice.email)
    assert "Backup codes" in client.get(f"{BASE}/authenticate/").content.decode()  # offered as another way
    assert "Backup code" in client.get(f"{BASE}/authenticate/?method=backup_code").content.decode()
    done = verify_code(client, "backup_code", plain[0].upper())
    assert done.status_code == 302 and client.get("/accounts/security/").status_code == 200
    assert factors.backup_codes_remaining(alice) == 9


def test_sign_in_with_an_sms_code_sent_from_the_page(alice: User, commit) -> None:  # noqa: ANN001
    with commit(execute=True):
        factors.message_setup(user=alice, channel=Channel.SMS, destination="+33612345678")
    factors.message_confirm(user=alice, channel=Channel.SMS,
                            code=re.search(r"\b(\d{6})\b", backends.outbox[-1].body).group(1))
    device = MessageDevice.objects.get()
    client, _ = password_login(alice.email)
    page = client.get(f"{BASE}/authenticate/").content.decode()
    assert "Send a code (SMS to …5678)" in page and 'name="code"' not in page

    with commit(execute=True):
        sent = client.post(f"{BASE}/authenticate/", {"action": "send", "method": "sms", "device_id": str(device.pk)})
    assert sent.status_code == 302 and sent["Location"] == f"{BASE}/authenticate/?method=sms"
    assert 'name="code"' in client.get(sent["Location"]).content.decode()
    code = re.search(r"\b(\d{6})\b", backends.outbox[-1].body).group(1)

    done = verify_code(client, "sms", code)
    assert done.status_code == 302 and client.get("/accounts/security/").status_code == 200


def test_five_wrong_codes_end_the_pending_sign_in(alice: User, settings) -> None:  # noqa: ANN001
    settings.MFA_THROTTLE_FACTOR = 0
    totp = totp_enrolled(alice)
    client, _ = password_login(alice.email)
    for _ in range(4):
        assert verify_code(client, "totp", wrong_code(totp)).status_code == 400

    ended = verify_code(client, "totp", wrong_code(totp))
    assert ended.status_code == 302 and ended["Location"] == "/accounts/login/"
    assert "Too many wrong answers" in client.get("/accounts/login/").content.decode()
    assert client.get(f"{BASE}/authenticate/")["Location"] == "/accounts/login/"
    too_late = verify_code(client, "totp", totp.now())
    assert too_late.status_code == 302 and too_late["Location"] == "/accounts/login/"
    assert client.get("/accounts/security/").status_code == 302
    assert AuditEvent.objects.filter(action="mfa_challenge.voided").count() == 1
    assert AuditEvent.objects.filter(action="factor.failed").count() == 5


def test_cancel_ends_the_pending_sign_in(alice: User) -> None:
    totp_enrolled(alice)
    client, _ = password_login(alice.email)
    response = client.post(f"{BASE}/authenticate/", {"action": "cancel"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get(f"{BASE}/authenticate/")["Location"] == "/accounts/login/"


def test_remember_this_browser_skips_the_second_factor_next_time(alice: User, settings) -> None:  # noqa: ANN001
    totp = totp_enrolled(alice)
    client, _ = password_login(alice.email, secure=True)
    done = verify_code(client, "totp", totp.now(), remember=True, secure=True)
    assert done.status_code == 302 and done["Location"] == "/accounts/security/"
    cookie = done.cookies["plinto_remember"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax" and cookie["path"] == "/accounts/"
    assert int(cookie["max-age"]) == settings.MFA_REMEMBER_DEVICE_DAYS * 24 * 3600
    stored = RememberedDevice.objects.get()
    assert stored.user == alice and stored.token_hash != cookie.value  # kept hashed

    remembered = Client()
    remembered.cookies["plinto_remember"] = cookie.value
    _, response = password_login(alice.email, remembered)
    assert response.status_code == 302 and response["Location"] == "/accounts/security/"
    assert remembered.get("/accounts/security/").status_code == 200

    _, stranger = password_login(alice.email)  # another browser still gets asked
    assert stranger["Location"] == f"{BASE}/authenticate/"
    bob = UserFactory(email="bob@example.com")
    totp_enrolled(bob)
    borrowed = Client()
    borrowed.cookies["plinto_remember"] = cookie.value  # alice's token does not vouch for bob
    assert password_login(bob.email, borrowed)[1]["Location"] == f"{BASE}/authenticate/"


def test_remember_cookie_is_not_secure_over_plain_http(alice: User) -> None:
    totp = totp_enrolled(alice)
    client, _ = password_login(alice.email)
    cookie = verify_code(client, "totp", totp.now(), remember=True).cookies["plinto_remember"]
    assert cookie["httponly"] and not cookie["secure"]


def test_sign_in_with_a_security_key_as_second_factor(alice: User) -> None:
    key = SoftAuthenticator(origin=ORIGIN, resident=False)
    register_key(signed_in(alice.email), key)

    client, response = password_login(alice.email)
    assert response["Location"] == f"{BASE}/authenticate/"
    page = client.get(f"{BASE}/authenticate/").content.decode()
    assert "Use a security key" in page and f'data-verify-url="{BASE}/authenticate/webauthn/verify"' in page

    options = post_json(client, f"{BASE}/authenticate/webauthn/options").json()
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]]  # bound to alice's keys
    with pytest.raises(NotAllowedError):  # another authenticator holds none of them
        SoftAuthenticator(origin=ORIGIN, resident=False).get(options["publicKey"])

    done = post_json(client, f"{BASE}/authenticate/webauthn/verify",
                     {"ceremony_id": options["ceremony_id"], "credential": key.get(options["publicKey"]),
                      "remember": True})
    assert done.status_code == 200 and done.json() == {"location": "/accounts/security/"}
    assert "plinto_remember" in done.cookies
    assert client.get("/accounts/security/").status_code == 200 and "mfa" in session_amr(client)


def test_a_refused_security_key_counts_as_a_failure(alice: User) -> None:
    key = SoftAuthenticator(origin=ORIGIN, resident=False)
    register_key(signed_in(alice.email), key)
    client, _ = password_login(alice.email)
    options = post_json(client, f"{BASE}/authenticate/webauthn/options").json()
    phished = key.get(options["publicKey"], origin="https://evil.example")
    refused = post_json(client, f"{BASE}/authenticate/webauthn/verify",
                        {"ceremony_id": options["ceremony_id"], "credential": phished})
    assert refused.status_code == 400 and refused.json()["detail"] and "location" not in refused.json()
    assert client.get("/accounts/security/").status_code == 302
    assert client.get(f"{BASE}/authenticate/").status_code == 200  # still pending: one failure of five


def test_webauthn_endpoints_of_the_stage_refuse_without_a_pending_sign_in() -> None:
    response = post_json(Client(), f"{BASE}/authenticate/webauthn/options")
    assert response.status_code == 400 and response.json()["location"] == "/accounts/login/"


# --- passkey sign-in ------------------------------------------------------------------------------------------


def test_login_page_keeps_allauths_form_and_adds_the_passkey_button() -> None:
    html = Client().get("/accounts/login/").content.decode()
    assert 'name="password"' in html and "Send me a sign-in code" in html
    assert "Sign in with a passkey" in html and f'data-options-url="{BASE}/passkey-login/options"' in html
    assert "js/webauthn.js" in html


def test_passkey_sign_in_with_a_discoverable_credential(alice: User) -> None:
    passkey = SoftAuthenticator(origin=ORIGIN, resident=True)
    register_key(signed_in(alice.email), passkey)
    totp_enrolled(alice)  # MFA on: a passkey is two factors already, so no second step follows

    client = Client(enforce_csrf_checks=True)
    assert client.get(f"{BASE}/passkey-login/").status_code == 200
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
    options = post_json(client, f"{BASE}/passkey-login/options", **csrf).json()
    assert options["publicKey"]["allowCredentials"] == [] and options["publicKey"]["userVerification"] == "required"

    done = post_json(client, f"{BASE}/passkey-login/verify",
                     {"ceremony_id": options["ceremony_id"], "credential": passkey.get(options["publicKey"]),
                      "next": "/accounts/sessions/"}, **csrf)
    assert done.status_code == 200 and done.json() == {"location": "/accounts/sessions/"}
    assert client.get("/accounts/security/").status_code == 200
    assert session_amr(client) == ["mfa"]
    assert WebAuthnCredential.objects.get().last_used_at is not None


def test_passkey_sign_in_refuses_without_user_verification_and_never_twice(alice: User) -> None:
    passkey = SoftAuthenticator(origin=ORIGIN, resident=True)
    register_key(signed_in(alice.email), passkey)
    client = Client()
    options = post_json(client, f"{BASE}/passkey-login/options").json()
    answer = passkey.get(options["publicKey"])
    done = post_json(client, f"{BASE}/passkey-login/verify", {"ceremony_id": options["ceremony_id"],
                                                               "credential": answer, "next": "https://evil.example/"})
    assert done.json() == {"location": "/accounts/security/"}  # an outside `next` is ignored
    replay = post_json(Client(), f"{BASE}/passkey-login/verify",
                       {"ceremony_id": options["ceremony_id"], "credential": answer})
    assert replay.status_code == 400

    passkey.user_verified = False
    options = post_json(Client(), f"{BASE}/passkey-login/options").json()
    unverified = Client()
    refused = post_json(unverified, f"{BASE}/passkey-login/verify",
                        {"ceremony_id": options["ceremony_id"], "credential": passkey.get(options["publicKey"])})
    assert refused.status_code == 400 and unverified.get("/accounts/security/").status_code == 302


def test_passkey_sign_in_refuses_a_suspended_account(alice: User) -> None:
    passkey = SoftAuthenticator(origin=ORIGIN, resident=True)
    register_key(signed_in(alice.email), passkey)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    client = Client()
    options = post_json(client, f"{BASE}/passkey-login/options").json()
    refused = post_json(client, f"{BASE}/passkey-login/verify",
                        {"ceremony_id": options["ceremony_id"], "credential": passkey.get(options["publicKey"])})
    assert refused.status_code == 403 and client.get("/accounts/security/").status_code == 302
