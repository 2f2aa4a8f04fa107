"""allauth hooks. Settings: ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.utils.html import strip_tags

from apps.accounts.tasks import email_send_task


class AccountAdapter(DefaultAccountAdapter):
    def authenticate(self, request: Any, **credentials: Any) -> Any:
        """The pages share the API's lockout: same counter per e-mail, same lock, same e-mail to the owner.
        (The failed attempt itself is audited by the user_login_failed receiver.)"""
        from django import forms

        from apps.accounts.errors import AccountLocked
        from apps.accounts.models import User
        from apps.accounts.services.signin import lockout_check, lockout_clear, lockout_register_failure

        email = str(credentials.get("email") or "")
        try:
            lockout_check(email)
        except AccountLocked as exc:
            raise forms.ValidationError(exc.detail, code="account_locked") from None
        user = super().authenticate(request, **credentials)
        if user is None:
            lockout_register_failure(email=email, user=User.objects.filter(email__iexact=email.strip()).first())
        else:
            lockout_clear(email)
        return user

    def get_login_stages(self) -> list[str]:
        """allauth's stages, then the second factor (named, not imported: mfa sits above accounts)."""
        return [*super().get_login_stages(), "apps.mfa.stages.AuthenticateStage"]

    def save_user(self, request: Any, user: Any, form: Any, commit: bool = True) -> Any:
        """Sign-up through the pages is audited exactly like sign-up through the API."""
        from apps.accounts.services.users import user_record_signed_up

        user = super().save_user(request, user, form, commit)
        if commit:
            user_record_signed_up(user=user, method="password")
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render now (the request is at hand), send from a Celery task once the transaction commits.

        Every allauth e-mail (verification, password reset, sign-in code, unknown account, security
        notices) passes through here. Nothing is sent when the surrounding transaction rolls back.
        """
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        payload = email_payload(self.render_mail(template_prefix, email, ctx))
        # robust: the data is committed by then; a broker hiccup is logged, not turned into a 500.
        transaction.on_commit(lambda: email_send_task.delay(**payload), robust=True)


def email_payload(message: EmailMessage) -> dict[str, Any]:
    """The plain data `email_send_task` takes, from a rendered message; the Message-ID is fixed here."""
    text_body, html_body = message.body, None
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            html_body = str(content)
    if message.content_subtype == "html":  # only an HTML template existed
        text_body, html_body = strip_tags(message.body), message.body
    headers = {str(name): str(value) for name, value in message.extra_headers.items()}
    headers.setdefault("Message-ID", make_msgid(domain=str(DNS_NAME)))
    return {
        "subject": str(message.subject),
        "to": [str(address) for address in message.to],
        "from_email": str(message.from_email),
        "text_body": str(text_body),
        "html_body": html_body,
        "headers": headers,
    }
