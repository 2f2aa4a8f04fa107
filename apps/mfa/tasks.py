"""Celery tasks of the mfa app. They take plain data only (JSON-serialisable, no model instances)."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from apps.mfa.backends import SmsPermanentError, SmsTransientError, get_sms_provider

logger = logging.getLogger(__name__)

# Retry n waits SMS_RETRY_BASE_SECONDS * 2**n: 30 s, 1, 2, 4, 8 minutes (about 15 minutes in all).
SMS_RETRY_BASE_SECONDS = 30
SMS_MAX_RETRIES = 5


def _masked(number: str) -> str:
    return "…" + number[-4:]


# `throws`: a permanent rejection (unsubscribed number…) is an expected outcome; the task still ends
# FAILURE, but the worker logs it at INFO without a traceback.
@shared_task(bind=True, acks_late=True, max_retries=SMS_MAX_RETRIES, throws=(SmsPermanentError,))
def sms_send_task(self: Task, *, to: str, body: str, idempotency_key: str) -> str:
    """Send one SMS through the configured provider; return the provider's message id.

    Transient failures (429, 5xx, network) are retried with exponential backoff under the same
    idempotency key; permanent ones fail at once. The body holds a one-time code: it is never logged.
    """
    try:
        return get_sms_provider().send(to=to, body=body, idempotency_key=idempotency_key)
    except SmsPermanentError as exc:
        logger.warning("SMS %s to %s rejected for good: provider error %s", idempotency_key, _masked(to), exc.code)
        raise
    except SmsTransientError as exc:
        logger.warning("SMS %s to %s not sent (attempt %d): %s", idempotency_key, _masked(to),
                       self.request.retries + 1, exc)
        raise self.retry(exc=exc, countdown=SMS_RETRY_BASE_SECONDS * 2 ** self.request.retries)
