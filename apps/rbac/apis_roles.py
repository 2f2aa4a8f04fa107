"""REST interface of the permission catalog, roles and object grants (API.md "Access control"). Thin.

Access: the organization must be one of mine (else 404, existence not leaked: another tenant's role
answers 404 like a missing one), then its rules and my permission (else 403 naming it), declared per
method with `HasPermission` (apps.rbac.access). System roles belong to no organization: any signed-in
caller may read one by id, nobody may change it (403 `system_role_read_only`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ValidationFailed
from apps.core.pagination import cursor_page, limit_from
from apps.orgs.errors import OrganizationNotFound
from apps.rbac import catalog
from apps.rbac.access import NO_ORGANIZATION, HasPermission, request_facts
from apps.rbac.errors import RoleNotFound, SystemRoleReadOnly
from apps.rbac.models import Role
from apps.rbac.perms import GRANTS_MANAGE, ROLES_MANAGE, ROLES_READ
from apps.rbac.services import grants as grant_services
from apps.rbac.services import roles as role_services
from apps.rbac.services.decisions import Resource


def _page_schema(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name, {"results": item, "next_cursor": serializers.CharField(allow_null=True)})


# Permission catalog ---------------------------------------------------------------------------------

class PermissionSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    resource = serializers.CharField()


class PermissionCatalogApi(APIView):
    @extend_schema(responses={200: inline_serializer("PermissionCatalog", {
        "results": PermissionSerializer(many=True)})}, summary="Every permission code, with what it allows")
    def get(self, request: Request) -> Response:
        return Response({"results": PermissionSerializer(catalog.all_permissions(), many=True).data})


# Roles ----------------------------------------------------------------------------------------------

class RoleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField(), help_text="The role's own permissions.")
    effective_permissions = serializers.ListField(child=serializers.CharField(),
                                                  help_text="Its own and every ancestor's permissions.")
    parent = serializers.CharField(allow_null=True)
    is_system = serializers.BooleanField()
    member_count = serializers.IntegerField(allow_null=True,
                                            help_text="Members holding it directly; null for a system role "
                                                      "read outside an organization.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _role_body(role: Role, *, by_id: dict[uuid.UUID, Role] | None, member_count: int | None) -> dict[str, Any]:
    parent = (by_id.get(role.parent_id) if by_id is not None else role.parent) if role.parent_id else None
    return RoleSerializer({
        "id": role.pk, "name": role.name, "description": role.description,
        "permissions": role_services.role_own_permissions(role),
        "effective_permissions": role_services.role_effective_permissions(role, by_id=by_id),
        "parent": parent.name if parent else None, "is_system": role.is_system, "member_count": member_count,
        "created_at": role.created_at, "updated_at": role.updated_at,
    }).data


def _org_role_body(role: Role) -> dict[str, Any]:
    return _role_body(role, by_id=role_services.role_roles_by_id(organization_id=role.organization_id),
                      member_count=role_services.role_member_count(role=role, organization_id=role.organization_id))


class RoleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, help_text="2–50 of a-z, 0-9, '-', '_'; not a system role's name.")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    permissions = serializers.ListField(child=serializers.CharField(max_length=100), max_length=500,
                                        help_text="Codes from GET /rbac/permissions.")
    parent = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True, default=None,
                                   help_text="A system role or a custom role of this organization to inherit from.")


class RoleListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=ROLES_READ, POST=ROLES_MANAGE)]

    @extend_schema(responses={200: _page_schema("RoleList", RoleSerializer(many=True))},
                   summary="The system roles and the organization's custom roles")
    def get(self, request: Request, org_id: str) -> Response:
        organization = request.membership.organization
        roles, next_cursor = cursor_page(role_services.role_list(organization=organization), request,
                                         order=("created_at", "id"))
        by_id = role_services.role_roles_by_id(organization_id=organization.pk)
        return Response({"results": [_role_body(r, by_id=by_id, member_count=r.member_count) for r in roles],
                         "next_cursor": next_cursor})

    @extend_schema(request=RoleInputSerializer, responses={201: RoleSerializer}, summary="Create a custom role",
                   description="409 `role_name_taken`; 403 `privilege_escalation` when the role (with what it "
                               "inherits) would hold a permission you do not.")
    def post(self, request: Request, org_id: str) -> Response:
        payload = RoleInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = request.membership.organization
        role = role_services.role_create(organization=organization, actor=request.user,
                                         caller=role_services.request_caller(request, organization),
                                         facts=request_facts(request), **payload.validated_data)
        return Response(_org_role_body(role), status=status.HTTP_201_CREATED)


class RoleDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=ROLES_READ, PATCH=ROLES_MANAGE, DELETE=ROLES_MANAGE)]
    object: Role

    def resolve_organization(self, request: Request, role_id: str) -> tuple[object, Resource | None]:
        """A custom role is its organization's (a grant on this role counts); a system role is nobody's: anyone
        signed in reads it, nobody changes it."""
        self.object = role = role_services.role_get(role_id=role_id)
        if role.is_system:
            if request.method == "PATCH":
                raise SystemRoleReadOnly("System roles cannot be changed; create a custom role instead.")
            if request.method == "DELETE":
                raise SystemRoleReadOnly("System roles cannot be deleted.")
            return NO_ORGANIZATION, None
        return role.organization_id, Resource("role", str(role.pk))

    def access_error(self, exc: Exception) -> Exception | None:
        return RoleNotFound("No such role.") if isinstance(exc, OrganizationNotFound) else None

    @extend_schema(responses={200: RoleSerializer}, summary="One role: a system role, or a custom role of one of "
                   "my organizations")
    def get(self, request: Request, role_id: str) -> Response:
        role = self.object
        if role.is_system:
            return Response(_role_body(role, by_id=None, member_count=None))
        return Response(_org_role_body(role))

    @extend_schema(request=RoleInputSerializer(partial=True), responses={200: RoleSerializer},
                   summary="Rename a custom role or change its description, permissions or parent",
                   description="Holders keep the role through a rename. 403 `system_role_read_only` for a system "
                               "role; 403 `privilege_escalation` as for creation.")
    def patch(self, request: Request, role_id: str) -> Response:
        role, membership = self.object, request.membership
        payload = RoleInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        role = role_services.role_update(role=role, actor=request.user,
                                         caller=role_services.request_caller(request, membership.organization),
                                         facts=request_facts(request), data=payload.validated_data)
        return Response(_org_role_body(role))

    @extend_schema(responses={204: None}, summary="Delete a custom role nobody uses",
                   description="409 `role_in_use` (with `usage` counts) while members, teams, pending invitations, "
                               "the default role or child roles use it.")
    def delete(self, request: Request, role_id: str) -> Response:
        role_services.role_delete(role=self.object, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Object grants ---------------------------------------------------------------------------------------

class SubjectSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=grant_services.SUBJECT_TYPES)
    id = serializers.CharField(max_length=64)


class ResourceRefSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=50)
    id = serializers.CharField(max_length=64)


class GrantSerializer(serializers.Serializer):
    subject = SubjectSerializer()
    permission = serializers.CharField()
    resource = ResourceRefSerializer()
    granted_by = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


def _grant_body(grant: grant_services.Grant) -> dict[str, Any]:
    return GrantSerializer({"subject": {"type": grant.subject_type, "id": grant.subject_id},
                            "permission": grant.permission,
                            "resource": {"type": grant.resource_type, "id": grant.resource_id},
                            "granted_by": grant.granted_by, "created_at": grant.created_at}).data


class GrantInputSerializer(serializers.Serializer):
    subject = SubjectSerializer()
    permission = serializers.CharField(max_length=100)
    resource = ResourceRefSerializer()


def _grant_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"subject_type": data["subject"]["type"], "subject_id": data["subject"]["id"],
            "permission": data["permission"], "resource_type": data["resource"]["type"],
            "resource_id": data["resource"]["id"]}


def _encode_cursor(grant: grant_services.Grant) -> str:
    raw = json.dumps([grant.created_at.isoformat(), grant.subject_type, grant.row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str, int]:
    try:
        at, kind, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(at), str(kind), int(row_id)
    except (ValueError, TypeError):
        raise ValidationFailed(errors=[{"field": "cursor", "detail": "Not a cursor from this API.",
                                        "code": "invalid"}]) from None


class GrantListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GRANTS_MANAGE)]

    class FilterSerializer(serializers.Serializer):
        resource_type = serializers.CharField(max_length=50, required=False)
        resource_id = serializers.CharField(max_length=64, required=False)
        subject_type = serializers.ChoiceField(choices=grant_services.SUBJECT_TYPES, required=False)
        subject_id = serializers.CharField(max_length=64, required=False)

    @extend_schema(parameters=[FilterSerializer],
                   responses={200: _page_schema("GrantList", GrantSerializer(many=True))},
                   summary="Object grants of the organization (needs grants:manage)")
    def get(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        limit = limit_from(request)
        cursor = request.query_params.get("cursor")
        rows = grant_services.grant_list(organization=membership.organization, limit=limit + 1,
                                         after=_decode_cursor(cursor) if cursor else None, **filters.validated_data)
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return Response({"results": [_grant_body(g) for g in rows[:limit]], "next_cursor": next_cursor})

    @extend_schema(request=GrantInputSerializer, responses={201: GrantSerializer, 200: GrantSerializer},
                   summary="Grant a permission on one object to a member or a team (201; 200 if it existed)",
                   description="404 when the object, the member or the team is not in this organization; "
                               "403 `privilege_escalation` when you may not use that permission on the object.")
    def post(self, request: Request, org_id: str) -> Response:
        payload = GrantInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = request.membership.organization
        grant, created = grant_services.grant_create(
            organization=organization, actor=request.user, caller=role_services.request_caller(request, organization),
            facts=request_facts(request), **_grant_args(payload.validated_data))
        return Response(_grant_body(grant), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=GrantInputSerializer, responses={204: None},
                   summary="Revoke a grant",
                   description="The JSON body names the grant as for creation: `{subject: {type, id}, permission, "
                               "resource: {type, id}}`. 404 when this organization has no such grant.")
    def delete(self, request: Request, org_id: str) -> Response:
        payload = GrantInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        grant_services.grant_delete(organization=request.membership.organization, actor=request.user,
                                    **_grant_args(payload.validated_data))
        return Response(status=status.HTTP_204_NO_CONTENT)
