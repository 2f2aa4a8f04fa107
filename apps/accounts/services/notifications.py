"""E-mails Plinto sends on its own initiative, through the same adapter (layout, Celery task) as allauth's."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.accounts.models import User


def email_send(*, template_prefix: str, to: str, context: dict[str, Any]) -> None:
    """Render `<prefix>_subject.txt`, `_message.txt` and `_message.html`; send after commit."""
    from allauth.account.adapter import get_adapter

    get_adapter().send_mail(template_prefix, to, context)


def lockout_notify(*, user: User, minutes: int) -> None:
    """Tell the owner that repeated failed sign-ins locked their account."""
    email_send(template_prefix="account/email/account_locked", to=user.email, context={
        "user": user, "minutes": minutes,
        "password_reset_url": f"{settings.PUBLIC_URL.rstrip('/')}/accounts/password/reset/",
    })
