from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.catalog import event_type_list
from apps.audit.models import AuditEvent
from apps.audit.perms import AUDIT_READ
from apps.audit.selectors import EventFilters, chain_verify, event_get, event_list, event_page, event_stats
from apps.core.errors import PermissionDenied, ResourceNotFound, ValidationFailed
from apps.core.pagination import limit_from
from apps.orgs.selectors import organization_list_for_user
from apps.rbac.access import HasPermission, request_api_key


class EventTypeListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        description = serializers.CharField()
        fields = serializers.ListField(child=serializers.CharField())
        subscribable = serializers.BooleanField()
        realtime = serializers.BooleanField()

    @extend_schema(operation_id="audit_event_types_list", responses={200: OutputSerializer(many=True)},
                   summary="The catalog of every event type Plinto emits")
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(event_type_list(), many=True).data)


class AuditEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    outcome = serializers.CharField()
    actor = serializers.SerializerMethodField()
    organization_id = serializers.UUIDField(allow_null=True)
    target = serializers.SerializerMethodField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()
    changes = serializers.JSONField()
    metadata = serializers.JSONField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()

    def get_actor(self, event: AuditEvent) -> dict:
        return {"type": event.actor_type, "id": event.actor_id or None, "email": event.actor_email or None}

    def get_target(self, event: AuditEvent) -> dict | None:
        return {"type": event.target_type, "id": event.target_id} if event.target_type else None


class FilterSerializer(serializers.Serializer):
    action = serializers.CharField(max_length=100, required=False)
    actor_id = serializers.CharField(max_length=64, required=False)
    target_type = serializers.CharField(max_length=64, required=False)
    target_id = serializers.CharField(max_length=64, required=False)
    outcome = serializers.ChoiceField(choices=["success", "failure"], required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, data: dict) -> dict:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return data


def _filters(data: dict) -> EventFilters:
    return EventFilters(**{k: v for k, v in data.items() if k in EventFilters.__dataclass_fields__})


class AuditLogListApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=AUDIT_READ)]

    @extend_schema(parameters=[FilterSerializer], summary="An organization's audit trail, newest first "
                   "(needs audit:read)", responses={200: inline_serializer("AuditLogList", {
                       "results": AuditEventSerializer(many=True),
                       "next_cursor": serializers.CharField(allow_null=True)})})
    def get(self, request: Request, org_id: str) -> Response:
        membership = request.membership
        query = FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        cursor = request.query_params.get("cursor")
        if cursor is not None and not cursor.isdigit():
            raise ValidationFailed(errors=[{"field": "cursor", "detail": "Not a cursor from this API.",
                                            "code": "invalid"}])
        events = event_list(organization_id=membership.organization_id, filters=_filters(query.validated_data))
        rows, next_seq = event_page(events, limit=limit_from(request), before_seq=int(cursor) if cursor else None)
        return Response({"results": AuditEventSerializer(rows, many=True).data,
                         "next_cursor": str(next_seq) if next_seq else None})


class AuditLogDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=AUDIT_READ)]
    object: AuditEvent

    def resolve_organization(self, request: Request, event_id: str) -> tuple[object, None]:
        key = request_api_key(request)
        mine = ([key.organization_id] if key else
                [m.organization_id for m in organization_list_for_user(user=request.user)])
        try:
            event = event_get(event_id=event_id, organization_ids=mine)
        except DjangoValidationError:
            event = None
        if event is None:
            raise ResourceNotFound("No such event.")
        self.object = event
        return event.organization_id, None  # the org's own rules (IP, MFA) apply too

    def access_error(self, exc: Exception) -> Exception | None:
        # An event of an organization I may not audit does not exist for me.
        return ResourceNotFound("No such event.") if isinstance(exc, PermissionDenied) else None

    @extend_schema(responses={200: AuditEventSerializer}, summary="One event of an organization I may audit")
    def get(self, request: Request, event_id: str) -> Response:
        return Response(AuditEventSerializer(self.object).data)


class AuditLogVerifyApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=AUDIT_READ)]

    @extend_schema(summary="Recompute the organization's hash chain", responses={200: inline_serializer(
        "AuditVerification", {"ok": serializers.BooleanField(), "events_checked": serializers.IntegerField(),
                              "first_broken_id": serializers.UUIDField(allow_null=True)})})
    def get(self, request: Request, org_id: str) -> Response:
        result = chain_verify(chain_key=str(request.membership.organization_id))
        return Response({"ok": result.ok, "events_checked": result.events_checked,
                         "first_broken_id": result.first_broken_id, "reason": result.reason or None})


class AuditLogStatsApi(APIView):
    permission_classes = [IsAuthenticated, HasPermission(GET=AUDIT_READ)]

    @extend_schema(parameters=[FilterSerializer], summary="Counts by action, outcome and day",
                   responses={200: inline_serializer("AuditStats", {"total": serializers.IntegerField()})})
    def get(self, request: Request, org_id: str) -> Response:
        query = FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(event_stats(organization_id=request.membership.organization_id,
                                    filters=_filters(query.validated_data)))
