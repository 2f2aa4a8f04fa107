"""Access control pages of an organization, beside its other pages under /orgs/<org_id>/ (apps/rbac/urls_pages.py).

/orgs/<org_id>/roles/                  roles:read: system and custom roles; create one (roles:manage)
/orgs/<org_id>/roles/<role_id>/        one role: change or delete a custom role (roles:manage)
/orgs/<org_id>/policies/               policies:read: policies; create one (policies:manage); explain a decision
/orgs/<org_id>/policies/<policy_id>/   one policy: change or delete it (policies:manage)
/orgs/<org_id>/api-keys/               apikeys:read: keys (never a secret); create, rotate, revoke (apikeys:manage)
/orgs/<org_id>/grants/                 grants:manage: object grants; grant, revoke

The organization pages' own rules (apps.orgs.pages, whose org_page and helpers these reuse): every request
passes `org_access` (a stranger gets a 404, a member without the page's permission a 403 page naming it),
every POST asks again for its action's permission (the API's codes), then one service call, the same as the
API's. A refused action is shown on the page with its status (403, 409…); form errors answer 400; a done
action redirects (post/redirect/get), except creating or rotating a key: that answer is the only place its
secret ever appears (`Cache-Control: no-store`), so it is rendered, never redirected to.

Creating and rotating a key also need a recent sign-in, as in the API (apps.accounts.apis
.require_recent_authentication, which only knows access tokens): for a browser, the sign-in recorded on its
session row (apps.accounts.services.browser) or a re-authentication on allauth's page, within
REAUTHENTICATION_WINDOW_SECONDS. Otherwise the page says so, with a link to re-authenticate.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from apps.accounts.errors import ReauthenticationRequired
from apps.core.errors import ApplicationError
from apps.orgs import selectors as org_selectors
from apps.orgs.errors import MemberNotFound
from apps.orgs.models import Membership, Organization
from apps.orgs.pages import LinesField, _act, _capabilities, _done, active_organization, org_page
from apps.orgs.services import teams as team_services
from apps.rbac import catalog, perms, resources
from apps.rbac.access import request_facts
from apps.rbac.errors import ApiKeyNotFound, PolicyNameTaken, RoleNameTaken
from apps.rbac.models import ApiKey, Policy, PolicyEffect, Role
from apps.rbac.selectors import roles_for_organization
from apps.rbac.services import apikeys as apikey_services
from apps.rbac.services import grants as grant_services
from apps.rbac.services import policies as policy_services
from apps.rbac.services import roles as role_services
from apps.rbac.services.decisions import decide, user_caller

GRANTS_PAGE_SIZE = 100
OVERLAP_CHOICES = [(0, "Stop the current secret now"), (3600, "Keep the current secret for 1 hour"),
                   (86400, "Keep the current secret for 1 day"), (7 * 86400, "Keep the current secret for 7 days")]


# --- the catalog as choices ---------------------------------------------------------------------------


def _catalog_choices() -> list[tuple[str, str]]:
    return [(p.code, p.code) for p in catalog.all_permissions()]


def _catalog_optgroups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Codes grouped by resource, for a <select> (optgroups)."""
    return [(resource, [(code, code) for code, _ in codes]) for resource, codes in _catalog_groups()]


def _catalog_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """[(resource, [(code, description)…])…], for the checkboxes of roles and key scopes."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for permission in catalog.all_permissions():
        groups.setdefault(permission.resource, []).append((permission.code, permission.description))
    return sorted(groups.items())


# --- forms: the shape of the input; the rules are the services' ------------------------------------------


class DateTimeLocalInput(forms.DateTimeInput):
    """A date-time to the second (a stored value shown again is the same value: no change)."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M:%S", attrs={"step": "1"})


def _code_input() -> forms.TextInput:
    return forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"})


