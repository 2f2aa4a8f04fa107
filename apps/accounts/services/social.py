"""Social sign-in accounts (allauth.socialaccount): listing providers, linked accounts, unlinking."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount import signals as social_signals
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.internal.flows.connect import validate_disconnect
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django import forms
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest
from requests import RequestException

from apps.accounts.errors import EmailTaken
from apps.accounts.models import User
from apps.audit.services import emit
from apps.core.errors import ApplicationError, Conflict, ResourceNotFound


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


# --- social sign-in over the API (authorization code flow, PKCE where the provider supports it) -----

OAUTH_STATE_TTL_SECONDS = 600


class OAuthFailed(ApplicationError):
    status, code, title = 400, "oauth_failed", "Social sign-in failed"


def _provider(request: HttpRequest, provider_id: str) -> Any:
    try:
        provider = get_social_adapter().get_provider(request, provider_id)
    except (SocialApp.DoesNotExist, ImproperlyConfigured):
        raise ResourceNotFound(f"Provider {provider_id!r} is not configured.") from None
    if not hasattr(provider, "get_oauth2_adapter"):
        raise ResourceNotFound(f"Provider {provider_id!r} does not support the authorization code flow.")
    return provider


def _client(request: HttpRequest, provider: Any, redirect_uri: str) -> tuple[Any, Any]:
    adapter = provider.get_oauth2_adapter(request)
    client = adapter.get_client(request, provider.app)
    client.callback_url = redirect_uri
    return adapter, client


def oauth_authorize(*, request: HttpRequest, provider_id: str, redirect_uri: str) -> tuple[str, str]:
    """The provider's authorization URL and the state that must come back with the code (10 min, once)."""
    provider = _provider(request, provider_id)
    adapter, client = _client(request, provider, redirect_uri)
    pkce = provider.get_pkce_params()
    code_verifier = pkce.pop("code_verifier", None)
    state = secrets.token_urlsafe(32)
    cache.set(f"oauth-state:{state}", {"provider": provider_id, "redirect_uri": redirect_uri,
                                       "code_verifier": code_verifier}, timeout=OAUTH_STATE_TTL_SECONDS)
    client.state = state
    url = client.get_redirect_url(adapter.authorize_url, provider.get_scope(), {**provider.get_auth_params(), **pkce})
    return url, state


def oauth_complete(*, request: HttpRequest, provider_id: str, code: str, state: str) -> User:
    """Exchange the code, fetch the profile, find or create the user. Never merges by e-mail alone."""
    from apps.accounts.services.users import user_record_signed_up

    stash = cache.get(f"oauth-state:{state}")
    if not stash or not cache.delete(f"oauth-state:{state}") or stash["provider"] != provider_id:
        raise OAuthFailed("Unknown, expired or already used state; start the sign-in again.")
    provider = _provider(request, provider_id)
    adapter, client = _client(request, provider, stash["redirect_uri"])
    try:
        token_data = client.get_access_token(code, pkce_code_verifier=stash["code_verifier"])
        token = adapter.parse_token(token_data)
        if provider.app.pk:
            token.app = provider.app
        login = adapter.complete_login(request, provider.app, token, response=token_data)
    except (OAuth2Error, RequestException, ProviderException, KeyError) as exc:
        raise OAuthFailed(f"{provider.name} did not complete the sign-in ({type(exc).__name__}).") from None
    login.token = token
    login.lookup()
    with transaction.atomic():
        if login.is_existing:  # lookup() loaded the linked account and its user
            if not login.user.is_active:
                from apps.accounts.errors import AccountSuspended

                raise AccountSuspended("This account is suspended; contact your administrator.")
            return login.user
        email = (login.user.email or "").strip()
        if email and User.objects.filter(email__iexact=email).exists():
            raise EmailTaken(f"An account already uses {email}; sign in to it and link {provider.name} "
                                   "from the Security page.")
        login.user.set_unusable_password()
        login.save(request)
        user_record_signed_up(user=login.user, method=f"oauth_{provider_id}")
        social_account_was_linked(account=login.account)
        return login.user
