"""Operators' view of access control: roles, policies, API keys and object grants.

Writes go through the services, so that every change is validated as in the API and leaves its audit
event (which also bumps the organization's access version):

- Role: custom roles are created, changed and deleted with role_create / role_update / role_delete; system
  roles are read-only (no change, no delete). The roles service checks that the author holds what the role
  gives (no escalation); a platform operator acts for the platform, not as a member, so the admin passes an
  owner-level caller (`_operator_caller`), the check's own exemption for owners.
- Policy: policy_create / policy_update (caller None: the system, as the service allows) / policy_delete;
  the condition is compiled in the form's clean so that the CEL parser's message shows on the field.
- ApiKey: listed and read, never added (a key's secret is shown once, by the API or the organization's
  page) nor edited here; the secret hashes are never shown; "Revoke selected keys" calls apikey_revoke.
- Object grants: read-only lists (granting is the organization's own business: API or page).

A form is checked by running its service call in a savepoint that is then rolled back (`_dry_run`): the
service's refusals show on the form like any validation error instead of failing the save. The rolled back
call leaves nothing behind but a bump of the organization's access version (a cache miss).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps.core.errors import ApplicationError
from apps.orgs.roles import SystemRole
from apps.rbac import catalog, conditions
from apps.rbac.models import ApiKey, Policy, Role, TeamObjectGrant, UserObjectGrant
from apps.rbac.selectors import MemberAccess, role_permissions
from apps.rbac.services import apikeys as apikey_services
from apps.rbac.services import policies as policy_services
from apps.rbac.services import roles as role_services
from apps.rbac.services.decisions import Caller

# --- helpers ------------------------------------------------------------------------------------------------


class _DryRun(Exception):
    """Raised to roll back a service call made only to check a form."""


def _dry_run(form: forms.BaseForm, call: Callable[[], Any], fields: dict[str, str] | None = None) -> None:
    """Run `call` (a service) and roll it back: its refusals become the form's errors."""
    fields = fields or {}
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        pass
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                field = fields.get(field, field)
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc)
    except ApplicationError as exc:  # a taken name (409) belongs on the name field
        field = "name" if exc.code.endswith("_name_taken") and "name" in form.fields else None
        form.add_error(field, ValidationError(exc.detail, code=exc.code))


def _operator_caller(user: Any, organization: Any) -> Caller:
    """A platform operator acting on an organization's roles: owner-level, as the escalation check knows it."""
    return Caller(type="user", id=str(user.pk), organization=organization, email=getattr(user, "email", ""),
                  access=MemberAccess(membership_id=uuid.uuid4(), role=SystemRole.OWNER, roles=(),
                                      role_permissions={}, permissions=frozenset(), team_ids=frozenset()))


def _with_request(form_class: type[forms.BaseForm], request: HttpRequest) -> type[forms.BaseForm]:
    """The admin's form class (a fresh class each request) with the request at hand, for the services' actor."""
    form_class.admin_request = request  # type: ignore[attr-defined]
    return form_class


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- roles ----------------------------------------------------------------------------------------------------


class RoleAdminForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                            help_text="The role's own permissions; it also holds its parent's.")

    class Meta:
        model = Role
        fields = ("organization", "name", "description", "permissions", "parent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "permissions" in self.fields:  # absent from a read-only view (system roles)
            self.fields["permissions"].choices = [(p.code, f"{p.code}: {p.description}")
                                                  for p in catalog.all_permissions()]
        if "organization" in self.fields:
            self.fields["organization"].required = True  # custom roles only: system roles come with the product
        organization_id = None if self.instance._state.adding else self.instance.organization_id
        if "parent" in self.fields:
            parent = self.fields["parent"]
            if organization_id is not None:
                parent.queryset = Role.objects.filter(
                    Q(organization__isnull=True) | Q(organization_id=organization_id)).exclude(pk=self.instance.pk)
            parent.help_text = "A system role or a custom role of the same organization."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        organization = data.get("organization") if "organization" in self.fields else self.instance.organization
        parent = data.get("parent")
        if parent is not None and organization is not None and parent.organization_id not in (None, organization.pk):
            self.add_error("parent", ValidationError("Not a role of this organization.", code="unknown_role"))
        if self.errors or organization is None:
            return data
        request = self.admin_request  # type: ignore[attr-defined]
        values = {"name": data.get("name"), "description": data.get("description") or "",
                  "permissions": list(data.get("permissions") or []), "parent": parent.name if parent else None}
        caller = _operator_caller(request.user, organization)
        if not self.instance._state.adding:  # (a new row has its uuid already)
            _dry_run(self, lambda: role_services.role_update(role=self.instance, actor=request.user, caller=caller,
                                                             data=values))
        else:
            _dry_run(self, lambda: role_services.role_create(organization=organization, actor=request.user,
                                                             caller=caller, **values))
        return data


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleAdminForm
    list_display = ("name", "organization", "is_system", "parent", "updated_at")
    list_filter = (("organization", admin.EmptyFieldListFilter),)
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization", "parent")
    ordering = ("organization__name", "name")
    readonly_fields = ("effective_permissions", "created_at", "updated_at")

    @admin.display(boolean=True, description="system")
    def is_system(self, obj: Role) -> bool:
        return obj.is_system

    @admin.display(description="effective permissions")
    def effective_permissions(self, obj: Role) -> str:
        return "—" if obj._state.adding else ", ".join(sorted(role_permissions(obj)[0]))

    def get_form(self, request: HttpRequest, obj: Role | None = None, change: bool = False, **kwargs: Any) -> Any:
        return _with_request(super().get_form(request, obj, change=change, **kwargs), request)

    def get_readonly_fields(self, request: HttpRequest, obj: Role | None = None) -> Any:
        if obj is not None:  # a role stays in its organization
            return (*self.readonly_fields, "organization")
        return self.readonly_fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one role at a time, through role_delete (it may be in use)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_system)

    def has_delete_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_system)

    def save_model(self, request: HttpRequest, obj: Role, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        parent = data.get("parent")
        values = {"name": data["name"], "description": data.get("description") or "",
                  "permissions": list(data.get("permissions") or []), "parent": parent.name if parent else None}
        if change:
            original = Role.objects.get(pk=obj.pk)
            saved = role_services.role_update(role=original, actor=request.user, data=values,
                                              caller=_operator_caller(request.user, original.organization))
        else:
            organization = data["organization"]
            saved = role_services.role_create(organization=organization, actor=request.user,
                                              caller=_operator_caller(request.user, organization), **values)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding, obj._state.db = False, saved._state.db

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Django's confirmation page, with the service's rule of what keeps a role (role_usage) as the protected
        list: its holders, teams, live invitations, default role, child roles. (Accepted and revoked invitations,
        which Django's collector would also list, are repointed by role_delete.)"""
        deleted, counts, perms_needed, _ = super().get_deleted_objects(objs, request)
        protected = [f"{role.name}: used by {n} {what.replace('_', ' ')}" for role in objs
                     for what, n in role_services.role_usage(role=role).items() if n]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        role_services.role_delete(role=obj, actor=request.user)


# --- policies -------------------------------------------------------------------------------------------------


class PolicyAdminForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = ("organization", "name", "description", "effect", "priority", "actions", "resources", "subjects",
                  "condition", "enabled", "expires_at")

    def clean_condition(self) -> str:
        condition = (self.cleaned_data.get("condition") or "").strip()
        if condition:
            try:
                conditions.compile_condition(condition)
            except conditions.InvalidCondition as exc:
                raise ValidationError(str(exc), code="invalid_condition") from None
        return condition

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        organization = data.get("organization") if "organization" in self.fields else self.instance.organization
        if self.errors or organization is None:
            return data
        request = self.admin_request  # type: ignore[attr-defined]
        values = {name: data.get(name) for name in policy_services.POLICY_FIELDS if name in data}
        if not self.instance._state.adding:  # (a new row has its uuid already)
            changed = {name: value for name, value in values.items() if name in self.changed_data}
            _dry_run(self, lambda: policy_services.policy_update(policy=self.instance, actor=request.user,
                                                                 caller=None, data=changed))
        else:
            _dry_run(self, lambda: policy_services.policy_create(organization=organization, actor=request.user,
                                                                 caller=None, **values))
        return data


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyAdminForm
    list_display = ("name", "organization", "effect", "priority", "enabled", "expires_at")
    list_filter = ("effect", "enabled")
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    ordering = ("organization__name", "-priority", "name")
    readonly_fields = ("created_by", "created_at", "updated_at")

    def get_form(self, request: HttpRequest, obj: Policy | None = None, change: bool = False, **kwargs: Any) -> Any:
        return _with_request(super().get_form(request, obj, change=change, **kwargs), request)

    def get_readonly_fields(self, request: HttpRequest, obj: Policy | None = None) -> Any:
        return (*self.readonly_fields, "organization") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Policy, form: forms.ModelForm, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in policy_services.POLICY_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in values.items() if name in form.changed_data}
            saved = policy_services.policy_update(policy=Policy.objects.get(pk=obj.pk), actor=request.user,
                                                  caller=None, data=changed)
        else:
            saved = policy_services.policy_create(organization=form.cleaned_data["organization"], actor=request.user,
                                                  caller=None, **values)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding, obj._state.db = False, saved._state.db

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        policy_services.policy_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Policy]) -> None:
        for policy in queryset:
            policy_services.policy_delete(policy=policy, actor=request.user)


