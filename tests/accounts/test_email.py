"""allauth's e-mails: our templates, sent by a Celery task after commit, retried only when it can help."""

import json
import re
import smtplib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from allauth.core.context import request_context
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks as Capture
from pytest_django import Settings

from apps.accounts import tasks
from apps.accounts.adapters import AccountAdapter
from apps.accounts.tasks import email_send_task
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

RECIPIENT = "ada@plinto.test"
EXTERNAL_ASSET = re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//|url\(|@import""", re.IGNORECASE)

# Every e-mail allauth sends here, with the context its flow gives the template.
ALLAUTH_EMAILS = [
    ("account/email/email_confirmation_signup", {"activate_url": "https://id.example.org/accounts/confirm-email/k/"}),
    ("account/email/email_confirmation", {"activate_url": "https://id.example.org/accounts/confirm-email/k/"}),
    ("account/email/password_reset_key", {"password_reset_url": "https://id.example.org/accounts/password/reset/key/1-k/"}),
    ("account/email/password_reset_code", {"code": "BCDF-GHJK"}),
    ("account/email/login_code", {"code": "BCDF-GHJK"}),
    ("account/email/unknown_account", {"signup_url": "https://id.example.org/accounts/signup/"}),
    ("account/email/account_already_exists", {"password_reset_url": "https://id.example.org/accounts/password/reset/"}),
    ("account/email/password_changed", {}),
    ("account/email/password_set", {}),
    ("account/email/password_reset", {}),
    ("account/email/email_changed", {"from_email": "old@plinto.test", "to_email": RECIPIENT}),
    ("account/email/email_confirm", {}),
    ("account/email/email_deleted", {"deleted_email": "old@plinto.test"}),
    ("socialaccount/email/account_connected", {"provider": "GitHub"}),
    ("socialaccount/email/account_disconnected", {"provider": "GitHub"}),
]
NOTICE_CONTEXT = {"ip": "203.0.113.7", "user_agent": "Firefox/130", "timestamp": timezone.now()}


@pytest.fixture(autouse=True)
def _plinto_accounts(settings: Settings) -> None:
    settings.ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"


@pytest.fixture
def adapter() -> Iterator[AccountAdapter]:
    """The adapter inside a request, as allauth's views call it."""
    with request_context(RequestFactory().get("/accounts/")):
        yield AccountAdapter()


