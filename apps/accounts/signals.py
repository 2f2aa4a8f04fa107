"""Django's and allauth's signals handed to our services, one line each (STYLE.md: signals only as inbound hooks)."""

from typing import Any

from allauth.account import signals as allauth_signals
from allauth.socialaccount import signals as social_signals
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.accounts import services
from apps.accounts.services import browser, recovery, social


@receiver(user_logged_in, dispatch_uid="accounts.audit_signed_in")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    browser.browser_signed_in(request=request, user=user)


@receiver(user_login_failed, dispatch_uid="accounts.audit_signin_failed")
def _signin_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    services.user_record_signin_failure(email=str(credentials.get("username") or credentials.get("email") or ""),
                                        method="session", reason="invalid_credentials")


@receiver(user_logged_out, dispatch_uid="accounts.audit_signed_out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        browser.browser_signed_out(request=request, user=user)


@receiver(allauth_signals.password_reset, dispatch_uid="accounts.password_reset")
def _password_reset(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    recovery.user_password_was_reset(user=user)


@receiver(allauth_signals.email_confirmed, dispatch_uid="accounts.email_confirmed")
def _email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    recovery.user_email_was_verified(email_address=email_address)


@receiver(social_signals.social_account_added, dispatch_uid="accounts.social_linked")
def _social_linked(sender: Any, request: Any, sociallogin: Any, **kwargs: Any) -> None:
    social.social_account_was_linked(account=sociallogin.account)


@receiver(allauth_signals.password_changed, dispatch_uid="accounts.password_changed_page")
@receiver(allauth_signals.password_set, dispatch_uid="accounts.password_set_page")
def _password_changed_on_page(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    browser.browser_password_changed(request=request, user=user)


@receiver(allauth_signals.email_added, dispatch_uid="accounts.email_added")
def _email_added(sender: Any, request: Any, user: Any, email_address: Any, **kwargs: Any) -> None:
    services.user_record_email(user=user, action="user.email_added", email=email_address.email)


@receiver(allauth_signals.email_removed, dispatch_uid="accounts.email_removed")
def _email_removed(sender: Any, request: Any, user: Any, email_address: Any, **kwargs: Any) -> None:
    services.user_record_email(user=user, action="user.email_removed", email=email_address.email)


@receiver(allauth_signals.email_changed, dispatch_uid="accounts.email_changed")
def _email_changed(sender: Any, request: Any, user: Any, from_email_address: Any, to_email_address: Any,
                   **kwargs: Any) -> None:
    services.user_record_email(user=user, action="user.email_changed", email=to_email_address.email,
                               previous=getattr(from_email_address, "email", None))
