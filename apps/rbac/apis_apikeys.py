"""REST interface of API keys (API.md "Access control": API keys). Thin: HTTP ↔ services.

Access: the key's organization must be one of mine (or the calling key's own), else 404; `apikeys:read` to
list and read, `apikeys:manage` to create, change, rotate and revoke (403 naming it), declared per method with
`HasPermission` (apps.rbac.access).
Creating and rotating hand out a secret: they need a person (403 `user_required` for an API key) who signed
in within the last 10 minutes (403 `reauthentication_required`). The secret (`key`) appears in the answer
to create and rotate only.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import require_recent_authentication
from apps.core.pagination import cursor_page
from apps.rbac import perms
from apps.rbac.access import HasPermission, request_api_key, request_facts
from apps.rbac.errors import UserRequired
from apps.rbac.models import ApiKey
from apps.rbac.services import apikeys as services


class ApiKeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The public part of the key: plk_<prefix>_…")
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)
    allowed_ips = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)
    previous_valid_until = serializers.DateTimeField(
        allow_null=True, help_text="After a rotation: until when the previous secret still works.")
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="plk_<prefix>_<secret>: shown in this answer only; store it now.")


class ApiKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), max_length=500,
                                   help_text="Permission codes (GET /api/v1/rbac/permissions) you hold yourself.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Future; null = never.")
    allowed_ips = serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                        max_length=services.MAX_ALLOWED_IPS,
                                        help_text="Addresses or CIDRs the key may be used from; empty = any.")


def _with_secret(key: ApiKey, plaintext: str, status_code: int) -> Response:
    """The one answer that carries the secret: never cached nor stored (the Idempotency-Key middleware honours
    no-store, so a replay cannot hand the secret out again)."""
    body = ApiKeyWithSecretSerializer({**ApiKeySerializer(key).data, "key": plaintext}).data
    return Response(body, status=status_code, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _refuse_api_keys(request: Request) -> None:
    if request_api_key(request) is not None:
        raise UserRequired("API keys cannot create, change or rotate API keys; a signed-in member must.")


class KeyObjectMixin:
    # Routes keyed by an API key: the key, if its organization is one of mine (or the calling key's own). No
    # docstring: drf-spectacular would make it every operation's description.
    object: ApiKey

    def resolve_organization(self, request: Request, key_id: str) -> tuple[object, None]:
        self.object = services.apikey_get_for_caller(key_id=key_id, user=request.user,
                                                     api_key=request_api_key(request))
        return self.object.organization_id, None


class ApiKeyListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.APIKEYS_READ, POST=perms.APIKEYS_MANAGE)]

    @extend_schema(summary="API keys of an organization (revoked ones too, with revoked_at; never a secret)",
                   responses={200: inline_serializer("ApiKeyList", {
                       "results": ApiKeySerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)})})
    def get(self, request: Request, org_id: str) -> Response:
        rows, next_cursor = cursor_page(services.apikey_list(organization=request.membership.organization), request,
                                        order=("created_at", "id"))
        return Response({"results": ApiKeySerializer(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(request=ApiKeyInputSerializer, responses={201: ApiKeyWithSecretSerializer},
                   summary="Create an API key; its secret is in this answer only",
                   description="403 `privilege_escalation` names the scopes you do not hold; 403 "
                               "`reauthentication_required` without a sign-in in the last 10 minutes; 403 "
                               "`user_required` for an API key; 400 `unknown_permission` for a scope outside "
                               "the catalog.")
    def post(self, request: Request, org_id: str) -> Response:
        _refuse_api_keys(request)
        require_recent_authentication(request)
        payload = ApiKeyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key, plaintext = services.apikey_create(organization=request.membership.organization, actor=request.user,
                                                facts=request_facts(request), **payload.validated_data)
        return _with_secret(key, plaintext, status.HTTP_201_CREATED)


class ApiKeyDetailApi(KeyObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.APIKEYS_READ, PATCH=perms.APIKEYS_MANAGE,
                                                         DELETE=perms.APIKEYS_MANAGE)]

    @extend_schema(responses={200: ApiKeySerializer}, summary="One API key (never its secret)")
    def get(self, request: Request, key_id: str) -> Response:
        return Response(ApiKeySerializer(self.object).data)

    @extend_schema(request=ApiKeyInputSerializer(partial=True), responses={200: ApiKeySerializer},
                   summary="Change a key's name, scopes, expiry or networks (only the fields sent)",
                   description="Scopes added must be held by you (403 `privilege_escalation`). 409 "
                               "`api_key_revoked` for a revoked key.")
    def patch(self, request: Request, key_id: str) -> Response:
        _refuse_api_keys(request)
        payload = ApiKeyInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        key = services.apikey_update(key=self.object, actor=request.user, data=payload.validated_data,
                                     facts=request_facts(request))
        return Response(ApiKeySerializer(key).data)

    @extend_schema(responses={204: None}, summary="Revoke a key: it stops working at once (the row stays for the "
                                                  "audit trail)")
    def delete(self, request: Request, key_id: str) -> Response:
        services.apikey_revoke(key=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRotateApi(KeyObjectMixin, APIView):
    permission_classes = [IsAuthenticated, HasPermission(POST=perms.APIKEYS_MANAGE)]

    class InputSerializer(serializers.Serializer):
        overlap_seconds = serializers.IntegerField(
            min_value=0, max_value=services.MAX_OVERLAP_SECONDS, default=services.DEFAULT_OVERLAP_SECONDS,
            help_text="How long the current secret keeps working (default 3600; 0 = it stops now; max 7 days).")

    @extend_schema(request=InputSerializer, responses={200: ApiKeyWithSecretSerializer},
                   summary="A new secret for the key (same prefix); the old one works during the overlap",
                   description="You must hold every scope of the key (403 `privilege_escalation`), have signed in "
                               "within 10 minutes (403 `reauthentication_required`) and be a person (403 "
                               "`user_required`). Rotating again within an overlap ends the older secret at once.")
    def post(self, request: Request, key_id: str) -> Response:
        _refuse_api_keys(request)
        require_recent_authentication(request)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key, plaintext = services.apikey_rotate(key=self.object, actor=request.user, facts=request_facts(request),
                                                **payload.validated_data)
        return _with_secret(key, plaintext, status.HTTP_200_OK)
