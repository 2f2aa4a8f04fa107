"""REST interface of organizations and members (API.md "Organizations"). Thin: HTTP ↔ services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.apis import current_session, require_recent_authentication
from apps.accounts.services.tokens import AccessClaims
from apps.core.errors import NotAuthenticated
from apps.core.pagination import cursor_page
from apps.orgs import perms, selectors
from apps.orgs.errors import OrganizationNotFound
from apps.orgs.models import Membership, Organization
from apps.orgs.services import organizations as services
from apps.rbac.access import ANY_MEMBER, ByAction, HasPermission, org_access, request_api_key
from apps.rbac.errors import UserRequired
from apps.rbac.services.roles import role_assignable_check


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    mfa_required = serializers.BooleanField()
    allowed_email_domains = serializers.ListField(child=serializers.CharField())
    ip_allowlist = serializers.ListField(child=serializers.CharField())
    session_max_age = serializers.IntegerField(allow_null=True)
    default_role = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MyOrganizationSerializer(OrganizationSerializer):
    role = serializers.SerializerMethodField()

    def get_role(self, organization: Organization) -> str | None:
        return self.context["roles"][organization.pk]


def org_body(membership: Membership) -> dict:
    role = membership.role.name if membership.role is not None else None  # an API key (KeyMembership) has none
    return MyOrganizationSerializer(membership.organization, context={"roles": {membership.organization_id: role}}).data


class SettingsInputSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField(required=False)
    allowed_email_domains = serializers.ListField(child=serializers.CharField(max_length=253), required=False,
                                                  max_length=100)
    ip_allowlist = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=100)
    session_max_age = serializers.IntegerField(min_value=60, required=False, allow_null=True)
    default_role = serializers.CharField(max_length=50, required=False)


class OrganizationListApi(APIView):
    class InputSerializer(SettingsInputSerializer):
        name = serializers.CharField(max_length=100)
        slug = serializers.RegexField(r"^[a-z0-9-]{3,50}$", max_length=50)

    @extend_schema(responses={200: inline_serializer("OrganizationList", {
        "results": MyOrganizationSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)})},
        summary="My organizations, with my role in each")
    def get(self, request: Request) -> Response:
        memberships, next_cursor = cursor_page(selectors.organization_list_for_user(user=request.user), request,
                                               order=("joined_at", "id"))
        role_of = {m.organization_id: m.role.name for m in memberships}
        data = MyOrganizationSerializer([m.organization for m in memberships], many=True,
                                        context={"roles": role_of}).data
        return Response({"results": data, "next_cursor": next_cursor})

    @extend_schema(request=InputSerializer, responses={201: MyOrganizationSerializer},
                   summary="Create an organization; I become its owner")
    def post(self, request: Request) -> Response:
        if request_api_key(request) is not None:
            raise UserRequired("An organization is created by a signed-in user, who becomes its owner.")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = services.organization_create(user=request.user, **payload.validated_data)
        membership = selectors.membership_get(organization_id=organization.pk, user=request.user)
        return Response(org_body(membership), status=status.HTTP_201_CREATED)


class OrganizationDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.ORG_READ, PATCH=perms.ORG_UPDATE,
                                                         DELETE=perms.ORG_DELETE)]

    class InputSerializer(SettingsInputSerializer):
        name = serializers.CharField(max_length=100, required=False)

    @extend_schema(responses={200: MyOrganizationSerializer}, summary="One of my organizations")
    def get(self, request: Request, org_id: str) -> Response:
        return Response(org_body(request.membership))

    @extend_schema(request=InputSerializer, responses={200: MyOrganizationSerializer},
                   summary="Rename or change settings")
    def patch(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        payload = self.InputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        role_assignable_check(caller_request=request, organization=membership.organization,
                              role_name=payload.validated_data.get("default_role"))
        services.organization_update(organization=membership.organization, actor=request.user,
                                     data=payload.validated_data)
        return Response(org_body(membership))

    @extend_schema(responses={204: None}, summary="Delete the organization (owners; recent authentication)")
    def delete(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        require_recent_authentication(request)
        services.organization_delete(organization=membership.organization, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationBySlugApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.ORG_READ)]

    def resolve_organization(self, request: Request, slug: str) -> tuple[object, None]:
        key = request_api_key(request)
        if key is not None:  # a key sees its own organization only
            if slug.lower() != key.organization.slug.lower():
                raise OrganizationNotFound("No such organization.")
            return key.organization_id, None
        return selectors.organization_get_by_slug(slug=slug, user=request.user).organization_id, None

    @extend_schema(responses={200: MyOrganizationSerializer}, summary="One of my organizations, by slug")
    def get(self, request: Request, slug: str) -> Response:
        return Response(org_body(request.membership))


class MemberSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    email = serializers.EmailField(source="user.email")
    name = serializers.SerializerMethodField()
    role = serializers.CharField()
    status = serializers.CharField()
    joined_at = serializers.DateTimeField()

    def get_name(self, membership: Membership) -> str:
        return membership.user.display_name or membership.user.get_full_name()


class MemberListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=perms.MEMBERS_READ)]

    @extend_schema(responses={200: inline_serializer("MemberList", {
        "results": MemberSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)})},
        summary="Members of an organization")
    def get(self, request: Request, org_id: str) -> Response:
        members, next_cursor = cursor_page(selectors.member_list(organization=request.membership.organization), request,
                                           order=("joined_at", "id"))
        return Response({"results": MemberSerializer(members, many=True).data, "next_cursor": next_cursor})


class MemberDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(PATCH=perms.MEMBERS_MANAGE, DELETE=perms.MEMBERS_REMOVE)]

    class InputSerializer(serializers.Serializer):
        role = serializers.CharField(max_length=50)

    @extend_schema(request=InputSerializer, responses={200: MemberSerializer}, summary="Change a member's role")
    def patch(self, request: Request, org_id: str, user_id: str) -> Response:
        membership = request.membership
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        role_assignable_check(caller_request=request, organization=membership.organization,
                              role_name=payload.validated_data["role"])
        member = selectors.member_get(organization=membership.organization, user_id=user_id)
        member = services.member_change_role(organization=membership.organization, member=member,
                                             role=payload.validated_data["role"], actor=request.user)
        return Response(MemberSerializer(member).data)

    @extend_schema(responses={204: None}, summary="Remove a member")
    def delete(self, request: Request, org_id: str, user_id: str) -> Response:
        membership = request.membership
        member = selectors.member_get(organization=membership.organization, user_id=user_id)
        services.member_remove(organization=membership.organization, member=member, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaveApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(POST=ANY_MEMBER)]  # a person: API keys are refused

    @extend_schema(request=None, responses={204: None}, summary="Leave an organization (not its last owner)")
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        services.member_leave(organization=membership.organization, member=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferOwnershipApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(POST=perms.OWNERSHIP_TRANSFER)]

    class InputSerializer(serializers.Serializer):
        user_id = serializers.UUIDField()

    @extend_schema(request=InputSerializer, responses={200: MemberSerializer},
                   summary="Make another member owner; I become admin (recent authentication)")
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        require_recent_authentication(request)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        target = services.ownership_transfer(organization=membership.organization, current=membership,
                                             to_user_id=payload.validated_data["user_id"])
        return Response(MemberSerializer(target).data)


class MembersBulkApi(APIView):
    # Removing needs members:remove, changing roles members:manage: read from the body before it is validated.
    permission_classes = [IsAuthenticated, HasPermission(POST=ByAction({"remove": perms.MEMBERS_REMOVE},
                                                                       default=perms.MEMBERS_MANAGE))]

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["change_role", "remove"])
        user_ids = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=500)
        role = serializers.CharField(max_length=50, required=False)

        def validate(self, data: dict) -> dict:
            if data["action"] == "change_role" and not data.get("role"):
                raise serializers.ValidationError({"role": ["Required to change roles."]})
            return data

    @extend_schema(request=InputSerializer, summary="Change roles or remove many members, row by row",
                   responses={200: inline_serializer("MembersBulkResult", {"results": serializers.ListField(
                       child=serializers.DictField())})})
    def post(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if payload.validated_data["action"] == "change_role":
            role_assignable_check(caller_request=request, organization=membership.organization,
                                  role_name=payload.validated_data.get("role"))
        results = services.members_bulk(organization=membership.organization, actor=request.user,
                                        **payload.validated_data)
        return Response({"results": [r.as_dict() for r in results]})


class SwitchOrganizationApi(APIView):
    class InputSerializer(serializers.Serializer):
        organization_id = serializers.UUIDField()

    @extend_schema(request=InputSerializer, summary="A new access token whose `org` claim is this organization",
                   responses={200: inline_serializer("SwitchedOrganization", {
                       "access_token": serializers.CharField(), "token_type": serializers.CharField(),
                       "expires_in": serializers.IntegerField()})})
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, AccessClaims):
            raise NotAuthenticated("Switching organization needs an access token.")
        current_session(request)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = org_access(request, payload.validated_data["organization_id"])
        token, expires_in = services.organization_switch(membership=membership, claims=request.auth)
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
