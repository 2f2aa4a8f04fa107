"""REST interface of accounts: /api/v1/auth/*, /api/v1/sessions, /.well-known/*. Thin: HTTP ↔ services."""

from __future__ import annotations

import json
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.fields import get_error_detail
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import hooks, selectors
from apps.accounts.errors import InvalidCredentials, ReauthenticationRequired
from apps.accounts.models import User, UserSession
from apps.accounts.services import recovery, social
from apps.accounts.services import sessions as session_services
from apps.accounts.services import signin as signin_services
from apps.accounts.services.browser import SESSION_KEY as BROWSER_SESSION_KEY
from apps.accounts.services.signin import SigninResult
from apps.accounts.services.tokens import AccessClaims, jwks
from apps.accounts.services.users import (
    user_delete,
    user_password_change,
    user_profile_update,
    user_record_signout,
    user_signup,
)
from apps.audit.services import emit
from apps.core.errors import NotAuthenticated
from apps.core.http import client_ip
from apps.core.pagination import cursor_page
from apps.core.ratelimit import enforce

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


class TokensSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    display_name = serializers.CharField()
    locale = serializers.CharField()
    timezone = serializers.CharField()
    metadata = serializers.JSONField()
    email_verified = serializers.BooleanField()
    mfa_enabled = serializers.BooleanField()
    organizations = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()

    def to_representation(self, user: User) -> dict:
        return super().to_representation(selectors.user_profile(user=user))


AuthResultSerializer = inline_serializer("AuthResult", {"user": UserSerializer(), "tokens": TokensSerializer()})
MfaChallengeSerializer = inline_serializer("MfaChallenge", {
    "mfa_required": serializers.BooleanField(), "mfa_token": serializers.CharField(),
    "methods": serializers.ListField(child=serializers.CharField())})
AuthOrMfaSerializer = PolymorphicProxySerializer(
    component_name="AuthOrMfaChallenge", serializers=[AuthResultSerializer, MfaChallengeSerializer],
    resource_type_field_name=None)


def auth_response(result: SigninResult | dict) -> Response:
    """Tokens when sign-in is complete; the MFA challenge (API.md) when a second factor is due."""
    if isinstance(result, dict):
        return Response(result)
    return Response({"user": UserSerializer(result.user).data, "tokens": result.tokens.as_response()})


def current_session(request: Request) -> UserSession:
    """The session behind this request's access token; cookie sessions have none."""
    if not isinstance(request.auth, AccessClaims):
        raise NotAuthenticated("This endpoint needs an access token (Authorization: Bearer …).")
    return selectors.session_get(user=request.user, session_id=request.auth.session_id)


class SignupApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
        first_name = serializers.CharField(max_length=150, required=False, default="")
        last_name = serializers.CharField(max_length=150, required=False, default="")

    @extend_schema(request=InputSerializer, responses={201: AuthResultSerializer}, auth=[],
                   summary="Create an account (and sign in, unless verification is mandatory)")
    def post(self, request: Request) -> Response:
        enforce(request, "SIGNUP", client_ip(request) or "-")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        candidate = User(email=data["email"], first_name=data["first_name"], last_name=data["last_name"])
        try:
            password_validation.validate_password(data["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": get_error_detail(exc)}) from None  # keeps Django's codes
        user = user_signup(request=request._request, email=data["email"], password=data["password"],
                           first_name=data["first_name"], last_name=data["last_name"])
        if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory":
            return Response({"user": UserSerializer(user).data, "verification_required": True},
                            status=status.HTTP_201_CREATED)
        result = signin_services.signin_complete(user=user, amr=["pwd"], method="signup")
        return Response({"user": UserSerializer(user).data, "tokens": result.tokens.as_response()},
                        status=status.HTTP_201_CREATED)


@non_atomic  # failed attempts and lockouts must be recorded although the answer is an error
class SigninApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        remember_token = serializers.CharField(max_length=100, required=False,
                                               help_text="From an earlier MFA verify with remember_device.")

    @extend_schema(request=InputSerializer, responses={200: AuthOrMfaSerializer}, auth=[],
                   summary="Sign in with e-mail and password (or get the MFA challenge)")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        email = payload.validated_data["email"]
        enforce(request, "SIGNIN", email.strip().lower(), client_ip(request) or "-")
        if len(payload.validated_data["password"]) > 128:
            raise InvalidCredentials("E-mail or password is incorrect.")
        return auth_response(signin_services.signin_with_password(
            email=email, password=payload.validated_data["password"],
            remember_token=payload.validated_data.get("remember_token")))


