"""Sending SMS: one small interface, picked by settings.SMS_PROVIDER ("console", "locmem" or "twilio").

Callers go through `get_sms_provider().send(to=..., body=..., idempotency_key=...)`, normally from
`apps.mfa.tasks.sms_send_task`, which retries `SmsTransientError` and gives up on `SmsPermanentError`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# "disabled": no SMS factor can be enrolled (production's default, so codes never land in a log by mistake).
SMS_PROVIDERS = ("disabled", "console", "locmem", "twilio")
TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
TWILIO_MESSAGES_URL = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages.json"
TWILIO_TIMEOUT = (5, 10)  # seconds: (connect, read)


class SmsError(Exception):
    """Base of the errors a provider raises."""


class SmsTransientError(SmsError):
    """May succeed later: rate limited (429), provider error (5xx), network failure or timeout."""


class SmsPermanentError(SmsError):
    """Will fail again on retry: invalid or unsubscribed number, bad credentials, rejected request.

    `code` and `message` are the provider's (Twilio: https://www.twilio.com/docs/api/errors);
    `code` is None when the answer carried none.
    """

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"SMS provider error {self.code}: {self.message}"


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        """Send `body` to `to` (E.164, e.g. "+33612345678"); return the provider's message id.

        The same `idempotency_key` is passed on every retry of one message.
        Raises SmsTransientError (worth retrying) or SmsPermanentError (not).
        """
        ...


class ConsoleSmsProvider:
    """Development only: logs the full number and the body (one-time codes included) at INFO and
    sends nothing. Never use it in production: the codes would end up in the logs."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        logger.info("SMS to %s: %s", to, body)
        return f"console-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class SentSms:
    to: str
    body: str
    idempotency_key: str
    message_id: str


# Messages "sent" by LocmemSmsProvider, like django.core.mail.outbox. Tests empty it with
# `outbox.clear()` (never rebind it: modules that imported it would keep the old list).
outbox: list[SentSms] = []


class LocmemSmsProvider:
    """For tests: keeps every message in `apps.mfa.backends.outbox`, sends nothing."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        message_id = f"locmem-{uuid.uuid4().hex}"
        outbox.append(SentSms(to=to, body=body, idempotency_key=idempotency_key, message_id=message_id))
        return message_id


class TwilioSmsProvider:
    """Twilio Programmable Messaging, over its REST API (no SDK).

    `from_` is a phone number (sent as `From`) or a Messaging Service SID starting with "MG"
    (sent as `MessagingServiceSid`). The auth token only ever goes into the HTTP basic-auth header.
    """

    def __init__(self, *, account_sid: str, auth_token: str, from_: str) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_

    def __repr__(self) -> str:
        return f"<TwilioSmsProvider account_sid={self._account_sid!r} from={self._from!r}>"

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        sender = "MessagingServiceSid" if self._from.startswith("MG") else "From"
        try:
            response = requests.post(
                TWILIO_MESSAGES_URL.format(account_sid=self._account_sid),
                data={"To": to, "Body": body, sender: self._from},
                auth=(self._account_sid, self._auth_token),
                headers={"Accept": "application/json", "I-Twilio-Idempotency-Token": idempotency_key},
                timeout=TWILIO_TIMEOUT,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            # The exception's text names the host and path (account SID), never the token.
            raise SmsTransientError(f"Twilio unreachable: {type(exc).__name__}") from exc

        status = response.status_code
        payload = _json_object(response)
        if 200 <= status < 300:
            sid = payload.get("sid")
            if not isinstance(sid, str) or not sid:
                # Twilio took the request: sending again could deliver twice, so this is not transient.
                raise SmsError(f"Twilio answered {status} without a message sid")
            logger.debug("SMS %s accepted by Twilio as %s", idempotency_key, sid)
            return sid
        code = payload.get("code") if isinstance(payload.get("code"), int) else None
        if status == 429 or status >= 500:
            raise SmsTransientError(f"Twilio answered {status}" + (f" (error {code})" if code else ""))
        message = payload.get("message")
        raise SmsPermanentError(code, message if isinstance(message, str) and message else f"HTTP {status}")


def _json_object(response: requests.Response) -> dict[str, Any]:
    """The JSON object Twilio answers with, or {} (a proxy's HTML error page, an empty body)."""
    try:
        payload = response.json()
    except ValueError:  # requests.JSONDecodeError is a ValueError
        return {}
    return payload if isinstance(payload, dict) else {}


def sms_settings_problems() -> list[tuple[str, str]]:
    """What is wrong with the SMS settings, as (check id, message) pairs; [] when usable."""
    provider = getattr(settings, "SMS_PROVIDER", "")
    if provider not in SMS_PROVIDERS:
        return [("mfa.E001", f"SMS_PROVIDER is {provider!r}; expected one of {', '.join(SMS_PROVIDERS)} "
                             "(environment variable PLINTO_SMS_PROVIDER).")]
    if provider == "twilio":
        missing = [name for name in TWILIO_SETTINGS if not str(getattr(settings, name, "") or "").strip()]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return [("mfa.E002", f"SMS_PROVIDER is 'twilio' but {', '.join(missing)} {verb} empty; "
                                 "set the environment variable(s) of the same name.")]
    return []


def get_sms_provider() -> SmsProvider:
    """The provider settings.SMS_PROVIDER names; ImproperlyConfigured when it cannot be used."""
    problems = sms_settings_problems()
    if problems:
        raise ImproperlyConfigured(problems[0][1])
    if settings.SMS_PROVIDER == "twilio":
        return TwilioSmsProvider(account_sid=settings.TWILIO_ACCOUNT_SID.strip(),
                                 auth_token=settings.TWILIO_AUTH_TOKEN.strip(), from_=settings.TWILIO_FROM.strip())
    if settings.SMS_PROVIDER == "locmem":
        return LocmemSmsProvider()
    if settings.SMS_PROVIDER == "disabled":
        raise ImproperlyConfigured("SMS is disabled (PLINTO_SMS_PROVIDER=disabled).")
    return ConsoleSmsProvider()


def check_sms_settings(app_configs, **kwargs) -> list[CheckMessage]:  # noqa: ANN001
    """System check (`manage.py check`): the same misconfigurations get_sms_provider() refuses.

    Not registered here; the app registers it: `checks.register(check_sms_settings)`.
    """
    return [Error(message, id=check_id) for check_id, message in sms_settings_problems()]
