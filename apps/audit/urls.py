from django.urls import path

from apps.audit import apis, apis_export

urlpatterns = [
    path("audit/event-types", apis.EventTypeListApi.as_view(), name="audit-event-types"),
    path("organizations/<str:org_id>/audit-logs", apis.AuditLogListApi.as_view(), name="audit-logs"),
    path("organizations/<str:org_id>/audit-logs/verify", apis.AuditLogVerifyApi.as_view(), name="audit-logs-verify"),
    path("organizations/<str:org_id>/audit-logs/stats", apis.AuditLogStatsApi.as_view(), name="audit-logs-stats"),
    path("organizations/<str:org_id>/audit-logs/export", apis_export.AuditLogExportApi.as_view(),
         name="audit-logs-export"),
    path("audit-logs/<str:event_id>", apis.AuditLogDetailApi.as_view(), name="audit-log"),
]