@non_atomic  # a reused token's revocation must commit although the answer is 401
class RefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        refresh_token = serializers.CharField(max_length=512)

    @extend_schema(request=InputSerializer, auth=[], summary="Rotate a refresh token for a new token pair",
                   responses={200: inline_serializer("RefreshResult", {"tokens": TokensSerializer()})})
    def post(self, request: Request) -> Response:
        enforce(request, "REFRESH", client_ip(request) or "-")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _, tokens = session_services.session_refresh(refresh_token=payload.validated_data["refresh_token"])
        return Response({"tokens": tokens.as_response()})


class SignoutApi(APIView):
    class InputSerializer(serializers.Serializer):
        all = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={204: None},
                   summary="End the current session, or every session of the user with {all: true}")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        session = current_session(request)
        if payload.validated_data["all"]:
            session_services.session_revoke_all(user=request.user, reason="signed_out_everywhere", actor=request.user)
        else:
            session_services.session_revoke(session=session, reason="signed_out", actor=request.user)
        user_record_signout(user=request.user, method="token", session_id=str(session.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses={200: UserSerializer}, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class PasswordChangeApi(APIView):
    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(max_length=4096, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: inline_serializer("PasswordChanged", {
        "sessions_revoked": serializers.IntegerField()})}, summary="Change password; other sessions end")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        keep = current_session_id(request)
        revoked = user_password_change(user=request.user, current_password=payload.validated_data["current_password"],
                                       new_password=payload.validated_data["new_password"], keep_session_id=keep)
        return Response({"sessions_revoked": revoked})


@non_atomic  # a wrong factor code's back-off must be committed although the answer is an error
class ReauthenticateApi(APIView):
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(max_length=4096, trim_whitespace=False, required=False)
        method = serializers.CharField(max_length=32, required=False, help_text="A factor: totp, backup_code…")
        code = serializers.CharField(max_length=64, required=False)

        def validate(self, data: dict) -> dict:
            if not data.get("password") and not (data.get("method") and data.get("code")):
                raise serializers.ValidationError("Send a password, or a factor's method and code.", code="required")
            return data

    @extend_schema(request=InputSerializer, responses={200: inline_serializer("Reauthenticated", {
        "reauthenticated_until": serializers.DateTimeField()})},
        summary="Prove identity again (password or a second factor); sensitive actions are allowed for 10 minutes")
    def post(self, request: Request) -> Response:
        session = current_session(request)
        enforce(request, "REAUTHENTICATE", str(session.pk))
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if data.get("password"):
            if not request.user.check_password(data["password"]):
                raise InvalidCredentials("The password is incorrect.")
            method = "pwd"
        else:
            if not hooks.factor_verifies(request.user, data["method"], data["code"]):
                raise InvalidCredentials("The code is not valid.")
            method = "otp"
        session_services.session_mark_reauthenticated(session=session, method=method)
        return Response({"reauthenticated_until": selectors.session_reauthenticated_until(session=session)})


def require_recent_authentication(request: Request) -> None:
    """Guard for sensitive actions (API.md): the session must have authenticated within 10 minutes."""
    if not session_services.session_recently_authenticated(current_session(request)):
        raise ReauthenticationRequired("Sign in again (POST /api/v1/auth/reauthenticate) to do this.")


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    device = serializers.DictField()
    amr = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    is_current = serializers.SerializerMethodField()

    def get_is_current(self, session: UserSession) -> bool:
        return str(session.pk) == str(self.context.get("current_session_id"))


def current_session_id(request: Request) -> str | None:
    """The session row behind this request: the access token's `sid`, or the browser's (cookie) session."""
    if isinstance(request.auth, AccessClaims):
        return str(request.auth.session_id)
    return request._request.session.get(BROWSER_SESSION_KEY) if hasattr(request._request, "session") else None


def _session_context(request: Request) -> dict:
    return {"current_session_id": current_session_id(request)}


class SessionListApi(APIView):
    @extend_schema(responses={200: inline_serializer("SessionList", {
        "results": SessionSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)})},
        summary="My active sessions", operation_id="sessions_list")
    def get(self, request: Request) -> Response:
        sessions, next_cursor = cursor_page(selectors.session_list_active(user=request.user), request,
                                            order=("created_at", "id"))
        return Response({"results": SessionSerializer(sessions, many=True, context=_session_context(request)).data,
                         "next_cursor": next_cursor})

    @extend_schema(responses={200: inline_serializer("SessionsRevoked", {"revoked": serializers.IntegerField()})},
                   summary="End every session except the current one", operation_id="sessions_revoke_others")
    def delete(self, request: Request) -> Response:
        keep = current_session_id(request)
        revoked = session_services.session_revoke_all(user=request.user, reason="revoked_by_user",
                                                      actor=request.user, keep=keep)
        return Response({"revoked": revoked})


