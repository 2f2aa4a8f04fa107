"""Social sign-in accounts (allauth.socialaccount): listing providers, linked accounts, unlinking."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount import signals as social_signals
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.internal.flows.connect import validate_disconnect
from allauth.socialaccount.models import SocialAccount
from django import forms
from django.db import transaction
from django.http import HttpRequest

from apps.accounts.models import User
from apps.audit.services import emit
from apps.core.errors import Conflict, ResourceNotFound


class LastSignInMethod(Conflict):
    code, title = "last_sign_in_method", "Last way to sign in"


def social_providers(*, request: HttpRequest) -> list[dict[str, Any]]:
    """Providers with credentials configured (settings or SocialApp rows in the admin)."""
    providers = get_social_adapter().list_providers(request)
    return sorted(({"id": p.id, "name": p.name} for p in providers), key=lambda p: p["id"])


def social_accounts(*, user: User) -> list[SocialAccount]:
    return list(SocialAccount.objects.filter(user=user).order_by("provider"))


@transaction.atomic
def social_account_unlink(*, request: HttpRequest, user: User, provider: str) -> None:
    """Unlink a provider from the account, refusing to remove the last way the user can sign in."""
    account = SocialAccount.objects.select_for_update().filter(user=user, provider=provider).first()
    if account is None:
        raise ResourceNotFound(f"No {provider} account is linked.")
    try:
        validate_disconnect(request, account)
    except forms.ValidationError as exc:
        raise LastSignInMethod("Set a password first: this is the last way to sign in to the account. "
                               f"({'; '.join(exc.messages)})") from None
    account.delete()
    social_signals.social_account_removed.send(sender=SocialAccount, request=request, socialaccount=account)
    emit(action="user.social_unlinked", actor=user, target=user, metadata={"provider": provider})


@transaction.atomic
def social_account_was_linked(*, account: SocialAccount) -> None:
    emit(action="user.social_linked", actor=account.user, target=account.user, metadata={"provider": account.provider})
