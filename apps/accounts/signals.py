"""Django's own auth signals (admin sign-in through the session) handed to services in one line each."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.accounts import services


@receiver(user_logged_in, dispatch_uid="accounts.audit_signed_in")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.user_record_signin(user=user, method="session")


@receiver(user_login_failed, dispatch_uid="accounts.audit_signin_failed")
def _signin_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    services.user_record_signin_failure(email=str(credentials.get("username") or credentials.get("email") or ""),
                                        method="session", reason="invalid_credentials")


@receiver(user_logged_out, dispatch_uid="accounts.audit_signed_out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        services.user_record_signout(user=user, method="session")