# --- API keys -------------------------------------------------------------------------------------------------


@admin.action(description="Revoke selected keys", permissions=["revoke"])
def revoke_keys(modeladmin: ApiKeyAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
    revoked = 0
    for key in queryset.filter(revoked_at__isnull=True):
        apikey_services.apikey_revoke(key=key, actor=request.user)
        revoked += 1
    modeladmin.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Read-only; never a secret. Keys are created where their secret can be shown once (API, page)."""

    list_display = ("name", "organization", "prefix", "scopes", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("=prefix", "name", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    exclude = ("secret_hash", "previous_secret_hash")
    fields = ("organization", "name", "prefix", "scopes", "allowed_ips", "expires_at", "previous_valid_until",
              "last_used_at", "last_used_ip", "revoked_at", "created_by", "created_at", "updated_at")
    readonly_fields = fields
    actions = [revoke_keys]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the row stays for the audit trail

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("rbac.change_apikey")


# --- object grants --------------------------------------------------------------------------------------------


@admin.register(UserObjectGrant)
class UserObjectGrantAdmin(_ReadOnlyAdmin):
    list_display = ("organization", "user", "permission_code", "content_type", "object_pk", "granted_by",
                    "created_at")
    search_fields = ("=object_pk", "user__email", "organization__name", "permission__codename")
    list_select_related = ("organization", "user", "permission", "content_type", "granted_by")

    @admin.display(description="permission", ordering="permission__codename")
    def permission_code(self, obj: UserObjectGrant) -> str:
        return obj.permission.codename


@admin.register(TeamObjectGrant)
class TeamObjectGrantAdmin(_ReadOnlyAdmin):
    list_display = ("organization", "team", "permission_code", "content_type", "object_pk", "granted_by",
                    "created_at")
    search_fields = ("=object_pk", "team__name", "organization__name", "permission__codename")
    list_select_related = ("organization", "team", "permission", "content_type", "granted_by")

    @admin.display(description="permission", ordering="permission__codename")
    def permission_code(self, obj: TeamObjectGrant) -> str:
        return obj.permission.codename