@pytest.fixture(autouse=True)
def _eager_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let an eager task retry in-process (Celery re-applies it) instead of raising Retry to the caller."""
    monkeypatch.setitem(email_send_task.app.conf, "task_eager_propagates", False)


@pytest.fixture
def smtp_attempts(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[int]]:
    """Make the locmem backend fail with the given errors, in order, then deliver; returns the attempt log."""
    def install(*errors: BaseException) -> list[int]:
        attempts: list[int] = []
        deliver = EmailBackend.send_messages

        def send_messages(backend: EmailBackend, messages: list[mail.EmailMessage]) -> int:
            attempts.append(len(attempts) + 1)
            if len(attempts) <= len(errors):
                raise errors[len(attempts) - 1]
            return deliver(backend, messages)

        monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
        return attempts
    return install


def task_kwargs(**overrides: Any) -> dict[str, Any]:
    return {"subject": "[Plinto] Hello", "to": [RECIPIENT], "from_email": "Plinto <no-reply@plinto.test>",
            "text_body": "Hello", "html_body": "<p>Hello</p>", "headers": {"Message-ID": "<1@plinto.test>"},
            **overrides}


@pytest.mark.parametrize(("template_prefix", "context"), ALLAUTH_EMAILS)
def test_every_allauth_email_renders_plinto_text_and_html_parts(
        adapter: AccountAdapter, template_prefix: str, context: dict[str, Any]) -> None:
    user = UserFactory.build(email=RECIPIENT)
    message = adapter.render_mail(template_prefix, RECIPIENT,
                                  {"email": RECIPIENT, "user": user, **NOTICE_CONTEXT, **context})

    assert message.subject.startswith("[Plinto] ") and "\n" not in message.subject
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    for body in (message.body, html):
        assert "Plinto" in body and RECIPIENT in body
        assert "{{" not in body and "{%" not in body
        assert "example.com" not in body  # allauth's "Hello from <site name>" is gone
        for value in context.values():
            assert str(value) in body  # every link, code and address the flow passes is shown
    assert "<" not in message.body
    assert html.startswith("<!DOCTYPE html>") and 'lang="en"' in html
    assert not EXTERNAL_ASSET.search(html)


def test_notices_escape_what_the_client_sent(adapter: AccountAdapter) -> None:
    message = adapter.render_mail("account/email/password_changed", RECIPIENT, {
        "email": RECIPIENT, **NOTICE_CONTEXT, "user_agent": '<img src="https://evil.example/x">'})
    [(html, _)] = message.alternatives
    assert "&lt;img src=&quot;https://evil.example/x&quot;&gt;" in html and "<img" not in html
    assert "203.0.113.7" in message.body and "203.0.113.7" in html


def test_send_mail_waits_for_the_commit_then_sends_text_and_html(
        adapter: AccountAdapter, django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        adapter.send_mail("account/email/login_code", RECIPIENT, {"code": "BCDF-GHJK"})
        assert mail.outbox == []  # not before the commit

    assert len(callbacks) == 1
    [message] = mail.outbox
    assert message.to == [RECIPIENT] and message.subject == "[Plinto] Your sign-in code"
    assert "BCDF-GHJK" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "BCDF-GHJK" in html
    assert message.extra_headers["Message-ID"].endswith(">")


def test_no_email_is_sent_when_the_transaction_rolls_back(
        adapter: AccountAdapter, django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            adapter.send_mail("account/email/login_code", RECIPIENT, {"code": "BCDF-GHJK"})
            raise RuntimeError("the sign-in failed after the code was rendered")

    assert callbacks == []
    assert mail.outbox == []


def test_the_task_gets_only_plain_json_data(
        adapter: AccountAdapter, django_capture_on_commit_callbacks: Capture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(email_send_task, "delay", lambda **kwargs: queued.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        adapter.send_mail("account/email/password_reset_key", RECIPIENT,
                          {"password_reset_url": "http://testserver/accounts/password/reset/key/1-k/"})

    [kwargs] = queued
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert set(kwargs) == {"subject", "to", "from_email", "text_body", "html_body", "headers"}
    assert kwargs["to"] == [RECIPIENT] and kwargs["from_email"] == "Plinto <no-reply@plinto.localhost>"
    assert set(kwargs["headers"]) == {"Message-ID"}
    assert mail.outbox == []


@pytest.mark.parametrize(("_case", "error"), [
    ("connection dropped", smtplib.SMTPServerDisconnected("Connection unexpectedly closed")),
    ("greylisted", smtplib.SMTPRecipientsRefused({RECIPIENT: (450, b"4.2.0 Greylisted, try later")})),
    ("server busy", smtplib.SMTPDataError(421, b"4.3.2 Too busy")),
    ("network down", ConnectionRefusedError(111, "Connection refused")),
    ("timeout", TimeoutError("timed out")),
])
def test_transient_smtp_errors_are_retried_with_backoff_then_sent(
        _case: str, error: OSError, smtp_attempts: Callable[..., list[int]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = smtp_attempts(error, error)
    countdowns: list[int] = []
    retry = email_send_task.retry
    monkeypatch.setattr(email_send_task, "retry",
                        lambda **kwargs: countdowns.append(kwargs["countdown"]) or retry(**kwargs))

    result = email_send_task.apply(kwargs=task_kwargs())

    assert result.successful()
    assert attempts == [1, 2, 3] and countdowns == [60, 120]
    [message] = mail.outbox
    assert message.extra_headers["Message-ID"] == "<1@plinto.test>"
    assert message.alternatives[0][1] == "text/html"


def test_sending_gives_up_after_five_retries(smtp_attempts: Callable[..., list[int]]) -> None:
    attempts = smtp_attempts(*[smtplib.SMTPServerDisconnected("gone")] * 10)
    result = email_send_task.apply(kwargs=task_kwargs())
    assert result.failed() and isinstance(result.result, smtplib.SMTPServerDisconnected)
    assert len(attempts) == tasks.EMAIL_MAX_RETRIES + 1 == 6
    assert mail.outbox == []


@pytest.mark.parametrize(("_case", "error"), [
    ("unknown recipient", smtplib.SMTPRecipientsRefused({RECIPIENT: (550, b"5.1.1 No such user")})),
    ("sender refused", smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "no-reply@plinto.test")),
    ("content rejected", smtplib.SMTPDataError(554, b"5.7.1 Message rejected")),
    ("bad credentials", smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed")),
])
def test_permanent_smtp_rejections_are_not_retried(
        _case: str, error: smtplib.SMTPException, smtp_attempts: Callable[..., list[int]]) -> None:
    attempts = smtp_attempts(error)
    result = email_send_task.apply(kwargs=task_kwargs())
    assert result.failed() and result.result is error
    assert attempts == [1]
    assert mail.outbox == []


def test_bad_data_is_not_retried(smtp_attempts: Callable[..., list[int]]) -> None:
    attempts = smtp_attempts()
    result = email_send_task.apply(kwargs=task_kwargs(subject="Hello\nBcc: everyone@example.org"))
    assert result.failed() and isinstance(result.result, ValueError) and "newline" in str(result.result)
    assert len(attempts) <= 1  # rejected while building the message, never re-queued
    assert mail.outbox == []
