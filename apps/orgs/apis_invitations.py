"""REST interface of invitations (API.md "Organizations": invitations, bulk invitations). Thin: HTTP ↔ services.

Errors of the public token endpoints: an unknown, revoked, accepted or expired token answers
404 `invitation_invalid` (one status for all; the body's `reason` tells the link holder which).
"""

from __future__ import annotations

import codecs
import csv
import io
from typing import Any

from django.utils.http import parse_header_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import TokensSerializer, UserSerializer
from apps.accounts.services.signin import signin_complete
from apps.core.errors import MalformedRequest, NotAuthenticated
from apps.core.http import client_ip
from apps.core.pagination import cursor_page
from apps.core.ratelimit import enforce
from apps.orgs import perms
from apps.orgs.errors import OrganizationNotFound
from apps.orgs.models import Invitation, InvitationStatus, Membership
from apps.orgs.services import invitations as services
from apps.rbac.access import HasPermission
from apps.rbac.services.roles import role_assignable_check

# --- output -------------------------------------------------------------------------------------


class InviterSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class InvitationSerializer(serializers.Serializer):
    """An invitation as its organization's managers see it. Never the token (nor its hash)."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
    status = serializers.SerializerMethodField()
    invited_by = InviterSerializer(allow_null=True)
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()

    def get_status(self, invitation: Invitation) -> str:
        return getattr(invitation, "effective_status", None) or services.invitation_status(invitation)


class AcceptedMembershipSerializer(serializers.Serializer):
    organization = inline_serializer("InvitationOrganization", {
        "id": serializers.UUIDField(), "name": serializers.CharField(), "slug": serializers.CharField()})
    user_id = serializers.UUIDField()
    role = serializers.CharField()
    status = serializers.CharField()
    joined_at = serializers.DateTimeField()


def membership_body(membership: Membership) -> dict[str, Any]:
    return AcceptedMembershipSerializer(membership).data


# --- organization-scoped: invite, list, bulk ----------------------------------------------------


class InvitationListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(perms.INVITATIONS_MANAGE)]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        role = serializers.CharField(max_length=50)
        message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        expires_in_days = serializers.IntegerField(min_value=services.MIN_EXPIRES_IN_DAYS,
                                                   max_value=services.MAX_EXPIRES_IN_DAYS,
                                                   default=services.DEFAULT_EXPIRES_IN_DAYS)

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=InvitationStatus.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], summary="Invitations of an organization (expired ones shown "
                   "as expired)", responses={200: inline_serializer("InvitationList", {
                       "results": InvitationSerializer(many=True),
                       "next_cursor": serializers.CharField(allow_null=True)})})
    def get(self, request: Request, org_id: str) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        invitations, next_cursor = cursor_page(
            services.invitation_list(organization=request.membership.organization,
                                     status=filters.validated_data.get("status")),
            request, order=("created_at", "id"))
        return Response({"results": InvitationSerializer(invitations, many=True).data, "next_cursor": next_cursor})

    @extend_schema(request=InputSerializer, responses={201: InvitationSerializer},
                   summary="Invite an e-mail address (the link goes by e-mail only)")
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        role_assignable_check(caller_request=request, organization=membership.organization,
                              role_name=payload.validated_data["role"])
        invitation = services.invitation_create(inviter=membership, **payload.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class MalformedCsv(MalformedRequest):
    code, title = "malformed_csv", "Malformed CSV"


class InvitationCsvParser(BaseParser):
    """`text/csv` with a header row naming the columns `email` and `role` (any order, other columns
    ignored; UTF-8 unless the Content-Type names another charset) → `{"invitations": [{email, role}, …]}`.
    Stops one row past the limit so that the input serializer refuses the request."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> dict[str, Any]:
        _, params = parse_header_parameters(media_type or self.media_type)
        charset = params.get("charset", "utf-8")
        try:
            encoding = "utf-8-sig" if codecs.lookup(charset).name == "utf-8" else charset
            text = stream.read().decode(encoding)
        except LookupError:
            raise MalformedCsv(f"Unknown charset {charset!r}.") from None
        except UnicodeDecodeError:
            raise MalformedCsv(f"The body is not valid {charset} text.") from None
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = [name.strip().lower() for name in next(reader, [])]
            if "email" not in header or "role" not in header:
                raise MalformedCsv("The first line must be a header naming the columns email and role.")
            email_at, role_at = header.index("email"), header.index("role")
            rows: list[dict[str, str]] = []
            for line in reader:
                if not any(cell.strip() for cell in line):
                    continue  # blank line
                if len(line) != len(header):
                    raise MalformedCsv(f"Line {reader.line_num} has {len(line)} fields; the header has {len(header)}.")
                rows.append({"email": line[email_at].strip(), "role": line[role_at].strip()})
                if len(rows) > services.BULK_MAX_ROWS:
                    break
        except csv.Error as exc:
            raise MalformedCsv(f"Line {reader.line_num}: {exc}.") from None
        return {"invitations": rows}


class InvitationRowSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=320, allow_blank=True)  # checked row by row by the service
    role = serializers.CharField(max_length=50, allow_blank=True)


class InvitationsBulkApi(APIView):
    parser_classes = [JSONParser, InvitationCsvParser]
    permission_classes = [IsAuthenticated, HasPermission(perms.INVITATIONS_MANAGE)]

    class InputSerializer(serializers.Serializer):
        invitations = serializers.ListField(child=InvitationRowSerializer(), min_length=1,
                                            max_length=services.BULK_MAX_ROWS)
        message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        expires_in_days = serializers.IntegerField(min_value=services.MIN_EXPIRES_IN_DAYS,
                                                   max_value=services.MAX_EXPIRES_IN_DAYS,
                                                   default=services.DEFAULT_EXPIRES_IN_DAYS)

    @extend_schema(
        request={"application/json": InputSerializer, "text/csv": OpenApiTypes.STR},
        summary="Invite many addresses (JSON, or CSV with an email,role header); row by row, in input order",
        responses={200: inline_serializer("InvitationsBulkResult", {"results": inline_serializer(
            "InvitationsBulkRow", {"email": serializers.CharField(), "ok": serializers.BooleanField(),
                                   "code": serializers.CharField(required=False),
                                   "invitation_id": serializers.UUIDField(required=False)}, many=True)})})
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        for role_name in sorted({row["role"] for row in data["invitations"]}):  # the whole request, before any row
            role_assignable_check(caller_request=request, organization=membership.organization, role_name=role_name)
        results = services.invitations_bulk(inviter=membership, rows=data["invitations"], message=data["message"],
                                            expires_in_days=data["expires_in_days"])
        return Response({"results": [r.as_dict() for r in results]})


# --- one invitation, by id: resend, revoke ------------------------------------------------------


class ManagedInvitationMixin:
    # Routes keyed by an invitation, with `members:invite` in its organization. Another tenant's invitation
    # answers 404 like a missing one; a member without the permission, 403. (No docstring: drf-spectacular would
    # make it every operation's description.)
    object: Invitation
    permission_classes = [IsAuthenticated, HasPermission(perms.INVITATIONS_MANAGE)]

    def resolve_organization(self, request: Request, invitation_id: str) -> tuple[object, None]:
        self.object = services.invitation_get(invitation_id=invitation_id)
        return self.object.organization_id, None

    def access_error(self, exc: Exception) -> Exception | None:
        return services.InvitationNotFound("No such invitation.") if isinstance(exc, OrganizationNotFound) else None


