"""Celery tasks of the accounts app. They take plain data only (JSON-serialisable, no model instances)."""

from __future__ import annotations

import logging
import smtplib

from celery import Task, shared_task

logger = logging.getLogger(__name__)

# Retry n waits EMAIL_RETRY_BASE_SECONDS * 2**n: 1, 2, 4, 8, 16 minutes (about half an hour in all).
EMAIL_RETRY_BASE_SECONDS = 60
EMAIL_MAX_RETRIES = 5


def smtp_error_is_permanent(exc: OSError) -> bool:
    """A 5xx answer (unknown recipient, refused sender, rejected content, bad credentials) will not
    change on retry; 4xx answers, dropped connections and timeouts may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError)


@shared_task(bind=True, acks_late=True, max_retries=EMAIL_MAX_RETRIES)
def email_send_task(
    self: Task,
    *,
    subject: str,
    to: list[str],
    from_email: str,
    text_body: str,
    html_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send one e-mail (text, plus HTML when given) through Django's e-mail backend.

    Transient SMTP failures are retried with exponential backoff; permanent ones and bad data
    (a header with a newline, a malformed address) fail at once. Callers fix the Message-ID in
    `headers`, so a retry sends the same message and mail clients can spot a duplicate.
    """
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives(subject=subject, body=text_body, from_email=from_email, to=to,
                                     headers=headers or {})
    if html_body:
        message.attach_alternative(html_body, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError; listed for the reader
        message_id = (headers or {}).get("Message-ID", "")
        if smtp_error_is_permanent(exc):
            logger.error("e-mail %s rejected for good: %s", message_id, exc)
            raise
        logger.warning("e-mail %s not sent (attempt %d): %s", message_id, self.request.retries + 1, exc)
        raise self.retry(exc=exc, countdown=EMAIL_RETRY_BASE_SECONDS * 2 ** self.request.retries)
