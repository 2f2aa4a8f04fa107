"""SMS providers and the sending task. Twilio's HTTP API is faked at requests.Session.request: no network."""

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from apps.mfa import backends, tasks
from apps.mfa.backends import (
    ConsoleSmsProvider,
    LocmemSmsProvider,
    SentSms,
    SmsError,
    SmsPermanentError,
    SmsTransientError,
    TwilioSmsProvider,
    check_sms_settings,
    get_sms_provider,
)
from apps.mfa.tasks import sms_send_task

ACCOUNT_SID = "AC3f0c9a1e5b7d2468ace13579bdf02468"
AUTH_TOKEN = "9d1c7e5a3b8f60f2e4a6c8d0b2f4e6a8"
FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG7b2e4c6a8d0f1e3c5a7b9d1f3e5c7a9b"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
TO = "+33612345678"
BODY = "482913 is your Plinto code. It expires in 10 minutes. Never share it."
KEY = "mfa-42-5f1d2c3b4a596877"
MESSAGE_SID = "SM1a2b3c4d5e6f708192a3b4c5d6e7f809"


def twilio_message(**overrides: Any) -> dict[str, Any]:
    """A Message resource as Twilio answers POST …/Messages.json with 201 Created."""
    return {
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": BODY,
        "date_created": "Tue, 04 Aug 2026 09:12:31 +0000", "date_sent": None,
        "date_updated": "Tue, 04 Aug 2026 09:12:31 +0000", "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": FROM_NUMBER, "messaging_service_sid": None,
        "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD", "sid": MESSAGE_SID,
        "status": "queued", "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
                                                          f"{MESSAGE_SID}/Media.json"},
        "to": TO, "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
        **overrides,
    }


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


CREATED = (201, twilio_message())
INVALID_NUMBER = (400, twilio_error(400, 21211, "Invalid 'To' Phone Number: +3361234XXXX"))
UNSUBSCRIBED = (400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
BAD_CREDENTIALS = (401, twilio_error(401, 20003, "Authenticate"))
TOO_MANY_REQUESTS = (429, twilio_error(429, 20429, "Too Many Requests"))
UNAVAILABLE = (503, twilio_error(503, 20503, "Service Unavailable"))
BAD_GATEWAY_HTML = (502, "<html><body><h1>502 Bad Gateway</h1></body></html>")

Reply = tuple[int, dict[str, Any] | str] | requests.RequestException


@dataclass
class FakeTwilio:
    """Stands in for requests.Session.request: records each call, answers the replies in order
    (the last one again once they run out)."""

    replies: list[Reply] = field(default_factory=lambda: [CREATED])
    calls: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, *replies: Reply) -> "FakeTwilio":
        self.replies = list(replies)
        return self

    def request(self, session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
        if isinstance(reply, BaseException):
            raise reply
        status, payload = reply
        response = requests.Response()
        response.status_code, response.url, response.encoding = status, url, "utf-8"
        if isinstance(payload, dict):
            response._content = json.dumps(payload).encode()
            response.headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            response._content = payload.encode()
            response.headers["Content-Type"] = "text/html"
        return response


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test forgets to fake fails loudly instead of reaching the Internet."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test tried to reach the network")
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)