class SessionDetailApi(APIView):
    @extend_schema(responses={200: SessionSerializer}, summary="One of my sessions", operation_id="sessions_get")
    def get(self, request: Request, session_id: str) -> Response:
        session = selectors.session_get(user=request.user, session_id=session_id, active_only=True)
        return Response(SessionSerializer(session, context=_session_context(request)).data)

    @extend_schema(responses={204: None}, summary="End one of my sessions", operation_id="sessions_revoke")
    def delete(self, request: Request, session_id: str) -> Response:
        session = selectors.session_get(user=request.user, session_id=session_id, active_only=True)
        session_services.session_revoke(session=session, reason="revoked_by_user", actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(exclude=True)
def jwks_view(request) -> JsonResponse:  # noqa: ANN001
    response = JsonResponse(jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@extend_schema(exclude=True)
def openid_configuration_view(request) -> JsonResponse:  # noqa: ANN001
    """Discovery for token verifiers: only what exists (no OIDC authorization endpoints yet)."""
    base = settings.PUBLIC_URL.rstrip("/")
    return JsonResponse({
        "issuer": settings.JWT_ISSUER,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "access_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["iss", "aud", "sub", "sid", "jti", "iat", "exp", "auth_time", "amr", "org"],
    })


ACCEPTED = inline_serializer("Accepted", {"detail": serializers.CharField()})


class PasswordForgotApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(request=InputSerializer, responses={202: ACCEPTED}, auth=[],
                   summary="E-mail a password reset link (202 whether or not the account exists)")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        email = payload.validated_data["email"]
        enforce(request, "PASSWORD_RESET", email.strip().lower())
        recovery.password_reset_request(request=request._request, email=email)
        return Response({"detail": "If an account uses this address, a reset link is on its way."},
                        status=status.HTTP_202_ACCEPTED)


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=200)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, auth=[], summary="Set a new password with the e-mailed token",
                   responses={200: ACCEPTED})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        recovery.password_reset_complete(request=request._request, token=payload.validated_data["token"],
                                         new_password=payload.validated_data["new_password"])
        return Response({"detail": "Password changed; every session has been signed out."})


class EmailVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=300)

    @extend_schema(request=InputSerializer, auth=[], summary="Verify an e-mail address with the e-mailed token",
                   responses={200: inline_serializer("EmailVerified", {"email": serializers.EmailField()})})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        address = recovery.email_verify(request=request._request, token=payload.validated_data["token"])
        return Response({"email": address.email})


class EmailResendVerificationApi(APIView):
    @extend_schema(request=None, responses={202: ACCEPTED}, summary="Send the verification e-mail again")
    def post(self, request: Request) -> Response:
        enforce(request, "VERIFICATION_RESEND", str(request.user.pk))
        sent = recovery.email_verification_resend(request=request._request, user=request.user)
        detail = "Verification e-mail sent." if sent else "Every address of this account is already verified."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class AllowedRedirectField(serializers.URLField):
    """A URL we may send a user (or a secret-bearing link) to: its origin must be allow-listed."""

    def to_internal_value(self, data: object) -> str:
        url = super().to_internal_value(data)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" not in settings.PLINTO_REDIRECT_ALLOWED_ORIGINS:
            raise serializers.ValidationError("This origin is not in PLINTO_REDIRECT_ALLOWED_ORIGINS.",
                                              code="redirect_not_allowed")
        return url


class MagicLinkApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        redirect_url = AllowedRedirectField(required=False, max_length=2000)

    @extend_schema(request=InputSerializer, responses={202: ACCEPTED}, auth=[],
                   summary="E-mail a single-use sign-in link (202 whether or not the account exists)")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        enforce(request, "MAGIC_LINK", payload.validated_data["email"].strip().lower())
        recovery.magic_link_request(email=payload.validated_data["email"],
                                    redirect_url=payload.validated_data.get("redirect_url"))
        return Response({"detail": "If an account uses this address, a sign-in link is on its way."},
                        status=status.HTTP_202_ACCEPTED)


class MagicLinkVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=500)
        remember_token = serializers.CharField(max_length=100, required=False)

    @extend_schema(request=InputSerializer, responses={200: AuthOrMfaSerializer}, auth=[],
                   summary="Sign in with a magic-link token (or get the MFA challenge)")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = recovery.magic_link_consume(token=payload.validated_data["token"])
        return auth_response(signin_services.signin_begin(
            user=user, amr=["email"], method="magic_link", remember_token=payload.validated_data.get("remember_token")))


