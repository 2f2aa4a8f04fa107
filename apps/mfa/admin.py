"""Operators see every user's factors (never a seed, number or code) and can reset them for recovery."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin import UserAdmin
from apps.mfa.models import BackupCodeDevice, HOTPDevice, MessageDevice, TOTPDevice, WebAuthnCredential
from apps.mfa.services.factors import mfa_reset


class FactorAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    list_filter = ("confirmed",)
    search_fields = ("user__email", "name")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    readonly_fields = fields
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


for model in (TOTPDevice, HOTPDevice, BackupCodeDevice, WebAuthnCredential):
    admin.site.register(model, FactorAdmin)


@admin.register(MessageDevice)
class MessageDeviceAdmin(FactorAdmin):
    list_display = ("user", "channel", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("channel", "confirmed")


@admin.action(description="Reset second factors (account recovery; the user is e-mailed)",
              permissions=["change"])
def reset_second_factors(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        removed = mfa_reset(user=user, actor=request.user)
        modeladmin.message_user(request, f"{user.email}: {removed} factor(s) removed.", messages.SUCCESS)


UserAdmin.actions = [*UserAdmin.actions, reset_second_factors]