@pytest.fixture(autouse=True)
def _eager_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let an eager task retry in-process (Celery re-applies it) instead of raising Retry to the caller."""
    monkeypatch.setitem(sms_send_task.app.conf, "task_eager_propagates", False)


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    settings.SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM = FROM_NUMBER
    return settings


@pytest.fixture
def twilio_api(monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    fake = FakeTwilio()

    def request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        return fake.request(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    return fake


def twilio(from_: str = FROM_NUMBER) -> TwilioSmsProvider:
    return TwilioSmsProvider(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=from_)


def send_kwargs() -> dict[str, str]:
    return {"to": TO, "body": BODY, "idempotency_key": KEY}


# --- Twilio wire format ------------------------------------------------------------------------------

def test_twilio_send_posts_the_form_with_basic_auth_and_idempotency_token_and_returns_the_sid(
        twilio_api: FakeTwilio) -> None:
    message_id = twilio().send(**send_kwargs())

    assert message_id == MESSAGE_SID
    [call] = twilio_api.calls
    assert call["method"].upper() == "POST"  # requests.post passes "post"; requests upper-cases it
    assert call["url"] == MESSAGES_URL
    assert call["auth"] == (ACCOUNT_SID, AUTH_TOKEN)
    assert call["data"] == {"To": TO, "Body": BODY, "From": FROM_NUMBER}
    assert call["headers"]["I-Twilio-Idempotency-Token"] == KEY
    assert call["timeout"] == (5, 10)
    assert call["allow_redirects"] is False
    assert call.get("json") is None and call.get("params") is None  # a form body, nothing in the query string


def test_twilio_send_from_a_messaging_service_sends_messaging_service_sid_not_from(
        twilio_api: FakeTwilio) -> None:
    twilio_api.answer((201, twilio_message(**{"from": None, "messaging_service_sid": MESSAGING_SERVICE_SID,
                                              "status": "accepted"})))

    assert twilio(from_=MESSAGING_SERVICE_SID).send(**send_kwargs()) == MESSAGE_SID

    [call] = twilio_api.calls
    assert call["data"] == {"To": TO, "Body": BODY, "MessagingServiceSid": MESSAGING_SERVICE_SID}


@pytest.mark.parametrize(("_case", "reply", "code", "message"), [
    ("invalid number", INVALID_NUMBER, 21211, "Invalid 'To' Phone Number: +3361234XXXX"),
    ("unsubscribed", UNSUBSCRIBED, 21610, "Attempt to send to unsubscribed recipient"),
    ("bad credentials", BAD_CREDENTIALS, 20003, "Authenticate"),
    ("4xx without a JSON body", (404, "Not Found"), None, "HTTP 404"),
])
def test_twilio_rejections_raise_permanent_error_with_twilio_code_and_message(
        _case: str, reply: Reply, code: int | None, message: str, twilio_api: FakeTwilio) -> None:
    twilio_api.answer(reply)

    with pytest.raises(SmsPermanentError) as excinfo:
        twilio().send(**send_kwargs())

    assert (excinfo.value.code, excinfo.value.message) == (code, message)
    assert len(twilio_api.calls) == 1


@pytest.mark.parametrize(("_case", "reply"), [
    ("rate limited", TOO_MANY_REQUESTS),
    ("service unavailable", UNAVAILABLE),
    ("proxy error page", BAD_GATEWAY_HTML),
    ("connection refused", requests.ConnectionError("Connection refused")),
    ("connect timeout", requests.ConnectTimeout("connect timed out")),
    ("read timeout", requests.ReadTimeout("read timed out")),
])
def test_twilio_throttling_outages_and_network_failures_raise_transient_error(
        _case: str, reply: Reply, twilio_api: FakeTwilio) -> None:
    twilio_api.answer(reply)

    with pytest.raises(SmsTransientError):
        twilio().send(**send_kwargs())

    assert len(twilio_api.calls) == 1


def test_twilio_success_without_a_sid_is_an_error_but_not_a_transient_one(twilio_api: FakeTwilio) -> None:
    twilio_api.answer((201, {"status": "queued"}))

    with pytest.raises(SmsError) as excinfo:
        twilio().send(**send_kwargs())

    assert not isinstance(excinfo.value, SmsTransientError | SmsPermanentError)


def test_twilio_auth_token_and_sms_body_never_reach_the_logs(
        twilio_settings: Settings, twilio_api: FakeTwilio, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    twilio_api.answer(UNAVAILABLE, requests.ConnectionError("Connection reset by peer"), CREATED)
    assert sms_send_task.apply(kwargs=send_kwargs()).successful()
    for failure in (INVALID_NUMBER, TOO_MANY_REQUESTS, BAD_CREDENTIALS):
        twilio_api.calls.clear()
        twilio_api.answer(failure)
        assert sms_send_task.apply(kwargs=send_kwargs()).failed()

    assert caplog.records  # the scenarios did log: retries, rejections, failures
    for record in caplog.records:
        assert AUTH_TOKEN not in repr(vars(record))  # message, arguments, exception and extras
    assert AUTH_TOKEN not in caplog.text
    assert "482913" not in caplog.text  # the one-time code in the body


def test_twilio_provider_repr_leaves_out_the_auth_token() -> None:
    assert AUTH_TOKEN not in repr(twilio()) and ACCOUNT_SID in repr(twilio())


# --- choosing the provider ---------------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "expected"), [
    ("console", ConsoleSmsProvider),
    ("locmem", LocmemSmsProvider),
    ("twilio", TwilioSmsProvider),
])
def test_get_sms_provider_returns_the_provider_the_setting_names(
        provider: str, expected: type, twilio_settings: Settings) -> None:
    twilio_settings.SMS_PROVIDER = provider

    assert type(get_sms_provider()) is expected
    assert check_sms_settings(None) == []


def test_locmem_is_the_test_settings_provider() -> None:
    assert type(get_sms_provider()) is LocmemSmsProvider


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"])
def test_twilio_without_one_setting_is_improperly_configured_naming_it(
        missing: str, twilio_settings: Settings) -> None:
    setattr(twilio_settings, missing, "")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        get_sms_provider()

    assert str(excinfo.value) == (f"SMS_PROVIDER is 'twilio' but {missing} is empty; "
                                  "set the environment variable(s) of the same name.")
    [error] = check_sms_settings(None)
    assert error.id == "mfa.E002" and error.msg == str(excinfo.value)


def test_twilio_without_any_setting_names_all_three(twilio_settings: Settings) -> None:
    twilio_settings.TWILIO_ACCOUNT_SID = twilio_settings.TWILIO_FROM = ""
    twilio_settings.TWILIO_AUTH_TOKEN = "  "  # blank counts as empty

    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM are empty"):
        get_sms_provider()


def test_unknown_provider_is_improperly_configured(settings: Settings) -> None:
    settings.SMS_PROVIDER = "sns"

    with pytest.raises(ImproperlyConfigured,
                       match="SMS_PROVIDER is 'sns'; expected one of disabled, console, locmem, twilio"):
        get_sms_provider()
    [error] = check_sms_settings(None)
    assert error.id == "mfa.E001"


def test_missing_twilio_settings_do_not_matter_with_another_provider(settings: Settings) -> None:
    settings.SMS_PROVIDER = "console"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM = ""

    assert check_sms_settings(None) == []
    assert type(get_sms_provider()) is ConsoleSmsProvider


# --- console and locmem ------------------------------------------------------------------------------

def test_console_provider_logs_the_full_number_and_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="apps.mfa.backends")

    message_id = ConsoleSmsProvider().send(**send_kwargs())

    assert message_id.startswith("console-")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, f"SMS to {TO}: {BODY}")]


def test_locmem_outbox_receives_each_message_with_its_id() -> None:
    first = LocmemSmsProvider().send(**send_kwargs())
    second = LocmemSmsProvider().send(to="+447700900123", body="Hi", idempotency_key="k2")

    assert backends.outbox == [SentSms(to=TO, body=BODY, idempotency_key=KEY, message_id=first),
                               SentSms(to="+447700900123", body="Hi", idempotency_key="k2", message_id=second)]
    assert first != second


# --- the task ----------------------------------------------------------------------------------------

def test_sms_send_task_sends_through_the_configured_provider() -> None:
    result = sms_send_task.delay(**send_kwargs())  # test settings: locmem, eager

    [sms] = backends.outbox
    assert (sms.to, sms.body, sms.idempotency_key) == (TO, BODY, KEY)
    assert result.get() == sms.message_id


def test_sms_send_task_retries_transient_errors_with_backoff_under_the_same_key(
        twilio_settings: Settings, twilio_api: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    twilio_api.answer(TOO_MANY_REQUESTS, UNAVAILABLE, requests.ReadTimeout("read timed out"), CREATED)
    countdowns: list[int] = []
    retry = sms_send_task.retry
    monkeypatch.setattr(sms_send_task, "retry",
                        lambda **kwargs: countdowns.append(kwargs["countdown"]) or retry(**kwargs))

    result = sms_send_task.apply(kwargs=send_kwargs())

    assert result.successful() and result.result == MESSAGE_SID
    assert len(twilio_api.calls) == 4 and countdowns == [30, 60, 120]
    assert {call["headers"]["I-Twilio-Idempotency-Token"] for call in twilio_api.calls} == {KEY}
    assert all(call["data"] == {"To": TO, "Body": BODY, "From": FROM_NUMBER} for call in twilio_api.calls)


def test_sms_send_task_gives_up_after_five_retries(twilio_settings: Settings, twilio_api: FakeTwilio) -> None:
    twilio_api.answer(UNAVAILABLE)

    result = sms_send_task.apply(kwargs=send_kwargs())

    assert result.failed() and isinstance(result.result, SmsTransientError)
    assert len(twilio_api.calls) == tasks.SMS_MAX_RETRIES + 1 == 6


@pytest.mark.parametrize(("_case", "reply", "code"), [
    ("invalid number", INVALID_NUMBER, 21211),
    ("unsubscribed", UNSUBSCRIBED, 21610),
])
def test_sms_send_task_does_not_retry_a_permanent_error_and_logs_its_code_without_the_body(
        _case: str, reply: Reply, code: int, twilio_settings: Settings, twilio_api: FakeTwilio,
        caplog: pytest.LogCaptureFixture) -> None:
    twilio_api.answer(reply)
    caplog.set_level(logging.WARNING, logger="apps.mfa.tasks")

    result = sms_send_task.apply(kwargs=send_kwargs())

    assert result.failed() and isinstance(result.result, SmsPermanentError) and result.result.code == code
    assert len(twilio_api.calls) == 1
    [warning] = [r for r in caplog.records if r.name == "apps.mfa.tasks"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == f"SMS {KEY} to …5678 rejected for good: provider error {code}"
    assert BODY not in caplog.text and TO not in caplog.text


def test_sms_send_task_is_not_retried_when_misconfigured(settings: Settings, twilio_api: FakeTwilio) -> None:
    settings.SMS_PROVIDER = "twilio"
    settings.TWILIO_AUTH_TOKEN = ""

    result = sms_send_task.apply(kwargs=send_kwargs())

    assert result.failed() and isinstance(result.result, ImproperlyConfigured)
    assert twilio_api.calls == []
