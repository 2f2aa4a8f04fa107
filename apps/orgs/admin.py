"""Operators' view of tenants: organizations with member counts and their members inline."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from apps.audit.services import AUDIT_SETTING_EVENTS, audit_settings_change_record, emit
from apps.orgs.models import Domain, Invitation, Membership, MembershipStatus, Organization, Team
from apps.orgs.roles import SystemRole, system_role_id
from apps.rbac.models import Role


def _roles_of(organization_id: object) -> QuerySet:
    """The roles an organization's members, teams and default role may hold: the system roles and its own
    custom roles, never another tenant's."""
    from apps.rbac.selectors import roles_for_organization

    return roles_for_organization(organization_id=organization_id).order_by(
        F("organization_id").asc(nulls_first=True), "name")


def _role_field(db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """Restrict a `role` / `default_role` choice to the roles of the organization being edited (set on the
    request by get_form / get_formset: ModelAdmin instances are shared between requests)."""
    if db_field.name in ("role", "default_role"):
        kwargs["queryset"] = _roles_of(getattr(request, "_plinto_role_organization_id", None))


class MembershipFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """The owner invariant holds in the admin too: some active member stays owner."""
        super().clean()
        owner = system_role_id(SystemRole.OWNER)
        kept = [form.cleaned_data for form in self.forms if form.cleaned_data]
        if kept and not any(data.get("role") is not None and data["role"].pk == owner
                            and data.get("status") == MembershipStatus.ACTIVE for data in kept):
            raise ValidationError("An organization keeps at least one active owner.", code="last_owner")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    fk_name = "organization"
    fields = ("user", "role", "status", "joined_at")
    readonly_fields = ("user", "joined_at")
    extra = 0
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # members join through invitations, domains or the API: their rules live there

    def get_formset(self, request: HttpRequest, obj: Organization | None = None, **kwargs: Any) -> Any:
        request._plinto_role_organization_id = obj.pk if obj is not None else None  # type: ignore[attr-defined]
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _role_field(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.action(description="Restore deleted organizations (within the grace period)", permissions=["change"])
def restore_organizations(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    from apps.orgs.services.organizations import organization_restore

    restored = sum(organization_restore(organization=org, actor=request.user) for org in queryset)
    modeladmin.message_user(request, f"{restored} organization(s) restored.")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "member_count", "mfa_required", "created_at", "deleted_at")
    list_filter = ("mfa_required", "audit_sink", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug", "memberships__user__email")
    readonly_fields = ("id", "created_at", "updated_at", "deleted_at")
    inlines = [MembershipInline]
    actions = [restore_organizations]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(
            _members=Count("memberships", filter=Q(memberships__status="active"), distinct=True))

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Organization) -> int:
        return obj._members  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # deletion is soft, through the API, with its audit event

    def get_form(self, request: HttpRequest, obj: Organization | None = None, change: bool = False,
                 **kwargs: Any) -> Any:
        request._plinto_role_organization_id = obj.pk if obj is not None else None  # type: ignore[attr-defined]
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _role_field(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        """An operator's role change is a member.role_changed like any other (the services are not used:
        their rules, such as "only owners make owners", are for members, not for operators)."""
        before = {f.instance.pk: f.initial.get("role") for f in formset.forms if f.instance.pk}
        super().save_formset(request, form, formset, change)
        for membership in Membership.objects.filter(pk__in=before).select_related("role", "user"):
            old_role_id = before[membership.pk]
            if old_role_id is None or str(old_role_id) == str(membership.role_id):
                continue
            old = Role.objects.filter(pk=old_role_id).values_list("name", flat=True).first()
            emit(action="member.role_changed", actor=request.user, organization_id=membership.organization_id,
                 target=membership.user, changes={"role": [old, membership.role.name]})

    def save_model(self, request: HttpRequest, obj: Organization, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:  # audit_sink and audit_retention_days are staff-only: record who changed them
            audit_settings_change_record(actor=request.user, organization_id=obj.pk, changes={
                field: [form.initial.get(field), form.cleaned_data[field]]
                for field in AUDIT_SETTING_EVENTS if field in form.changed_data})


class TeamAdminForm(ModelForm):
    def clean(self) -> dict[str, Any]:
        """A new team's organization is only known once posted: its role must be one of that organization's."""
        data = super().clean()
        organization, role = data.get("organization") or self.instance_organization(), data.get("role")
        if role is not None and organization is not None and role.organization_id not in (None, organization.pk):
            self.add_error("role", ValidationError("Not a role of this organization.", code="unknown_role"))
        return data

    def instance_organization(self) -> Organization | None:
        return self.instance.organization if self.instance.organization_id else None


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ("name", "organization", "role", "created_at")
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization",)

    def get_form(self, request: HttpRequest, obj: Team | None = None, change: bool = False, **kwargs: Any) -> Any:
        # a new team: no organization yet, so only the system roles are offered (the form checks any other)
        organization_id = obj.organization_id if obj is not None else None
        request._plinto_role_organization_id = organization_id  # type: ignore[attr-defined]
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _role_field(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> tuple[str, ...]:
        # A team never moves to another tenant: its members belong to its organization.
        return ("organization",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Team, form: ModelForm, change: bool) -> None:
        """Operators' team edits are audited like members' (team.created / team.updated)."""
        def name_of(role_id: object) -> str | None:
            return Role.objects.filter(pk=role_id).values_list("name", flat=True).first() if role_id else None

        changes = {field: [form.initial.get(field), form.cleaned_data.get(field)] for field in form.changed_data
                   if field in ("name", "description", "role")}
        super().save_model(request, obj, form, change)
        if not change:
            emit(action="team.created", actor=request.user, organization_id=obj.organization_id, target=obj,
                 metadata={"name": obj.name, "role": obj.role.name if obj.role_id else None})
        elif changes:
            if "role" in changes:
                changes["role"] = [name_of(changes["role"][0]), obj.role.name if obj.role_id else None]
            emit(action="team.updated", actor=request.user, organization_id=obj.organization_id, target=obj,
                 changes=changes)

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        emit(action="team.deleted", actor=request.user, organization_id=obj.organization_id, target=obj,
             metadata={"name": obj.name})
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for team in queryset:
            self.delete_model(request, team)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "status", "expires_at", "created_at")
    list_filter = ("status",)
    search_fields = ("email", "organization__name", "organization__slug")
    exclude = ("token_hash",)
    readonly_fields = [f.name for f in Invitation._meta.fields if f.name != "token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "organization", "verified_at", "auto_join")
    search_fields = ("domain", "organization__name")
    readonly_fields = ("verification_token", "verified_at", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Domain | None = None) -> tuple[str, ...]:
        # A verified domain moved to another tenant would auto-join its users there.
        return (*self.readonly_fields, "organization") if obj is not None else self.readonly_fields
