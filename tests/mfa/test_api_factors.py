"""Enrolling, using and removing second factors through the API, with real OTP clients (pyotp)."""

import re
import time

import pyotp
import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import UserSession
from apps.audit.models import AuditEvent
from apps.mfa.models import BackupCode, MessageDevice, TOTPDevice
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import PASSWORD, bearer, signed_in, signin

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():  # noqa: ANN201
    return UserFactory(email="mfa@example.com")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):  # noqa: ANN001, ANN201
    """Runs on-commit work (e-mails, tasks) as the real commit would."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def client(user) -> APIClient:  # noqa: ANN001
    return signed_in("mfa@example.com")


def enrol_totp(client: APIClient, commit) -> pyotp.TOTP:  # noqa: ANN001
    setup = client.post("/api/v1/mfa/totp/setup").json()
    totp = pyotp.TOTP(setup["secret"])
    with commit(execute=True):
        response = client.post("/api/v1/mfa/totp/confirm", {"code": totp.now()}, format="json")
    assert response.status_code == 201, response.content
    return totp


def test_totp_setup_gives_secret_uri_and_qr_and_stores_the_seed_encrypted(client: APIClient) -> None:
    from django.db import connection

    setup = client.post("/api/v1/mfa/totp/setup").json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/Plinto:mfa%40example.com?secret=")
    assert setup["qr_svg"].lstrip().startswith("<?xml") and "<svg" in setup["qr_svg"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM mfa_totpdevice")
        stored = cursor.fetchone()[0]
    assert stored != TOTPDevice.objects.get().key and len(stored) > 80  # Fernet token, not the hex seed


def test_totp_enrolment_turns_mfa_on_and_is_announced(client: APIClient, commit) -> None:  # noqa: ANN001
    enrol_totp(client, commit)
    status = client.get("/api/v1/mfa/status").json()
    assert status["enabled"] is True and [f["type"] for f in status["factors"]] == ["totp"]
    assert client.get("/api/v1/auth/me").json()["mfa_enabled"] is True
    assert AuditEvent.objects.filter(action="factor.added").count() == 1
    assert any("second factor was added" in m.subject for m in mail.outbox)


def test_totp_confirm_refuses_a_wrong_code(client: APIClient) -> None:
    client.post("/api/v1/mfa/totp/setup")
    response = client.post("/api/v1/mfa/totp/confirm", {"code": "000000"}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_mfa_code")
    assert client.get("/api/v1/mfa/status").json()["enabled"] is False


def test_signin_with_totp_returns_the_challenge_then_tokens_with_amr(client, commit) -> None:  # noqa: ANN001
    totp = enrol_totp(client, commit)
    first = signin("mfa@example.com").json()
    assert first["mfa_required"] is True and first["methods"] == ["totp"] and "tokens" not in first

    code = totp.at(time.time() + 30)  # the enrolment spent the current step: the next one is still in tolerance
    response = APIClient().post("/api/v1/mfa/challenge/verify",
                                {"mfa_token": first["mfa_token"], "method": "totp", "code": code}, format="json")
    assert response.status_code == 200, response.content
    assert UserSession.objects.latest("created_at").amr == ["pwd", "otp", "mfa"]
    assert bearer(response.json()["tokens"]["access_token"]).get("/api/v1/auth/me").status_code == 200


def test_a_totp_code_works_only_once(client, commit) -> None:  # noqa: ANN001
    totp = enrol_totp(client, commit)
    code = totp.at(time.time() + 30)
    tokens = [signin("mfa@example.com").json()["mfa_token"] for _ in range(2)]
    verify = lambda t: APIClient().post("/api/v1/mfa/challenge/verify",  # noqa: E731
                                        {"mfa_token": t, "method": "totp", "code": code}, format="json")
    assert verify(tokens[0]).status_code == 200
    replay = verify(tokens[1])
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_mfa_code")
    assert AuditEvent.objects.filter(action="factor.failed").count() == 1


def test_five_wrong_codes_void_the_mfa_token(client, commit, settings) -> None:  # noqa: ANN001
    settings.MFA_THROTTLE_FACTOR = 0  # measure the token's own limit, not django-otp's back-off
    settings.RATELIMIT_ENABLED = False
    totp = enrol_totp(client, commit)
    token = signin("mfa@example.com").json()["mfa_token"]
    verify = lambda c: APIClient().post("/api/v1/mfa/challenge/verify",  # noqa: E731
                                        {"mfa_token": token, "method": "totp", "code": c}, format="json")
    assert [verify("123456").json()["code"] for _ in range(5)] == ["invalid_mfa_code"] * 5
    voided = verify(totp.at(time.time() + 30))
    assert (voided.status_code, voided.json()["code"]) == (401, "invalid_mfa_token")
    assert AuditEvent.objects.filter(action="mfa_challenge.voided").count() == 1


def test_mfa_token_expires(client, commit) -> None:  # noqa: ANN001
    from apps.mfa.models import MfaChallenge

    totp = enrol_totp(client, commit)
    token = signin("mfa@example.com").json()["mfa_token"]
    MfaChallenge.objects.update(expires_at="2026-01-01T00:00:00Z")
    response = APIClient().post("/api/v1/mfa/challenge/verify", {"mfa_token": token, "method": "totp",
                                                                 "code": totp.at(time.time() + 30)}, format="json")
    assert response.json()["code"] == "invalid_mfa_token"


def test_backup_codes_are_hashed_single_use_and_need_recent_auth(client, commit) -> None:  # noqa: ANN001
    enrol_totp(client, commit)
    codes = client.post("/api/v1/mfa/backup-codes/regenerate").json()["codes"]
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
    stored = set(BackupCode.objects.values_list("code_hash", flat=True))
    assert not stored & {c for c in codes} and not stored & {c.replace("-", "") for c in codes}

    token = signin("mfa@example.com").json()["mfa_token"]
    ok = APIClient().post("/api/v1/mfa/challenge/verify",
                          {"mfa_token": token, "method": "backup_code", "code": codes[0].upper()}, format="json")
    assert ok.status_code == 200
    token = signin("mfa@example.com").json()["mfa_token"]
    reused = APIClient().post("/api/v1/mfa/challenge/verify",
                              {"mfa_token": token, "method": "backup_code", "code": codes[0]}, format="json")
    assert reused.json()["code"] == "invalid_mfa_code"
    assert client.get("/api/v1/mfa/status").json()["backup_codes_remaining"] == 9

    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    assert client.post("/api/v1/mfa/backup-codes/regenerate").json()["code"] == "reauthentication_required"


def test_hotp_token_enrols_with_its_next_code_and_never_goes_backwards(client: APIClient, settings) -> None:  # noqa: ANN001
    settings.MFA_THROTTLE_FACTOR = 0  # about the counter, not the back-off
    secret = pyotp.random_base32()
    token = pyotp.HOTP(secret)
    enrol = client.post("/api/v1/mfa/hotp/setup", {"secret": secret, "counter": 0, "code": token.at(2)},
                        format="json")
    assert enrol.status_code == 201, enrol.content  # within the look-ahead window
    verify = lambda t, c: APIClient().post("/api/v1/mfa/challenge/verify",  # noqa: E731
                                           {"mfa_token": t, "method": "hotp", "code": c}, format="json")
    assert verify(signin("mfa@example.com").json()["mfa_token"], token.at(1)).status_code == 401  # behind: refused
    assert verify(signin("mfa@example.com").json()["mfa_token"], token.at(5)).status_code == 200
    assert UserSession.objects.latest("created_at").amr == ["pwd", "otp", "hwk", "mfa"]


def test_hotp_setup_with_a_wrong_code_registers_nothing(client: APIClient) -> None:
    response = client.post("/api/v1/mfa/hotp/setup", {"secret": "00" * 20, "code": "123456"}, format="json")
    assert response.status_code == 401
    assert client.get("/api/v1/mfa/status").json()["factors"] == []


def test_email_codes_enrol_and_sign_in(client, commit) -> None:  # noqa: ANN001
    with commit(execute=True):
        assert client.post("/api/v1/mfa/email/setup", {}, format="json").status_code == 202
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert client.post("/api/v1/mfa/email/confirm", {"code": code}, format="json").status_code == 201
    assert MessageDevice.objects.get().code_hash == ""  # the code is spent

    token = signin("mfa@example.com").json()["mfa_token"]
    with commit(execute=True):
        sent = APIClient().post("/api/v1/mfa/challenge", {"mfa_token": token, "method": "email"}, format="json")
    assert sent.json()["sent"] is True
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert code not in MessageDevice.objects.get().code_hash
    ok = APIClient().post("/api/v1/mfa/challenge/verify", {"mfa_token": token, "method": "email", "code": code},
                          format="json")
    assert ok.status_code == 200


def test_email_code_expires_after_ten_minutes(client, commit) -> None:  # noqa: ANN001
    with commit(execute=True):
        client.post("/api/v1/mfa/email/setup", {}, format="json")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    MessageDevice.objects.update(code_expires_at="2026-01-01T00:00:00Z")
    assert client.post("/api/v1/mfa/email/confirm", {"code": code}, format="json").status_code == 401


def test_remember_device_skips_the_second_factor_until_password_reset(client, commit) -> None:  # noqa: ANN001
    totp = enrol_totp(client, commit)
    token = signin("mfa@example.com").json()["mfa_token"]
    verified = APIClient().post("/api/v1/mfa/challenge/verify", {
        "mfa_token": token, "method": "totp", "code": totp.at(time.time() + 30), "remember_device": True},
        format="json").json()
    remember = verified["remember_token"]
    again = APIClient().post("/api/v1/auth/signin", {"email": "mfa@example.com", "password": PASSWORD,
                                                     "remember_token": remember}, format="json").json()
    assert "tokens" in again
    from apps.mfa.services.challenge import remembered_device_valid

    other_user = UserFactory(email="other@example.com")
    assert remembered_device_valid(user=other_user, token=remember) is False  # bound to its own user

    with commit(execute=True):
        APIClient().post("/api/v1/auth/password/forgot", {"email": "mfa@example.com"}, format="json")
    link = re.search(r"/accounts/password/reset/key/([^/\s]+)/", mail.outbox[-1].body).group(1)
    with commit(execute=True):
        APIClient().post("/api/v1/auth/password/reset", {"token": link, "new_password": "a new long passphrase"},
                         format="json")
    after = APIClient().post("/api/v1/auth/signin", {"email": "mfa@example.com", "password": "a new long passphrase",
                                                     "remember_token": remember}, format="json").json()
    assert after.get("mfa_required") is True


def test_removing_a_factor_needs_recent_auth_and_is_announced(client, commit) -> None:  # noqa: ANN001
    enrol_totp(client, commit)
    factor_id = client.get("/api/v1/mfa/status").json()["factors"][0]["id"]
    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    assert client.delete(f"/api/v1/mfa/factors/{factor_id}").json()["code"] == "reauthentication_required"
    UserSession.objects.update(auth_time=timezone.now())
    with commit(execute=True):
        assert client.delete(f"/api/v1/mfa/factors/{factor_id}").status_code == 204
    assert client.get("/api/v1/mfa/status").json()["enabled"] is False
    assert any("removed" in m.subject for m in mail.outbox)
    assert "tokens" in signin("mfa@example.com").json()


def test_another_users_factor_is_404(client, commit) -> None:  # noqa: ANN001
    enrol_totp(client, commit)
    factor_id = client.get("/api/v1/mfa/status").json()["factors"][0]["id"]
    UserFactory(email="intruder@example.com")
    assert signed_in("intruder@example.com").delete(f"/api/v1/mfa/factors/{factor_id}").status_code == 404
    assert TOTPDevice.objects.filter(pk=factor_id).exists()


def test_reauthenticate_accepts_a_factor_instead_of_the_password(client, commit,  # noqa: ANN001
                                                                 settings) -> None:  # noqa: ANN001
    settings.MFA_THROTTLE_FACTOR = 0
    totp = enrol_totp(client, commit)
    UserSession.objects.update(auth_time="2026-01-01T00:00:00Z")
    bad = client.post("/api/v1/auth/reauthenticate", {"method": "totp", "code": "000000"}, format="json")
    assert bad.status_code == 401
    ok = client.post("/api/v1/auth/reauthenticate", {"method": "totp", "code": totp.at(time.time() + 30)},
                     format="json")
    assert ok.status_code == 200
    assert "otp" in UserSession.objects.get().amr


def test_after_a_wrong_code_the_factor_backs_off_even_for_the_right_one(client, commit) -> None:  # noqa: ANN001
    totp = enrol_totp(client, commit)
    token = signin("mfa@example.com").json()["mfa_token"]
    verify = lambda c: APIClient().post("/api/v1/mfa/challenge/verify",  # noqa: E731
                                        {"mfa_token": token, "method": "totp", "code": c}, format="json")
    assert verify("123456").status_code == 401
    assert verify(totp.at(time.time() + 30)).status_code == 401  # django-otp's back-off: 1 s, 2 s, 4 s…
    assert TOTPDevice.objects.get().throttling_failure_count == 2


def test_sms_codes_enrol_and_sign_in_through_the_provider(client, commit) -> None:  # noqa: ANN001
    from apps.mfa import backends

    bad = client.post("/api/v1/mfa/sms/setup", {"phone_number": "0612345678"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_phone_number"
    with commit(execute=True):
        assert client.post("/api/v1/mfa/sms/setup", {"phone_number": "+33 6 12 34 56 78"},
                           format="json").status_code == 202
    [sms] = backends.outbox
    assert sms.to == "+33612345678"
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    assert client.post("/api/v1/mfa/sms/confirm", {"code": code}, format="json").status_code == 201
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT destination FROM mfa_messagedevice")
        assert "+33612345678" not in cursor.fetchone()[0]  # encrypted at rest

    token = signin("mfa@example.com").json()["mfa_token"]
    with commit(execute=True):
        APIClient().post("/api/v1/mfa/challenge", {"mfa_token": token, "method": "sms"}, format="json")
    code = re.search(r"\b(\d{6})\b", backends.outbox[-1].body).group(1)
    ok = APIClient().post("/api/v1/mfa/challenge/verify", {"mfa_token": token, "method": "sms", "code": code},
                          format="json")
    assert ok.status_code == 200
    assert UserSession.objects.latest("created_at").amr == ["pwd", "sms", "mfa"]


def test_sms_sending_is_rate_limited_per_user(client, commit, settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "SMS_SEND": "2/1h"}
    codes = [client.post("/api/v1/mfa/sms/setup", {"phone_number": "+33612345678"}, format="json").status_code
             for _ in range(3)]
    assert codes == [202, 202, 429]


def test_sms_is_refused_when_disabled(client, settings) -> None:  # noqa: ANN001
    settings.SMS_PROVIDER = "disabled"
    response = client.post("/api/v1/mfa/sms/setup", {"phone_number": "+33612345678"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "sms_unavailable")
