"""REST interface of MFA: /api/v1/mfa/* (API.md "MFA"). Thin: HTTP ↔ services."""

from __future__ import annotations

import phonenumbers
from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import AuthResultSerializer, UserSerializer, require_recent_authentication
from apps.core.http import client_ip
from apps.core.ratelimit import enforce
from apps.mfa.models import Channel, FactorType
from apps.mfa.services import challenge as challenge_services
from apps.mfa.services import factors

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


class FactorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField(source="factor_type")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class MfaStatusApi(APIView):
    @extend_schema(summary="My second factors", responses={200: inline_serializer("MfaStatus", {
        "enabled": serializers.BooleanField(), "factors": FactorSerializer(many=True),
        "backup_codes_remaining": serializers.IntegerField()})})
    def get(self, request: Request) -> Response:
        return Response({
            "enabled": factors.mfa_enabled(request.user),
            "factors": FactorSerializer(factors.factors_of(request.user), many=True).data,
            "backup_codes_remaining": factors.backup_codes_remaining(request.user),
        })


class TotpSetupApi(APIView):
    @extend_schema(request=None, summary="Start enrolling an authenticator app", responses={200: inline_serializer(
        "TotpSetup", {"device_id": serializers.UUIDField(), "secret": serializers.CharField(),
                      "otpauth_uri": serializers.CharField(), "qr_svg": serializers.CharField()})})
    def post(self, request: Request) -> Response:
        device, secret, uri, svg = factors.totp_setup(user=request.user)
        return Response({"device_id": device.pk, "secret": secret, "otpauth_uri": uri, "qr_svg": svg})


class CodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


@non_atomic  # failed attempts and their back-off are committed although the answer is an error
class TotpConfirmApi(APIView):
    @extend_schema(request=CodeInputSerializer, responses={201: FactorSerializer},
                   summary="Confirm the authenticator app with a first code")
    def post(self, request: Request) -> Response:
        payload = CodeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        enforce(request, "MFA_VERIFY", f"user:{request.user.pk}")
        device = factors.totp_confirm(user=request.user, code=payload.validated_data["code"])
        return Response(FactorSerializer(device).data, status=status.HTTP_201_CREATED)


class HotpSetupApi(APIView):
    class InputSerializer(serializers.Serializer):
        secret = serializers.CharField(max_length=256)
        digits = serializers.ChoiceField(choices=[6, 8], default=6)
        counter = serializers.IntegerField(min_value=0, default=0)
        code = serializers.CharField(max_length=16)
        name = serializers.CharField(max_length=64, required=False, default="")

    @extend_schema(request=InputSerializer, responses={201: FactorSerializer},
                   summary="Register a hardware OATH-HOTP token, verified with its next code")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        device = factors.hotp_enrol(user=request.user, **payload.validated_data)
        return Response(FactorSerializer(device).data, status=status.HTTP_201_CREATED)


class BackupCodesRegenerateApi(APIView):
    @extend_schema(request=None, summary="New backup codes, shown once (needs recent authentication)",
                   responses={200: inline_serializer("BackupCodes", {"codes": serializers.ListField(
                       child=serializers.CharField())})})
    def post(self, request: Request) -> Response:
        require_recent_authentication(request)
        return Response({"codes": factors.backup_codes_regenerate(user=request.user)})


class SmsSetupApi(APIView):
    class InputSerializer(serializers.Serializer):
        phone_number = serializers.CharField(max_length=32)

        def validate_phone_number(self, value: str) -> str:
            try:
                number = phonenumbers.parse(value, None)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number) or not value.startswith("+"):
                raise serializers.ValidationError("Give the number in E.164 form, e.g. +33612345678.",
                                                  code="invalid_phone_number")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @extend_schema(request=InputSerializer, responses={202: inline_serializer("CodeSent", {
        "sent": serializers.BooleanField()})}, summary="Start enrolling a phone: a code is sent by SMS")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        factors.message_setup(user=request.user, channel=Channel.SMS,
                              destination=payload.validated_data["phone_number"])
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


class EmailSetupApi(APIView):
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(required=False, help_text="Defaults to the account's address.")

    @extend_schema(request=InputSerializer, responses={202: inline_serializer("EmailCodeSent", {
        "sent": serializers.BooleanField()})}, summary="Start enrolling e-mail codes: a code is sent")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        factors.message_setup(user=request.user, channel=Channel.EMAIL,
                              destination=payload.validated_data.get("email") or request.user.email)
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


@non_atomic
class SmsConfirmApi(APIView):
    channel = Channel.SMS

    @extend_schema(request=CodeInputSerializer, responses={201: FactorSerializer},
                   summary="Confirm the phone number with the code it received")
    def post(self, request: Request) -> Response:
        payload = CodeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        enforce(request, "MFA_VERIFY", f"user:{request.user.pk}")
        device = factors.message_confirm(user=request.user, channel=self.channel, code=payload.validated_data["code"])
        return Response(FactorSerializer(device).data, status=status.HTTP_201_CREATED)


@non_atomic
class EmailConfirmApi(SmsConfirmApi):
    channel = Channel.EMAIL

    @extend_schema(request=CodeInputSerializer, responses={201: FactorSerializer},
                   summary="Confirm e-mail codes with the code that was sent")
    def post(self, request: Request) -> Response:
        return super().post(request)


class FactorDetailApi(APIView):
    @extend_schema(responses={204: None}, summary="Remove a factor (needs recent authentication)")
    def delete(self, request: Request, factor_id: str) -> Response:
        factors.factor_get(user=request.user, factor_id=factor_id)  # 404 before asking to re-authenticate
        require_recent_authentication(request)
        factors.factor_remove(user=request.user, factor_id=factor_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChallengeApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        mfa_token = serializers.CharField(max_length=100)
        method = serializers.ChoiceField(choices=FactorType.values)

    @extend_schema(request=InputSerializer, auth=[], summary="Send the code (SMS, e-mail) or get WebAuthn options",
                   responses={200: inline_serializer("ChallengeSent", {"sent": serializers.BooleanField()})})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(challenge_services.challenge_send(**payload.validated_data))


@non_atomic  # failures count towards voiding the mfa_token even though the answer is an error
class ChallengeVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        mfa_token = serializers.CharField(max_length=100)
        method = serializers.ChoiceField(choices=FactorType.values)
        code = serializers.CharField(max_length=64, required=False)
        credential = serializers.DictField(required=False)
        ceremony_id = serializers.CharField(max_length=100, required=False)
        remember_device = serializers.BooleanField(default=False)

    @extend_schema(request=InputSerializer, auth=[], responses={200: AuthResultSerializer},
                   summary="Complete sign-in with a second factor")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        enforce(request, "MFA_VERIFY", f"ip:{client_ip(request)}")
        result = challenge_services.challenge_verify(
            mfa_token=data["mfa_token"], method=data["method"], code=data.get("code"),
            credential=data.get("credential"), ceremony_id=data.get("ceremony_id"))
        body = {"user": UserSerializer(result.user).data, "tokens": result.tokens.as_response()}
        if data["remember_device"]:
            body["remember_token"] = challenge_services.remembered_device_create(
                user=result.user, user_agent=request.META.get("HTTP_USER_AGENT", ""))
        return Response(body)
