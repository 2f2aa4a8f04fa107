"""DRF authentication by organization API key: `Authorization: Bearer plk_…` or `X-API-Key: plk_…`.

A valid key authenticates as an `ApiKeyPrincipal` (request.user) with the ApiKey row as request.auth;
apps.rbac.access then lets it act in its own organization only, within its scopes. A key is not a user:
code written for people that reaches the principal's id or any other user attribute gets 403
`user_required`, never a 500 nor anyone's data (ApiKeyPrincipal.pk / .id / __getattr__).

Refusals answer 401 `invalid_api_key` with `WWW-Authenticate: Bearer`. When the prefix names a key, the
refusal is audited (`apikey.rejected`, at most once per key per minute) and the key's use (last_used_at,
at most once per minute) is recorded on success. Both writes must outlive the request's transaction
(ATOMIC_REQUESTS rolls it back on an error answer): they run once the response is finished, in their own
transactions (`after_request`).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.audit.models import ActorType
from apps.audit.services import Actor
from apps.core.deferred import after_request
from apps.core.http import client_ip
from apps.rbac.errors import InvalidApiKey, UserRequired
from apps.rbac.models import ApiKey
from apps.rbac.services import apikeys as services

logger = logging.getLogger(__name__)

API_KEY_HEADER = "HTTP_X_API_KEY"
WWW_AUTHENTICATE = 'Bearer realm="plinto"'


def _user_required() -> UserRequired:
    return UserRequired("API keys act only on their organization's routes, within their scopes; "
                        "this one needs a signed-in user.")


class ApiKeyPrincipal:
    """request.user for a request authenticated by an API key. Not a user: no id, no e-mail, no account."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    email = ""

    def __init__(self, key: ApiKey) -> None:
        self.api_key = key
        self.organization_id = key.organization_id

    @property
    def pk(self) -> Any:
        # Not None: code asking for "the user's id" must not get one (None reached `filter(user_id=None)`, shared
        # `user:None` rate-limit buckets and passkey registration). Key-aware code reads .api_key instead.
        raise _user_required()

    @property
    def id(self) -> Any:
        raise _user_required()

    def as_audit_actor(self) -> Actor:
        return Actor(type=ActorType.API_KEY, id=str(self.api_key.pk), email="")

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False  # Django permissions (admin) are for people; keys act through apps.rbac only

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def get_username(self) -> str:
        return ""

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not defined above: a user's fields, methods and the ORM's probes. Fail closed.
        if name.startswith("__"):
            raise AttributeError(name)
        raise _user_required()

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"

    def __repr__(self) -> str:
        return f"<ApiKeyPrincipal {self.api_key.pk}>"


# The authentication class ----------------------------------------------------------------------------

def presented_key(request: Request) -> str | None:
    """The API key the request carries, or None when it carries none (a JWT bearer is not ours)."""
    header = get_authorization_header(request).split()
    if len(header) == 2 and header[0].lower() == b"bearer" and header[1].startswith(services.KEY_PREFIX.encode()):
        return header[1].decode("latin1")
    value = request.META.get(API_KEY_HEADER)
    if value is not None:
        return value.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        ip = client_ip(request)
        try:
            key = services.apikey_verify(raw=raw, ip=ip)
        except services.ApiKeyRefused as refused:
            if refused.key is not None:  # a real key's prefix: worth a (throttled) audit event
                after_request(partial(services.apikey_rejection_record, key_id=refused.key.pk,
                                      organization_id=refused.key.organization_id, prefix=refused.key.prefix,
                                      reason=refused.reason))
            raise InvalidApiKey(refused.detail, headers={"WWW-Authenticate": WWW_AUTHENTICATE}) from None
        after_request(partial(services.apikey_touch, key_id=key.pk, ip=ip))
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """How keys look on the wire, for drf-spectacular: either header, not both."""

    target_class = "apps.rbac.authentication.ApiKeyAuthentication"
    name = ["apiKeyBearer", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"apiKeyBearer": []}, {"apiKeyHeader": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        description = "An organization API key plk_<prefix>_<secret> (POST /api/v1/organizations/{org_id}/api-keys)."
        return [{"type": "http", "scheme": "bearer", "bearerFormat": "plk_<prefix>_<secret>",
                 "description": description},
                {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": description}]