class UserMeApi(APIView):
    class InputSerializer(serializers.Serializer):
        first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        locale = serializers.RegexField(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35, required=False,
                                        allow_blank=True)
        timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
        metadata = serializers.DictField(required=False)

        def validate_timezone(self, value: str) -> str:
            if value and value not in zoneinfo.available_timezones():
                raise serializers.ValidationError("Not an IANA time zone (e.g. Europe/Paris).", code="invalid")
            return value

        def validate_metadata(self, value: dict) -> dict:
            if len(json.dumps(value)) > 8192:
                raise serializers.ValidationError("Metadata is limited to 8 KiB of JSON.", code="max_length")
            return value

    @extend_schema(responses={200: UserSerializer}, summary="My profile")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=InputSerializer, responses={200: UserSerializer}, summary="Update my profile")
    def patch(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        user = user_profile_update(user=request.user, data=payload.validated_data)
        return Response(UserSerializer(user).data)

    @extend_schema(responses={204: None}, summary="Delete my account (needs recent authentication)")
    def delete(self, request: Request) -> Response:
        require_recent_authentication(request)
        user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserMeExportApi(APIView):
    @extend_schema(responses={200: inline_serializer("UserExport", {"profile": serializers.DictField()})},
                   summary="Download all my personal data as JSON")
    def get(self, request: Request) -> Response:
        data = selectors.user_export(user=request.user)
        emit(action="user.data_exported", actor=request.user, target=request.user)
        response = Response(data)
        response["Content-Disposition"] = 'attachment; filename="plinto-personal-data.json"'
        return response


class UserDetailApi(APIView):
    @extend_schema(responses={200: inline_serializer("PublicUser", {
        "id": serializers.UUIDField(), "email": serializers.EmailField(), "display_name": serializers.CharField(),
        "first_name": serializers.CharField(), "last_name": serializers.CharField()})},
        summary="A user I may see: myself, or someone sharing an organization with me")
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get_visible(viewer=request.user, user_id=user_id)
        return Response({"id": user.pk, "email": user.email, "first_name": user.first_name,
                         "last_name": user.last_name, "display_name": user.display_name or user.get_full_name()})


class OAuthProviderListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(auth=[], summary="Social sign-in providers configured on this installation",
                   responses={200: inline_serializer("OAuthProvider", {"id": serializers.CharField(),
                                                                        "name": serializers.CharField()}, many=True)})
    def get(self, request: Request) -> Response:
        return Response(social.social_providers(request=request._request))


class OAuthAccountListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        provider = serializers.CharField()
        uid = serializers.CharField()
        date_joined = serializers.DateTimeField()
        last_login = serializers.DateTimeField()

    @extend_schema(responses={200: OutputSerializer(many=True)}, summary="My linked social accounts")
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(social.social_accounts(user=request.user), many=True).data)


class OAuthAccountDetailApi(APIView):
    @extend_schema(responses={204: None}, summary="Unlink a social account (not the last way to sign in)")
    def delete(self, request: Request, provider: str) -> Response:
        social.social_account_unlink(request=request._request, user=request.user, provider=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OAuthAuthorizeApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        redirect_uri = AllowedRedirectField(required=False, max_length=2000)

    @extend_schema(request=InputSerializer, auth=[], summary="Start social sign-in: the provider URL to send "
                   "the browser to", responses={200: inline_serializer("OAuthAuthorization", {
                       "authorization_url": serializers.URLField(), "state": serializers.CharField()})})
    def post(self, request: Request, provider: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        redirect_uri = payload.validated_data.get("redirect_uri") or \
            f"{settings.PUBLIC_URL.rstrip('/')}/api/v1/auth/oauth/callback/{provider}"
        url, state = social.oauth_authorize(request=request._request, provider_id=provider, redirect_uri=redirect_uri)
        return Response({"authorization_url": url, "state": state})


@non_atomic  # no database transaction held open while the provider is called
class OAuthCallbackApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=2000)
        state = serializers.CharField(max_length=200)

    @extend_schema(parameters=[InputSerializer], auth=[], responses={200: AuthOrMfaSerializer},
                   summary="Finish social sign-in with the provider's code and the state")
    def get(self, request: Request, provider: str) -> Response:
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        enforce(request, "SIGNIN", f"oauth:{provider}", client_ip(request) or "-")
        user = social.oauth_complete(request=request._request, provider_id=provider, **payload.validated_data)
        return auth_response(signin_services.signin_begin(user=user, amr=["fed"], method=f"oauth_{provider}"))


class LoginApi(SigninApi):
    """`/auth/login`: alias of `/auth/signin` for clients migrating from Plinto's earlier API."""


class LogoutApi(SignoutApi):
    """`/auth/logout`: alias of `/auth/signout`."""


class VerifyEmailApi(EmailVerifyApi):
    """`/auth/verify-email`: alias of `/auth/email/verify`."""
