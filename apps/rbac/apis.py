"""Questions to the decision service: may I do this here? (POST /rbac/check, /rbac/check-bulk) and what may
I do here? (GET /rbac/me/permissions). The answer is always about the caller (user or API key)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ValidationFailed
from apps.rbac import catalog, resources
from apps.rbac.access import caller_for, request_facts
from apps.rbac.errors import ResourceObjectNotFound
from apps.rbac.services.decisions import Decision, Resource, decide

CHECK_BULK_MAX = 100


class ResourceSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=50)
    id = serializers.CharField(max_length=100)

    def validate_type(self, value: str) -> str:
        if resources.get(value) is None:
            raise serializers.ValidationError(f"Unknown resource type; one of: {', '.join(resources.names())}.")
        return value


class CheckSerializer(serializers.Serializer):
    permission = serializers.CharField(max_length=100)
    resource = ResourceSerializer(required=False, allow_null=True)

    def validate_permission(self, value: str) -> str:
        if not catalog.exists(value):
            raise serializers.ValidationError("Not a permission of the catalog (GET /api/v1/rbac/permissions).",
                                              code="unknown_permission")
        return value


class DecisionSerializer(serializers.Serializer):
    permission = serializers.CharField()
    allowed = serializers.BooleanField()
    reason = serializers.CharField()


def _resource(data: dict | None, organization_id: object) -> Resource | None:
    """The named object, which must be in this organization (another tenant's object does not exist here)."""
    if not data:
        return None
    found = resources.object_in_organization(data["type"], data["id"], organization_id)
    if found is None:
        raise ResourceObjectNotFound(f"No {data['type']} {data['id']} in this organization.")
    return Resource(type=data["type"], id=str(found.pk))


def _body(decision: Decision) -> dict:
    return {"permission": decision.permission, "allowed": decision.allowed, "reason": decision.reason}


class CheckApi(APIView):
    class InputSerializer(CheckSerializer):
        organization_id = serializers.UUIDField()
        context = serializers.DictField(required=False, help_text=(
            "Attributes for policy conditions, seen as `request.context` (e.g. {\"owner_id\": …}). The request's "
            "own facts (IP, time, MFA age, user agent) always come from the request itself."))

    @extend_schema(request=InputSerializer, responses={200: DecisionSerializer},
                   summary="May I do this in this organization (on this object)?")
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        caller, _ = caller_for(request, data["organization_id"])
        decision = decide(caller=caller, permission=data["permission"],
                          resource=_resource(data.get("resource"), caller.organization.pk),
                          facts=request_facts(request, context=data.get("context")))
        return Response(_body(decision))


class CheckBulkApi(APIView):
    class InputSerializer(serializers.Serializer):
        organization_id = serializers.UUIDField()
        checks = CheckSerializer(many=True, allow_empty=False, max_length=CHECK_BULK_MAX)

    @extend_schema(request=InputSerializer, summary=f"Up to {CHECK_BULK_MAX} checks at once, answered in order",
                   responses={200: inline_serializer("CheckBulkResult", {"results": DecisionSerializer(many=True)})})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        caller, _ = caller_for(request, data["organization_id"])
        facts = request_facts(request)
        results = []
        for check in data["checks"]:
            resource = check.get("resource")
            if resource and resources.object_in_organization(resource["type"], resource["id"],
                                                              caller.organization.pk) is None:
                results.append({"permission": check["permission"], "allowed": False,
                                "reason": f"no {resource['type']} {resource['id']} in this organization"})
                continue
            decision = decide(caller=caller, permission=check["permission"], facts=facts,
                              resource=Resource(resource["type"], str(resource["id"])) if resource else None)
            results.append(_body(decision))
        return Response({"results": results})


class MyPermissionsApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("organization_id", str, required=True)],
                   summary="Every permission I hold in this organization now (roles, policies, key scopes)",
                   responses={200: inline_serializer("MyPermissions", {
                       "organization_id": serializers.UUIDField(), "permissions": serializers.ListField(
                           child=serializers.CharField()),
                       "roles": serializers.ListField(child=serializers.CharField())})})
    def get(self, request: Request) -> Response:
        organization_id = request.query_params.get("organization_id")
        if not organization_id:
            raise ValidationFailed(errors=[{"field": "organization_id", "detail": "Required.", "code": "required"}])
        caller, _ = caller_for(request, organization_id)
        facts = request_facts(request)
        allowed = [p.code for p in catalog.all_permissions()
                   if decide(caller=caller, permission=p.code, facts=facts).allowed]
        roles = sorted({name for _, _, chain in caller.access.roles for name in chain}) if caller.access else []
        return Response({"organization_id": str(caller.organization.pk), "permissions": allowed, "roles": roles})