class InvitationResendApi(ManagedInvitationMixin, APIView):
    class InputSerializer(serializers.Serializer):
        expires_in_days = serializers.IntegerField(min_value=services.MIN_EXPIRES_IN_DAYS,
                                                   max_value=services.MAX_EXPIRES_IN_DAYS,
                                                   default=services.DEFAULT_EXPIRES_IN_DAYS)

    @extend_schema(request=InputSerializer, responses={200: InvitationSerializer},
                   summary="E-mail a new link with a new expiry; the previous link stops working")
    def post(self, request: Request, invitation_id: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        # A new link hands out the invitation's role again: the resender must be able to give it.
        role_assignable_check(caller_request=request, organization=self.object.organization,
                              role_name=self.object.role.name)
        invitation = services.invitation_resend(invitation=self.object, actor=request.membership,
                                                **payload.validated_data)
        return Response(InvitationSerializer(invitation).data)


class InvitationDetailApi(ManagedInvitationMixin, APIView):
    @extend_schema(responses={204: None}, summary="Revoke an invitation (its link stops working)")
    def delete(self, request: Request, invitation_id: str) -> Response:
        services.invitation_revoke(invitation=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- public: the link holder --------------------------------------------------------------------


class InvitationValidateApi(APIView):
    """What an invitation link offers, for the page or app that shows it. Public: the token is the key.

    Unknown, revoked, accepted and expired tokens all answer 404 `invitation_invalid` (we chose 404
    over 410 for expiry: one status for "this link will not work"); `reason` in the body says which.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class OutputSerializer(serializers.Serializer):
        organization = inline_serializer("InvitationOrganizationPublic", {
            "name": serializers.CharField(), "slug": serializers.CharField()})
        inviter = inline_serializer("InvitationInviter", {
            "name": serializers.CharField(required=False), "email": serializers.EmailField()}, allow_null=True)
        role = serializers.CharField()
        email = serializers.EmailField()
        expires_at = serializers.DateTimeField()

    @extend_schema(auth=[], responses={200: OutputSerializer},
                   parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.PATH)],
                   summary="Check an invitation link: organization, inviter, role, expiry")
    def get(self, request: Request, token: str) -> Response:
        invitation = services.invitation_get_by_token(token=token)
        inviter = invitation.invited_by
        inviter_body = None
        if inviter is not None:
            name = inviter.display_name or inviter.get_full_name()
            inviter_body = {"email": inviter.email} | ({"name": name} if name else {})
        return Response(self.OutputSerializer({
            "organization": {"name": invitation.organization.name, "slug": invitation.organization.slug},
            "inviter": inviter_body, "role": invitation.role, "email": invitation.email,
            "expires_at": invitation.expires_at,
        }).data)


class InvitationAcceptApi(APIView):
    """Accept an invitation.

    Signed in (access token or session): the user's e-mail must be the invited one (else 403
    `invitation_email_mismatch`) → 200 the membership. Anonymous with `password` (and names): creates
    the account of the invited address, verified, signs it in and joins → 201 `{user, tokens, membership}`;
    409 `email_taken` when that address already has an account (sign in instead). Anonymous without a
    password: 401. A used, revoked, expired or unknown token: 404 `invitation_invalid`.
    """

    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=200)
        password = serializers.CharField(max_length=128, trim_whitespace=False, required=False,
                                         style={"input_type": "password"},
                                         help_text="Only without a signed-in user: creates the account.")
        first_name = serializers.CharField(max_length=150, required=False, default="")
        last_name = serializers.CharField(max_length=150, required=False, default="")

    @extend_schema(request=InputSerializer, summary="Accept an invitation (signed in, or signing up in one step)",
                   responses={200: AcceptedMembershipSerializer, 201: inline_serializer("InvitationSignupResult", {
                       "user": UserSerializer(), "tokens": TokensSerializer(),
                       "membership": AcceptedMembershipSerializer()})})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if request.user.is_authenticated:
            membership = services.invitation_accept(token=data["token"], user=request.user)
            return Response(membership_body(membership))
        if not data.get("password"):
            raise NotAuthenticated("Sign in as the invited address to accept, or send a password to create "
                                   "its account.")
        enforce(request, "SIGNUP", client_ip(request) or "-")
        user, membership = services.invitation_accept_with_signup(
            token=data["token"], password=data["password"], first_name=data["first_name"],
            last_name=data["last_name"])
        result = signin_complete(user=user, amr=["pwd"], method="invitation")
        return Response({"user": UserSerializer(user).data, "tokens": result.tokens.as_response(),
                         "membership": membership_body(membership)}, status=status.HTTP_201_CREATED)