class RoleForm(forms.Form):
    name = forms.CharField(max_length=50, widget=_code_input(),
                           help_text="2–50 lowercase letters, digits, “-” or “_”; not a system role's name.")
    description = forms.CharField(max_length=500, required=False)
    permissions = forms.MultipleChoiceField(required=False, label="Permissions",
                                            help_text="The role's own permissions; it also holds its parent's. "
                                                      "You can only give permissions you hold yourself.")
    parent = forms.ChoiceField(required=False, label="Inherits from")

    def __init__(self, *args: Any, organization: Organization, role: Role | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = _catalog_choices()
        candidates = sorted((r for r in roles_for_organization(organization_id=organization.pk)
                             if role is None or r.pk != role.pk), key=lambda r: (not r.is_system, r.name))
        self.fields["parent"].choices = [("", "No parent"), *(
            (r.name, f"{r.name} (system role)" if r.is_system else r.name) for r in candidates)]


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=500, required=False)
    effect = forms.ChoiceField(choices=PolicyEffect.choices, initial=PolicyEffect.ALLOW,
                               help_text="A deny wins over any allow, whatever the priorities.")
    priority = forms.IntegerField(min_value=0, max_value=policy_services.MAX_PRIORITY, initial=0,
                                  help_text=f"0–{policy_services.MAX_PRIORITY}; orders the trace and names the "
                                            "reason of a decision.")
    actions = LinesField(max_items=policy_services.MAX_ACTIONS, label="Permissions",
                         help_text="Permission patterns, one a line: members:invite, members:* or *:read.")
    resources = LinesField(required=False, max_items=policy_services.MAX_RESOURCES, label="Resources",
                           help_text="type:id patterns, one a line (team:*, team:<id>). Empty: any resource.")
    subjects = LinesField(required=False, max_items=policy_services.MAX_SUBJECTS, label="Subjects",
                          help_text="user:<id>, team:<id>, role:<name>, apikey:<id> or *, one a line. "
                                    "Empty: everyone.")
    condition = forms.CharField(required=False, max_length=2000, label="Condition",
                                widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false",
                                                             "autocapitalize": "none"}),
                                help_text="A CEL expression over subject, resource, request and organization, "
                                          "such as request.mfa_age >= 0 && request.mfa_age < 900. Empty: always.")
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    expires_at = forms.DateTimeField(required=False, label="Expires (UTC)", widget=DateTimeLocalInput(),
                                     help_text="Empty: never.")

    @staticmethod
    def initial_of(policy: Policy) -> dict[str, Any]:
        return {name: getattr(policy, name) for name in policy_services.POLICY_FIELDS}


