"""REST interface of passkeys: /api/v1/passkeys/*. Thin: HTTP ↔ apps.mfa.webauthn."""

from __future__ import annotations

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import AuthResultSerializer, UserSerializer, require_recent_authentication
from apps.accounts.errors import AccountSuspended
from apps.accounts.services.signin import signin_complete
from apps.core.http import client_ip
from apps.core.ratelimit import enforce
from apps.mfa import webauthn

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


class PasskeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    discoverable = serializers.BooleanField()


CeremonySerializer = inline_serializer("PasskeyCeremony", {
    "ceremony_id": serializers.CharField(),
    "publicKey": serializers.DictField(help_text="PublicKeyCredentialCreationOptions or RequestOptions JSON "
                                                 "(binary fields base64url), for navigator.credentials."),
})


class PasskeyListApi(APIView):
    @extend_schema(responses={200: inline_serializer("PasskeyList", {
        "results": PasskeySerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)})},
        summary="My passkeys and security keys", operation_id="passkeys_list")
    def get(self, request: Request) -> Response:
        passkeys = webauthn.passkey_list(user=request.user)
        return Response({"results": PasskeySerializer(passkeys, many=True).data, "next_cursor": None})


class PasskeyRegistrationOptionsApi(APIView):
    @extend_schema(request=None, responses={200: CeremonySerializer},
                   summary="Start registering a passkey: options for navigator.credentials.create()")
    def post(self, request: Request) -> Response:
        ceremony_id, public_key = webauthn.registration_options(user=request.user)
        return Response({"ceremony_id": ceremony_id, "publicKey": public_key})


class PasskeyRegistrationVerifyApi(APIView):
    class InputSerializer(serializers.Serializer):
        ceremony_id = serializers.CharField(max_length=128)
        credential = serializers.DictField(help_text="The PublicKeyCredential's toJSON() form.")
        name = serializers.CharField(max_length=64, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: PasskeySerializer},
                   summary="Finish registering a passkey with the authenticator's answer")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        passkey = webauthn.registration_verify(user=request.user, ceremony_id=data["ceremony_id"],
                                               credential=data["credential"], name=data.get("name"))
        return Response(PasskeySerializer(passkey).data, status=status.HTTP_201_CREATED)


class PasskeyAuthenticationOptionsApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, required=False)

    @extend_schema(request=InputSerializer, responses={200: CeremonySerializer}, auth=[],
                   summary="Start a passwordless sign-in: options for navigator.credentials.get() "
                           "(no e-mail: any discoverable passkey)")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        email = payload.validated_data.get("email")
        if email:
            ceremony_id, public_key = webauthn.authentication_options_for_email(email=email,
                                                                                user_verification="required")
        else:
            ceremony_id, public_key = webauthn.authentication_options(user_verification="required")
        return Response({"ceremony_id": ceremony_id, "publicKey": public_key})


@non_atomic  # a cloned authenticator's audit event must be committed although the answer is an error
class PasskeyAuthenticationVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        ceremony_id = serializers.CharField(max_length=128)
        credential = serializers.DictField(help_text="The PublicKeyCredential's toJSON() form.")

    @extend_schema(request=InputSerializer, responses={200: AuthResultSerializer}, auth=[],
                   summary="Sign in with a passkey (passwordless; user verification required)")
    def post(self, request: Request) -> Response:
        enforce(request, "MFA_VERIFY", "passkey", client_ip(request) or "-")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        passkey = webauthn.authentication_verify(ceremony_id=payload.validated_data["ceremony_id"],
                                                 credential=payload.validated_data["credential"],
                                                 require_user_verification=True)
        if not passkey.user.is_active:
            raise AccountSuspended("This account is suspended; contact your administrator.")
        result = signin_complete(user=passkey.user, amr=webauthn.amr_for(passkey), method="passkey")
        return Response({"user": UserSerializer(result.user).data, "tokens": result.tokens.as_response()})


class PasskeyDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=64)

    @extend_schema(request=InputSerializer, responses={200: PasskeySerializer}, summary="Rename one of my passkeys",
                   operation_id="passkeys_rename")
    def patch(self, request: Request, passkey_id: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        passkey = webauthn.passkey_rename(user=request.user, passkey_id=passkey_id,
                                          name=payload.validated_data["name"])
        return Response(PasskeySerializer(passkey).data)

    @extend_schema(responses={204: None}, summary="Remove one of my passkeys (needs recent authentication)",
                   operation_id="passkeys_remove")
    def delete(self, request: Request, passkey_id: str) -> Response:
        webauthn.passkey_get(user=request.user, passkey_id=passkey_id)  # someone else's: 404 before 403
        require_recent_authentication(request)
        webauthn.passkey_remove(user=request.user, passkey_id=passkey_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
