"""E-mails Plinto sends on its own account (not through allauth's flows)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from apps.accounts.models import User


def lockout_notify(*, user: User, minutes: int) -> None:
    """Tell the owner that repeated failed sign-ins locked their account; sent after commit."""
    from apps.accounts.tasks import email_send_task

    context = {"user": user, "minutes": minutes, "public_url": settings.PUBLIC_URL}
    subject = render_to_string("account/email/account_locked_subject.txt", context).strip()
    text = render_to_string("account/email/account_locked_message.txt", context)
    html = render_to_string("account/email/account_locked_message.html", context)
    transaction.on_commit(lambda: email_send_task.delay(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", to=[user.email],
        from_email=settings.DEFAULT_FROM_EMAIL, text_body=text, html_body=html))