class EvaluateForm(forms.Form):
    permission = forms.ChoiceField(choices=[])
    resource_type = forms.ChoiceField(required=False, label="Resource type")
    resource_id = forms.CharField(required=False, max_length=100, label="Resource id", widget=_code_input())
    subject = forms.CharField(required=False, max_length=254, label="Subject",
                              help_text="A member's e-mail address or user id. Empty: you.",
                              widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))
    ip = forms.GenericIPAddressField(required=False, label="IP address", help_text="Empty: yours.")
    time = forms.DateTimeField(required=False, label="Time (UTC)", widget=DateTimeLocalInput(),
                               help_text="Empty: now.")
    mfa_age = forms.IntegerField(required=False, min_value=-1, label="Seconds since the second factor",
                                 help_text="-1: no second factor in the session. Empty: this session's.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["permission"].choices = _catalog_optgroups()
        self.fields["resource_type"].choices = [("", "The organization itself"),
                                                *((name, name) for name in resources.names())]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("resource_type")) != bool(data.get("resource_id")):
            self.add_error("resource_id", ValidationError("Give both the resource's type and its id, or neither.",
                                                          code="incomplete"))
        return data


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, such as “CI deploy”.")
    scopes = forms.MultipleChoiceField(label="Scopes", help_text="What the key may do; only permissions you hold.")
    expires_at = forms.DateTimeField(required=False, label="Expires (UTC)", widget=DateTimeLocalInput(),
                                     help_text="Empty: never.")
    allowed_ips = LinesField(required=False, max_items=apikey_services.MAX_ALLOWED_IPS, label="Allowed networks",
                             help_text="Addresses or CIDRs (203.0.113.0/24), one a line. Empty: any address.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = _catalog_choices()


class GrantForm(forms.Form):
    member_email = forms.EmailField(required=False, max_length=254, label="Member",
                                    help_text="The e-mail address of a member…",
                                    widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    team = forms.ChoiceField(required=False, label="…or a team")
    permission = forms.ChoiceField(choices=[])
    resource = forms.ChoiceField(label="On", help_text="The one object the permission applies to.")

    def __init__(self, *args: Any, organization: Organization, objects: dict[str, list[tuple[str, str]]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((str(t.pk), t.name) for t in
                                                   team_services.team_list(organization=organization)
                                                   .order_by("name"))]
        self.fields["permission"].choices = _catalog_optgroups()
        self.fields["resource"].choices = [
            (kind, [(f"{kind}:{pk}", label) for pk, label in rows]) for kind, rows in objects.items() if rows]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("member_email")) == bool(data.get("team")):
            self.add_error("member_email", ValidationError("Choose a member or a team (one of them).",
                                                           code="subject"))
        return data


def _service_errors(form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: on its field (or the alias of a dotted API field), else
    on the form."""
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field = aliases.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- rendering --------------------------------------------------------------------------------------------


def _render(request: HttpRequest, template: str, membership: Membership, context: dict[str, Any],
            error: ApplicationError | None = None, *, status: int | None = None) -> HttpResponse:
    """As apps.orgs.pages._render, with what these pages also offer (the manage permissions)."""
    caller = user_caller(user=request.user, organization=membership.organization)
    facts = request_facts(request)
    can = _capabilities(request, membership)
    for name, permission in (("manage_roles", perms.ROLES_MANAGE), ("manage_policies", perms.POLICIES_MANAGE),
                             ("manage_apikeys", perms.APIKEYS_MANAGE)):
        can[name] = decide(caller=caller, permission=permission, facts=facts).allowed
    if error is not None:
        context["error"], context["error_code"], status = error.detail, error.code, status or error.status
    return render(request, template, {
        "membership": membership, "organization": membership.organization, "can": can,
        **active_organization(request), **context,
    }, status=status or 200)


def _action(request: HttpRequest) -> str | None:
    return request.POST.get("action") if request.method == "POST" else None


# --- /orgs/<org_id>/roles/ and /orgs/<org_id>/roles/<role_id>/ ---------------------------------------------


def _role_rows(organization: Organization) -> list[dict[str, Any]]:
    by_id = role_services.role_roles_by_id(organization_id=organization.pk)
    rows = []
    for role in role_services.role_list(organization=organization):
        parent = by_id.get(role.parent_id) if role.parent_id else None
        rows.append({"role": role, "parent": parent, "member_count": role.member_count,
                     "own": role_services.role_own_permissions(role),
                     "effective": role_services.role_effective_permissions(role, by_id=by_id)})
    return sorted(rows, key=lambda row: (not row["role"].is_system, row["role"].name))


def _role_data(form: RoleForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {"name": data["name"], "description": data["description"], "permissions": data["permissions"],
            "parent": data["parent"] or None}


def _role_write(form: RoleForm, write: Any) -> Role | None:
    """Run `write()` (a roles service call); its refusals land on the form (a taken name: 409) or raise."""
    try:
        return write()
    except RoleNameTaken as exc:
        form.add_error("name", ValidationError(exc.detail, code=exc.code))
    except ValidationError as exc:
        _service_errors(form, exc)
    return None


@org_page(perms.ROLES_READ)
def roles_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = RoleForm(prefix="role", organization=organization)
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    if action == "create":
        try:
            _act(request, membership, perms.ROLES_MANAGE)
            form = RoleForm(request.POST, prefix="role", organization=organization)
            if form.is_valid():
                role = _role_write(form, lambda: role_services.role_create(
                    organization=organization, actor=request.user, facts=request_facts(request),
                    caller=role_services.request_caller(request, organization), **_role_data(form)))
                if role is not None:
                    messages.success(request, f"The role {role.name} was created.")
                    return redirect("orgs_role", org_id=organization.pk, role_id=role.pk)
            status = 409 if form.has_error("name", RoleNameTaken.code) else 400
        except ApplicationError as exc:
            error = exc
    elif action is not None:
        status = 400
    return _render(request, "rbac/roles.html", membership, {
        "rows": _role_rows(organization), "form": form, "permission_groups": _catalog_groups(), "tab": "roles",
    }, error, status=status)


@org_page(perms.ROLES_READ)
def role_page(request: HttpRequest, membership: Membership, role_id: object) -> HttpResponse:
    """One role: its permissions and holders; a custom role can be changed or deleted (roles:manage)."""
    organization = membership.organization
    try:
        role = role_services.role_get(role_id=role_id)
    except ApplicationError:
        raise Http404("No such role.") from None
    if not role.is_system and role.organization_id != organization.pk:
        raise Http404("No such role.")
    by_id = role_services.role_roles_by_id(organization_id=organization.pk)
    parent = by_id.get(role.parent_id) if role.parent_id else None
    form = RoleForm(prefix="role", organization=organization, role=role, initial={
        "name": role.name, "description": role.description, "permissions": role.permissions,
        "parent": parent.name if parent else ""})
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    try:
        if action == "update":
            _act(request, membership, perms.ROLES_MANAGE)
            form = RoleForm(request.POST, prefix="role", organization=organization, role=role)
            if form.is_valid():
                updated = _role_write(form, lambda: role_services.role_update(
                    role=role, actor=request.user, data=_role_data(form), facts=request_facts(request),
                    caller=role_services.request_caller(request, organization)))
                if updated is not None:
                    messages.success(request, f"The role {updated.name} was saved.")
                    return redirect("orgs_role", org_id=organization.pk, role_id=role.pk)
            status = 409 if form.has_error("name", RoleNameTaken.code) else 400
        elif action == "delete":
            _act(request, membership, perms.ROLES_MANAGE)
            role_services.role_delete(role=role, actor=request.user)
            return _done(request, f"The role {role.name} was deleted.", "orgs_roles", membership)
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    return _render(request, "rbac/role.html", membership, {
        "role": role, "parent": parent, "form": form, "permission_groups": _catalog_groups(), "tab": "roles",
        "own": role_services.role_own_permissions(role),
        "effective": role_services.role_effective_permissions(role, by_id=by_id),
        "usage": role_services.role_usage(role=role) if not role.is_system else None,
        "holders": [m for m in org_selectors.member_list(organization=organization) if m.role_id == role.pk],
    }, error, status=status)


# --- /orgs/<org_id>/policies/ and /orgs/<org_id>/policies/<policy_id>/ --------------------------------------


def _policy_write(form: PolicyForm, write: Any) -> Policy | None:
    try:
        return write()
    except PolicyNameTaken as exc:
        form.add_error("name", ValidationError(exc.detail, code=exc.code))
    except ValidationError as exc:
        _service_errors(form, exc)
    return None


def _policy_status(form: PolicyForm) -> int:
    return 409 if form.has_error("name", PolicyNameTaken.code) else 400


def _trace_rows(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decision's trace as table rows: what was considered, whether it applied, why."""
    rows = []
    for entry in trace:
        kind = entry.get("kind", "")
        if kind == "role":
            what = entry["name"] + (f" (through {entry['via']})" if entry.get("via") not in (None, "member") else "")
        elif kind == "grant":
            what = f"{entry['permission']} on {entry['resource']} ({entry['via']})"
        elif kind == "policy":
            what = f"{entry['name']} ({entry['effect']}, priority {entry['priority']})"
        else:
            what = ""
        rows.append({"kind": kind, "what": what, "matched": bool(entry.get("matched")), "why": entry.get("why", "")})
    return rows


def _evaluate(request: HttpRequest, organization: Organization, form: EvaluateForm) -> dict[str, Any]:
    """The decision the evaluate form asks for, as the API's /policies/evaluate answers it."""
    data = form.cleaned_data
    subject = None
    if data["subject"]:
        user_id: object = data["subject"]
        if "@" in data["subject"]:
            member = (org_selectors.member_list(organization=organization)
                      .filter(user__email__iexact=data["subject"]).first())
            if member is None:
                raise MemberNotFound("No member of this organization has that e-mail address.")
            user_id = member.user_id
        subject = {"type": "user", "id": str(user_id)}
    caller = policy_services.evaluation_subject(organization=organization, subject=subject, user=request.user,
                                                api_key=None)
    context = {name: data[name] for name in ("ip", "time", "mfa_age") if data[name] not in (None, "")}
    facts = policy_services.evaluation_facts(defaults=request_facts(request), context=context)
    resource = {"type": data["resource_type"], "id": data["resource_id"]} if data["resource_type"] else None
    decision = policy_services.policy_evaluate(caller=caller, permission=data["permission"], resource=resource,
                                               facts=facts)
    return {"allowed": decision.allowed, "reason": decision.reason, "permission": decision.permission,
            "subject": caller.email or caller.id, "trace": _trace_rows(decision.trace)}


@org_page(perms.POLICIES_READ)
def policies_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Policies, highest priority first; create one (policies:manage); explain a decision (policies:read)."""
    organization = membership.organization
    form = PolicyForm(prefix="policy")
    evaluate_form = EvaluateForm(prefix="evaluate")
    evaluation: dict[str, Any] | None = None
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    try:
        if action == "create":
            _act(request, membership, perms.POLICIES_MANAGE)
            form = PolicyForm(request.POST, prefix="policy")
            if form.is_valid():
                policy = _policy_write(form, lambda: policy_services.policy_create(
                    organization=organization, actor=request.user, facts=request_facts(request),
                    caller=role_services.request_caller(request, organization), **form.cleaned_data))
                if policy is not None:
                    messages.success(request, f"The policy {policy.name} was created.")
                    return redirect("orgs_policy", org_id=organization.pk, policy_id=policy.pk)
            status = _policy_status(form)
        elif action == "evaluate":
            _act(request, membership, perms.POLICIES_READ)
            evaluate_form = EvaluateForm(request.POST, prefix="evaluate")
            if evaluate_form.is_valid():
                try:
                    evaluation = _evaluate(request, organization, evaluate_form)
                except ValidationError as exc:
                    _service_errors(evaluate_form, exc, {"resource.type": "resource_type"})
            if evaluate_form.errors:
                status = 400
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    return _render(request, "rbac/policies.html", membership, {
        "policies": policy_services.policy_list(organization=organization).order_by("-priority", "name"),
        "form": form, "evaluate_form": evaluate_form, "evaluation": evaluation, "tab": "policies",
    }, error, status=status)


@org_page(perms.POLICIES_READ)
def policy_page(request: HttpRequest, membership: Membership, policy_id: object) -> HttpResponse:
    organization = membership.organization
    try:
        policy = policy_services.policy_get(policy_id=policy_id, organization=organization)
    except ApplicationError:
        raise Http404("No such policy.") from None
    form = PolicyForm(prefix="policy", initial=PolicyForm.initial_of(policy))
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    try:
        if action == "update":
            _act(request, membership, perms.POLICIES_MANAGE)
            form = PolicyForm(request.POST, prefix="policy", initial=PolicyForm.initial_of(policy))
            if form.is_valid():
                changed = {name: form.cleaned_data[name] for name in form.changed_data}  # only what was edited
                updated = _policy_write(form, lambda: policy_services.policy_update(
                    policy=policy, actor=request.user, data=changed, facts=request_facts(request),
                    caller=role_services.request_caller(request, organization)))
                if updated is not None:
                    messages.success(request, f"The policy {updated.name} was saved.")
                    return redirect("orgs_policy", org_id=organization.pk, policy_id=policy.pk)
            status = _policy_status(form)
        elif action == "delete":
            _act(request, membership, perms.POLICIES_MANAGE)
            policy_services.policy_delete(policy=policy, actor=request.user)
            return _done(request, f"The policy {policy.name} was deleted.", "orgs_policies", membership)
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    return _render(request, "rbac/policy.html", membership, {"policy": policy, "form": form, "tab": "policies"},
                   error, status=status)


# --- /orgs/<org_id>/api-keys/ ---------------------------------------------------------------------------


def recently_authenticated(request: HttpRequest) -> bool:
    """Whether this browser proved who it is within REAUTHENTICATION_WINDOW_SECONDS: its sign-in (the
    session row's auth_time) or a re-authentication on allauth's page (recorded in the Django session)."""
    from allauth.account.internal.flows.login import get_authentication_records

    from apps.accounts.models import UserSession
    from apps.accounts.services.browser import SESSION_KEY
    from apps.accounts.services.sessions import session_recently_authenticated

    session_id = request.session.get(SESSION_KEY)
    row = UserSession.objects.filter(pk=session_id, user=request.user).first() if session_id else None
    if row is not None and session_recently_authenticated(row):
        return True
    window = settings.REAUTHENTICATION_WINDOW_SECONDS
    return any(record.get("reauthenticated") and time.time() - float(record.get("at", 0)) <= window
               for record in get_authentication_records(request, request.user))


def _require_recent_authentication(request: HttpRequest) -> None:
    if not recently_authenticated(request):
        raise ReauthenticationRequired("Creating or rotating an API key hands out its secret: confirm it is you "
                                       "(re-authenticate) first, then try again.")


def _key_of(organization: Organization, request: HttpRequest) -> ApiKey:
    """The organization's key named by the form (ApiKeyNotFound, 404, for any other id)."""
    key = apikey_services.apikey_get_for_caller(key_id=request.POST.get("key_id"), user=request.user)
    if key.organization_id != organization.pk:
        raise ApiKeyNotFound("No such API key.")
    return key


def _with_secret(response: HttpResponse) -> HttpResponse:
    """The one answer that carries a key's secret: neither cached nor stored."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@org_page(perms.APIKEYS_READ)
def api_keys_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The organization's keys (revoked ones too; never a secret); create, rotate (apikeys:manage and a recent
    sign-in: the secret is shown once, in that answer), revoke (apikeys:manage)."""
    organization = membership.organization
    form = ApiKeyForm(prefix="key")
    new_key: dict[str, Any] | None = None
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    try:
        if action == "create":
            _act(request, membership, perms.APIKEYS_MANAGE)
            form = ApiKeyForm(request.POST, prefix="key")
            _require_recent_authentication(request)
            if form.is_valid():
                try:
                    key, plaintext = apikey_services.apikey_create(organization=organization, actor=request.user,
                                                                   facts=request_facts(request), **form.cleaned_data)
                except ValidationError as exc:
                    _service_errors(form, exc)
                else:
                    new_key, form = {"key": key, "secret": plaintext, "rotated": False}, ApiKeyForm(prefix="key")
            if form.errors:
                status = 400
        elif action == "rotate":
            _act(request, membership, perms.APIKEYS_MANAGE)
            key = _key_of(organization, request)
            _require_recent_authentication(request)
            try:
                overlap = int(request.POST.get("overlap_seconds", apikey_services.DEFAULT_OVERLAP_SECONDS))
            except ValueError:
                overlap = -1  # refused by the service, with its message
            try:
                key, plaintext = apikey_services.apikey_rotate(key=key, actor=request.user, overlap_seconds=overlap,
                                                               facts=request_facts(request))
            except ValidationError as exc:
                error, status = ApplicationError(" ".join(exc.messages)), 400
            else:
                new_key = {"key": key, "secret": plaintext, "rotated": True}
        elif action == "revoke":
            _act(request, membership, perms.APIKEYS_MANAGE)
            key = apikey_services.apikey_revoke(key=_key_of(organization, request), actor=request.user)
            return _done(request, f"The key {key.name} (plk_{key.prefix}_…) was revoked; it no longer works.",
                         "orgs_api_keys", membership)
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    response = _render(request, "rbac/api_keys.html", membership, {
        "keys": apikey_services.apikey_list(organization=organization).order_by("-created_at"),
        "form": form, "new_key": new_key, "scope_groups": _catalog_groups(), "overlap_choices": OVERLAP_CHOICES,
        "default_overlap": apikey_services.DEFAULT_OVERLAP_SECONDS, "now": timezone.now(),
        "recently_authenticated": recently_authenticated(request),
        "reauthenticate_url": f"{reverse('account_reauthenticate')}?{urlencode({'next': request.path})}",
        "tab": "api_keys",
    }, error, status=status)
    return _with_secret(response) if new_key is not None else response


# --- /orgs/<org_id>/grants/ ------------------------------------------------------------------------------


def _grant_objects(organization: Organization) -> dict[str, list[tuple[str, str]]]:
    """Every object of the organization a grant can name, by resource type: [(id, label)…]."""
    objects: dict[str, list[tuple[str, str]]] = {name: [] for name in resources.names()}
    objects["organization"] = [(str(organization.pk), organization.name)]
    objects["team"] = [(str(t.pk), t.name) for t in team_services.team_list(organization=organization)
                       .order_by("name")]
    objects["role"] = [(str(r.pk), r.name) for r in roles_for_organization(organization_id=organization.pk)
                       .filter(organization=organization).order_by("name")]
    objects["policy"] = [(str(p.pk), p.name) for p in policy_services.policy_list(organization=organization)
                         .order_by("name")]
    objects["apikey"] = [(str(k.pk), f"{k.name} (plk_{k.prefix}_…)") for k in apikey_services.apikey_list(
        organization=organization).filter(revoked_at__isnull=True).order_by("name")]
    return objects


def _encode_cursor(grant: grant_services.Grant) -> str:
    raw = json.dumps([grant.created_at.isoformat(), grant.subject_type, grant.row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[dt.datetime, str, int] | None:
    """The page's cursor; None (the first page) for anything this page did not write."""
    if not cursor:
        return None
    try:
        at, kind, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(at), str(kind), int(row_id)
    except (ValueError, TypeError):
        return None


def _grant_subject(form: GrantForm, organization: Organization) -> tuple[str, str] | None:
    """(subject type, id) of the form's member (by e-mail) or team; a form error if no such member."""
    email = form.cleaned_data["member_email"]
    if not email:
        return "team", form.cleaned_data["team"]
    member = (org_selectors.member_list(organization=organization).filter(user__email__iexact=email)
              .first())
    if member is None:
        form.add_error("member_email", ValidationError("No member of this organization has this e-mail address.",
                                                       code="unknown_member"))
        return None
    return "user", str(member.user_id)


@org_page(perms.GRANTS_MANAGE)
def grants_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """One permission on one object, to a member or a team: list, grant, revoke (grants:manage)."""
    organization = membership.organization
    objects = _grant_objects(organization)
    form = GrantForm(prefix="grant", organization=organization, objects=objects)
    error: ApplicationError | None = None
    status = None
    action = _action(request)
    try:
        if action == "grant":
            _act(request, membership, perms.GRANTS_MANAGE)
            form = GrantForm(request.POST, prefix="grant", organization=organization, objects=objects)
            subject = _grant_subject(form, organization) if form.is_valid() else None
            if subject is not None:
                resource_type, _, resource_id = form.cleaned_data["resource"].partition(":")
                try:
                    grant, created = grant_services.grant_create(
                        organization=organization, actor=request.user, subject_type=subject[0],
                        subject_id=subject[1], permission=form.cleaned_data["permission"],
                        resource_type=resource_type, resource_id=resource_id, facts=request_facts(request),
                        caller=role_services.request_caller(request, organization))
                except ValidationError as exc:
                    _service_errors(form, exc, {"resource.type": "resource", "subject.type": "member_email"})
                else:
                    text = "was granted" if created else "was already granted"
                    return _done(request, f"{grant.permission} on {grant.resource_type} {text}.", "orgs_grants",
                                 membership)
            status = 400
        elif action == "revoke":
            _act(request, membership, perms.GRANTS_MANAGE)
            body = request.POST
            grant_services.grant_delete(organization=organization, actor=request.user,
                                        subject_type=body.get("subject_type"), subject_id=body.get("subject_id"),
                                        permission=body.get("permission"), resource_type=body.get("resource_type"),
                                        resource_id=body.get("resource_id"))
            return _done(request, f"The grant of {body.get('permission')} was revoked.", "orgs_grants", membership)
        elif action is not None:
            status = 400
    except ValidationError as exc:  # a revoke naming an unknown resource type or subject type
        error, status = ApplicationError(" ".join(exc.messages)), 400
    except ApplicationError as exc:
        error = exc
    rows = grant_services.grant_list(organization=organization, limit=GRANTS_PAGE_SIZE + 1,
                                     after=_decode_cursor(request.GET.get("cursor")))
    next_cursor = _encode_cursor(rows[GRANTS_PAGE_SIZE - 1]) if len(rows) > GRANTS_PAGE_SIZE else None
    emails = {str(m.user_id): m.user.email for m in org_selectors.member_list(organization=organization)}
    teams = dict(objects["team"])
    labels = {(kind, pk): label for kind, pairs in objects.items() for pk, label in pairs}
    grants = [{"grant": g, "subject": emails.get(g.subject_id) if g.subject_type == "user" else teams.get(g.subject_id),
               "resource": labels.get((g.resource_type, g.resource_id)),
               "granted_by": emails.get(g.granted_by or "", g.granted_by)} for g in rows[:GRANTS_PAGE_SIZE]]
    return _render(request, "rbac/grants.html", membership, {
        "grants": grants, "form": form, "tab": "grants",
        "next_url": f"{reverse('orgs_grants', args=[organization.pk])}?cursor={next_cursor}" if next_cursor else None,
    }, error, status=status)
