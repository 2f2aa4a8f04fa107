from django.contrib import admin
from django.http import HttpRequest

from apps.audit.models import AuditCheckpoint, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The operators' platform-wide, read-only view of the trail."""

    list_display = ("occurred_at", "action", "outcome", "actor_type", "actor_email", "organization_id",
                    "target_type", "target_id", "ip")
    list_filter = ("action", "outcome", "actor_type", "occurred_at", "organization_id")
    search_fields = ("=actor_id", "actor_email", "=organization_id", "=target_id", "=request_id", "action")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-seq")
    show_full_result_count = False  # counting a large trail on every page is slow

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEvent | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(admin.ModelAdmin):
    """Where each pruned chain now starts: verification resumes from the latest checkpoint."""

    list_display = ("chain_key", "seq", "events_pruned", "created_at")
    search_fields = ("=chain_key",)

    def get_readonly_fields(self, request: HttpRequest, obj: AuditCheckpoint | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditCheckpoint | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditCheckpoint | None = None) -> bool:
        return False
