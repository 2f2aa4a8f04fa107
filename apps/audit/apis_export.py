"""POST /api/v1/organizations/{org_id}/audit-logs/export: the organization's trail as a streamed file.

Route (apps/audit/urls.py):
    path("organizations/<str:org_id>/audit-logs/export", apis_export.AuditLogExportApi.as_view(),
         name="audit-logs-export"),
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.audit.apis import FilterSerializer, _filters
from apps.audit.exports import FORMATS, audit_log_export, export_response
from apps.audit.perms import AUDIT_READ
from apps.audit.selectors import event_list
from apps.rbac.access import HasPermission


class AnyAcceptNegotiation(DefaultContentNegotiation):
    """The body is a file whose type the `format` field chooses: an `Accept: text/csv` must not be a 406.
    Errors are problem+json whatever the Accept header, as everywhere else."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class AuditLogExportApi(APIView):
    content_negotiation_class = AnyAcceptNegotiation
    permission_classes = [IsAuthenticated, HasPermission(POST=AUDIT_READ)]

    class InputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=FORMATS)
        filters = FilterSerializer(required=False)

        def validate_filters(self, value: dict[str, Any]) -> dict[str, Any]:
            # A misspelt filter would silently export everything: refuse what the list does not know.
            unknown = sorted(set(self.initial_data.get("filters") or {}) - set(FilterSerializer().fields))
            if unknown:
                raise serializers.ValidationError(f"Unknown filters: {', '.join(unknown)}.")
            return value

    @extend_schema(
        operation_id="audit_logs_export",
        request=InputSerializer,
        responses={(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=(
            "An attachment: CSV (one row per event; cells a spreadsheet would run as formulas start with a "
            "single quote) or JSON Lines (one event a line, shaped like GET /audit-logs/{id}). The export "
            "itself is recorded as audit.exported.")) for media_type in ("text/csv", "application/x-ndjson")},
        summary="Download the organization's audit trail, newest first (needs audit:read)",
    )
    def post(self, request: Request, org_id: str) -> StreamingHttpResponse:
        membership = request.membership
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        filters = payload.validated_data.get("filters") or {}
        export = audit_log_export(
            actor=request.user, organization=membership.organization,
            events=event_list(organization_id=membership.organization_id, filters=_filters(filters)),
            format=payload.validated_data["format"], filters=filters,
        )
        return export_response(request, export)
