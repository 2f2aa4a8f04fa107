"""Server-rendered organization pages under /orgs/ (apps/orgs/urls_pages.py).

Thin, like the APIs: every request passes `org_access` (membership → the organization's rules → the
role's permission), then one service call. The parts of a page a role may not use are only hidden;
the check that counts is org_access's, repeated for every POST with the permission of its action.

Answers: an organization (team, domain, invitation) that is unknown or not the user's is a 404,
whatever the reason; any other `ApplicationError` is shown on the page, with its status (403 for a
missing permission, 409 for the last owner leaving…). A successful POST redirects (post/redirect/get).

The browser's active organization lives in the Django session under `plinto_active_org` (its id;
no token involved). `active_organization` is also usable as a template context processor, so that
the site header can show it on every page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.audit.perms import AUDIT_READ
from apps.core.errors import ApplicationError
from apps.orgs import perms, roles, selectors
from apps.orgs.apis_invitations import InvitationCsvParser
from apps.orgs.errors import OrganizationNotFound, SlugTaken
from apps.orgs.models import Membership, Organization
from apps.orgs.services import domains as domain_services
from apps.orgs.services import invitations as invitation_services
from apps.orgs.services import organizations as org_services
from apps.orgs.services import teams as team_services
from apps.rbac.access import org_access
from apps.rbac.perms import APIKEYS_READ, GRANTS_MANAGE, POLICIES_READ, ROLES_READ

ACTIVE_ORG_SESSION_KEY = "plinto_active_org"
CSV_MAX_BYTES = 512 * 1024

# What each row code of a bulk invitation means, in words (the code is shown too).
BULK_ROW_MESSAGES = {
    "invalid_email": "Not a valid e-mail address.",
    "unknown_role": "Unknown role.",
    "already_member": "Already a member.",
    "invitation_pending": "An invitation is already pending.",
    "email_domain_not_allowed": "This organization does not invite addresses of that domain.",
    "permission_denied": "Only owners can invite owners.",
    "duplicate_in_request": "Repeats an earlier row.",
    "invalid": "Invalid row.",
}

View = Callable[..., HttpResponse]


# --- the active organization --------------------------------------------------------------------


def active_organization(request: HttpRequest) -> dict[str, Any]:
    """`{"active_organization": Organization}` when this browser switched to one the user is still an
    active member of; `{}` otherwise. A template context processor as well as a helper of the pages."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    org_id = session.get(ACTIVE_ORG_SESSION_KEY) if session is not None else None
    if not org_id or user is None or not user.is_authenticated:
        return {}
    try:
        membership = selectors.membership_get(organization_id=org_id, user=user)
    except OrganizationNotFound:
        return {}
    return {"active_organization": membership.organization}


# --- forms: the shape of the input; the rules are the services' ---------------------------------


def _role_choices(organization: Organization | None, *, owner: bool = True,
                  blank: str | None = None) -> list[tuple[str, str]]:
    """The system roles, then the organization's custom roles (by name, as the API takes them)."""
    from apps.rbac.selectors import roles_for_organization

    choices = [(role.value, role.label) for role in roles.SystemRole if owner or role != roles.SystemRole.OWNER]
    if organization is not None:
        custom = roles_for_organization(organization_id=organization.pk).filter(organization__isnull=False)
        choices += [(role.name, role.name) for role in custom.order_by("name")]
    return [("", blank), *choices] if blank is not None else choices


class LinesField(forms.CharField):
    """A list typed one item a line (commas and spaces separate too); at most `max_items` items."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "none"})

    def __init__(self, *, max_items: int = 100, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return [item for item in re.split(r"[\s,]+", super().to_python(value)) if item]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} entries.", code="max_items")


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "organization"}))
    slug = forms.RegexField(r"^[a-z0-9-]{3,50}$", max_length=50,
                            help_text="3–50 lowercase letters, digits or hyphens; it names the organization in URLs.",
                            error_messages={"invalid": "Use 3–50 lowercase letters, digits or hyphens."},
                            widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(max_length=100)
    mfa_required = forms.BooleanField(required=False, label="Members must use two-factor authentication")
    allowed_email_domains = LinesField(required=False, label="Allowed e-mail domains",
                                       help_text="One per line. Only addresses at these domains can be invited; "
                                                 "empty: any domain.")
    ip_allowlist = LinesField(required=False, label="IP allowlist",
                              help_text="Networks in CIDR notation (203.0.113.0/24), one per line; the organization "
                                        "answers only from them. Empty: any address.")
    session_max_age = forms.IntegerField(required=False, min_value=60, label="Maximum session age (seconds)",
                                         help_text="Time since sign-in after which members must sign in again to "
                                                   "use the organization. Empty: no limit.")
    default_role = forms.ChoiceField(choices=_role_choices(None, owner=False),
                                     help_text="The role of members who join through a verified domain.")

    def __init__(self, *args: Any, organization: Organization | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_role"].choices = _role_choices(organization, owner=False)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=_role_choices(None), initial=roles.SystemRole.MEMBER)
    message = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Included in the e-mail.")

    def __init__(self, *args: Any, inviter: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only owners may invite owners: the service refuses it anyway; do not offer it.
        owner = inviter.role_id == roles.system_role_id(roles.SystemRole.OWNER)
        self.fields["role"].choices = _role_choices(inviter.organization, owner=owner)


class BulkInviteForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
                           help_text="A header line naming the columns email and role, then one invitation "
                                     f"a line; at most {invitation_services.BULK_MAX_ROWS} lines.")
    message = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Included in every e-mail.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(f"The file is over {CSV_MAX_BYTES // 1024} KB.", code="too_large")
        return upload


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=500, required=False)
    role = forms.ChoiceField(choices=_role_choices(None, owner=False, blank="No role"), required=False,
                             help_text="A role every member of the team also holds.")

    def __init__(self, *args: Any, organization: Organization | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(organization, owner=False, blank="No role")


class DomainForm(forms.Form):
    domain = forms.CharField(max_length=300, help_text="A bare domain name, such as example.com.",
                             widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false",
                                                           "inputmode": "url"}))
    auto_join = forms.BooleanField(required=False, label="Once verified, new users of this domain join "
                                                         "automatically")


def _add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has one, else on the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- access ---------------------------------------------------------------------------------------


def _capabilities(request: HttpRequest, membership: Membership) -> dict[str, bool]:
    """What the page offers to this member (display only: each POST is checked by org_access), as the
    decision service answers for this request."""
    from apps.rbac.access import request_facts
    from apps.rbac.services.decisions import decide, user_caller

    caller = user_caller(user=request.user, organization=membership.organization)
    facts = request_facts(request)

    def has(permission: str) -> bool:
        return decide(caller=caller, permission=permission, facts=facts).allowed

    return {
        "update": has(perms.ORG_UPDATE),
        "manage_members": has(perms.MEMBERS_MANAGE),
        "invite": has(perms.INVITATIONS_MANAGE),
        "read_teams": has(perms.TEAMS_READ),
        "manage_teams": has(perms.TEAMS_MANAGE),
        "manage_domains": has(perms.DOMAINS_MANAGE),
        "read_audit": has(AUDIT_READ),
        "read_roles": has(ROLES_READ),
        "read_policies": has(POLICIES_READ),
        "read_apikeys": has(APIKEYS_READ),
        "manage_grants": has(GRANTS_MANAGE),
    }


def org_page(permission: str) -> Callable[[View], View]:
    """A page of one organization, for members whose role has `permission` (GET needs it; each POST
    action asks org_access for its own). Strangers get a 404, others who may not see it their reason."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, org_id: object, **kwargs: Any) -> HttpResponse:
            try:
                membership = org_access(request, org_id, permission)
            except OrganizationNotFound:
                raise Http404("No such organization.") from None
            except ApplicationError as exc:  # the organization's rules (MFA, IP allowlist), a missing permission
                return render(request, "orgs/denied.html", {"detail": exc.detail, "code": exc.code,
                                                            **active_organization(request)}, status=exc.status)
            return view(request, membership, **kwargs)

        return login_required(never_cache(require_http_methods(["GET", "POST"])(wrapper)))

    return decorate


def _act(request: HttpRequest, membership: Membership, permission: str | None) -> Membership:
    """The caller's membership, checked again for one action's permission (raises ApplicationError)."""
    return org_access(request, membership.organization_id, permission)


def _render(request: HttpRequest, template: str, membership: Membership, context: dict[str, Any],
            error: ApplicationError | None = None, *, status: int | None = None) -> HttpResponse:
    """The page, with the error of a refused action (its status, unless a form error set one)."""
    if error is not None:
        context["error"], status = error.detail, status or error.status
    return render(request, template, {
        "membership": membership, "organization": membership.organization, "can": _capabilities(request, membership),
        **active_organization(request), **context,
    }, status=status or 200)


def _done(request: HttpRequest, text: str, url_name: str, membership: Membership, anchor: str = "") -> HttpResponse:
    messages.success(request, text)
    return redirect(reverse(url_name, args=[membership.organization_id]) + anchor)


# --- /orgs/ -------------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def organizations_page(request: HttpRequest) -> HttpResponse:
    """My organizations with my role; create one; switch this browser's active organization."""
    form = OrganizationCreateForm()
    error: ApplicationError | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "switch":
            try:
                membership = org_access(request, request.POST.get("organization_id", ""))
            except ApplicationError as exc:
                error, status = exc, exc.status
            else:
                request.session[ACTIVE_ORG_SESSION_KEY] = str(membership.organization_id)
                messages.success(request, f"{membership.organization.name} is now your active organization.")
                return redirect("orgs_list")
        elif action == "create":
            form = OrganizationCreateForm(request.POST)
            if form.is_valid():
                try:
                    organization = org_services.organization_create(user=request.user, **form.cleaned_data)
                except SlugTaken as exc:
                    form.add_error("slug", ValidationError(exc.detail, code=exc.code))
                except ApplicationError as exc:
                    error, status = exc, exc.status
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    messages.success(request, f"{organization.name} was created; you are its owner.")
                    return redirect("orgs_overview", org_id=organization.pk)
            if form.errors:
                status = 409 if form.has_error("slug", "slug_taken") else 400
        else:
            status = 400
    memberships = list(selectors.organization_list_for_user(user=request.user))
    counts = selectors.member_counts(organization_ids=[m.organization_id for m in memberships])
    return render(request, "orgs/list.html", {
        "rows": [{"membership": m, "organization": m.organization, "members": counts.get(m.organization_id, 0)}
                 for m in memberships],
        "form": form, "error": error.detail if error else None, **active_organization(request),
    }, status=status)


# --- /orgs/<org_id>/ : overview and settings ----------------------------------------------------


def _settings_initial(organization: Organization) -> dict[str, Any]:
    initial = {name: getattr(organization, name) for name in org_services.SETTINGS_FIELDS}
    initial["default_role"] = organization.default_role.name
    return initial


@org_page(perms.ORG_READ)
def overview_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = OrganizationSettingsForm(initial=_settings_initial(organization), organization=organization)
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            actor = _act(request, membership, perms.ORG_UPDATE)
            form = OrganizationSettingsForm(request.POST, initial=_settings_initial(organization),
                                            organization=organization)
            if form.is_valid():
                try:
                    org_services.organization_update(organization=actor.organization, actor=request.user,
                                                     data=form.cleaned_data)
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    return _done(request, "The settings were saved.", "orgs_overview", membership)
        except ApplicationError as exc:
            error = exc
    counts = selectors.member_counts(organization_ids=[organization.pk])
    return _render(request, "orgs/overview.html", membership, {
        "form": form, "member_count": counts.get(organization.pk, 0), "tab": "overview",
    }, error, status=400 if form.errors else None)


# --- /orgs/<org_id>/members/ ----------------------------------------------------------------------


def _bulk_rows(form: BulkInviteForm) -> list[dict[str, str]]:
    """The CSV's rows, through the API's own CSV parser (same header, charset and line rules)."""
    rows = InvitationCsvParser().parse(form.cleaned_data["file"], "text/csv")["invitations"]
    if not rows:
        raise ValidationError("The file has a header but no invitations.")
    if len(rows) > invitation_services.BULK_MAX_ROWS:
        raise ValidationError(f"At most {invitation_services.BULK_MAX_ROWS} invitations per file.")
    return rows


@org_page(perms.MEMBERS_READ)
def members_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Members and their roles; change role and remove (members:manage); invite one address or a CSV
    file (members:invite); leave."""
    organization = membership.organization
    invite_form = InviteForm(prefix="invite", inviter=membership)
    bulk_form = BulkInviteForm(prefix="bulk")
    bulk_results: list[dict[str, Any]] | None = None
    error: ApplicationError | None = None
    status = None
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "change_role":
            _act(request, membership, perms.MEMBERS_MANAGE)
            role = request.POST.get("role", "")
            member = selectors.member_get(organization=organization, user_id=request.POST.get("user_id"))
            org_services.member_change_role(organization=organization, member=member, role=role, actor=request.user)
            return _done(request, f"{member.user.email} is now {role}.", "orgs_members", membership)
        if action == "remove":
            _act(request, membership, perms.MEMBERS_REMOVE)
            member = selectors.member_get(organization=organization, user_id=request.POST.get("user_id"))
            org_services.member_remove(organization=organization, member=member, actor=request.user)
            if member.pk == membership.pk:
                return _left(request, organization)
            return _done(request, f"{member.user.email} was removed.", "orgs_members", membership)
        if action == "leave":
            own = _act(request, membership, None)
            org_services.member_leave(organization=organization, member=own)
            return _left(request, organization)
        if action == "invite":
            inviter = _act(request, membership, perms.INVITATIONS_MANAGE)
            invite_form = InviteForm(request.POST, prefix="invite", inviter=inviter)
            if invite_form.is_valid():
                try:
                    invitation = invitation_services.invitation_create(inviter=inviter, **invite_form.cleaned_data)
                except ValidationError as exc:
                    _add_service_errors(invite_form, exc)
                else:
                    return _done(request, f"An invitation was sent to {invitation.email}.", "orgs_members",
                                 membership)
            status = 400
        elif action == "bulk_invite":
            inviter = _act(request, membership, perms.INVITATIONS_MANAGE)
            bulk_form = BulkInviteForm(request.POST, request.FILES, prefix="bulk")
            if bulk_form.is_valid():
                try:
                    rows = _bulk_rows(bulk_form)
                except ValidationError as exc:
                    _add_service_errors(bulk_form, exc)
                else:
                    results = invitation_services.invitations_bulk(inviter=inviter, rows=rows,
                                                                   message=bulk_form.cleaned_data["message"])
                    bulk_results = [{"line": n, "email": r.email, "ok": r.ok, "code": r.code,
                                     "text": BULK_ROW_MESSAGES.get(r.code or "", r.code)}
                                    for n, r in enumerate(results, start=2)]  # line 1 is the header
                    bulk_form = BulkInviteForm(prefix="bulk")
            if bulk_form.errors:
                status = 400
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    members = list(selectors.member_list(organization=organization))
    return _render(request, "orgs/members.html", membership, {
        "members": members, "invite_form": invite_form, "bulk_form": bulk_form, "bulk_results": bulk_results,
        "bulk_invited": sum(1 for r in bulk_results if r["ok"]) if bulk_results is not None else 0,
        "role_choices": _role_choices(organization, owner=membership.role_id == roles.system_role_id(
            roles.SystemRole.OWNER)), "tab": "members",
    }, error, status=status)


def _left(request: HttpRequest, organization: Organization) -> HttpResponse:
    if request.session.get(ACTIVE_ORG_SESSION_KEY) == str(organization.pk):
        request.session.pop(ACTIVE_ORG_SESSION_KEY)
    messages.success(request, f"You left {organization.name}.")
    return redirect("orgs_list")


# --- /orgs/<org_id>/invitations/ ------------------------------------------------------------------


@org_page(perms.INVITATIONS_MANAGE)
def invitations_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Pending and expired invitations (as invitation_list sees them), with resend and revoke."""
    organization = membership.organization
    error: ApplicationError | None = None
    action = request.POST.get("action") if request.method == "POST" else None
    if action in ("resend", "revoke"):
        try:
            actor = _act(request, membership, perms.INVITATIONS_MANAGE)
            invitation = invitation_services.invitation_get(invitation_id=request.POST.get("invitation_id"))
            if invitation.organization_id != organization.pk:
                raise invitation_services.InvitationNotFound("No such invitation.")
            if action == "resend":
                invitation_services.invitation_resend(invitation=invitation, actor=actor)
                return _done(request, f"A new link was sent to {invitation.email}.", "orgs_invitations", membership)
            invitation_services.invitation_revoke(invitation=invitation, actor=request.user)
            return _done(request, f"The invitation of {invitation.email} was revoked.", "orgs_invitations",
                         membership)
        except ApplicationError as exc:
            error = exc
    elif action is not None:
        return _render(request, "orgs/invitations.html", membership, {}, status=400)

    def listed(status: str) -> list[Any]:
        return list(invitation_services.invitation_list(organization=organization, status=status)
                    .order_by("-created_at"))

    return _render(request, "orgs/invitations.html", membership, {
        "pending": listed("pending"), "expired": listed("expired"), "tab": "invitations",
    }, error)


# --- /orgs/<org_id>/teams/ and /orgs/<org_id>/teams/<team_id>/ -------------------------------------


def _team_data(form: TeamForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {"name": data["name"], "description": data["description"], "role": data["role"] or None}


@org_page(perms.TEAMS_READ)
def teams_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = TeamForm(organization=membership.organization)
    error: ApplicationError | None = None
    status = None
    action = request.POST.get("action") if request.method == "POST" else None
    if action not in (None, "create"):
        status = 400
    elif action == "create":
        try:
            _act(request, membership, perms.TEAMS_MANAGE)
            form = TeamForm(request.POST, organization=membership.organization)
            if form.is_valid():
                try:
                    team = team_services.team_create(organization=organization, actor=request.user,
                                                     **_team_data(form))
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    messages.success(request, f"The team {team.name} was created.")
                    return redirect("orgs_team", org_id=organization.pk, team_id=team.pk)
            status = 400
        except ApplicationError as exc:
            error = exc
    return _render(request, "orgs/teams.html", membership, {
        "teams": team_services.team_list(organization=organization).order_by("name"), "form": form, "tab": "teams",
    }, error, status=status)


@org_page(perms.TEAMS_READ)
def team_page(request: HttpRequest, membership: Membership, team_id: object) -> HttpResponse:
    """One team: its members (add, remove), rename or change it, delete it (teams:manage)."""
    organization = membership.organization
    try:
        team = team_services.team_get_for_user(team_id=team_id, user=request.user)
    except team_services.TeamNotFound:
        raise Http404("No such team.") from None
    if team.organization_id != organization.pk:
        raise Http404("No such team.")
    form = TeamForm(prefix="team", organization=team.organization, initial={
        "name": team.name, "description": team.description, "role": team.role.name if team.role_id else ""})
    error: ApplicationError | None = None
    status = None
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "add_member":
            _act(request, membership, perms.TEAMS_MANAGE)
            row, created = team_services.team_member_add(team=team, user_id=request.POST.get("user_id"),
                                                         actor=request.user)
            email = row.membership.user.email
            text = f"{email} was added to the team." if created else f"{email} is already in the team."
            return _team_done(request, team, text)
        if action == "remove_member":
            _act(request, membership, perms.TEAMS_MANAGE)
            team_services.team_member_remove(team=team, user_id=request.POST.get("user_id"), actor=request.user)
            return _team_done(request, team, "The member was taken out of the team.")
        if action == "update":
            _act(request, membership, perms.TEAMS_MANAGE)
            form = TeamForm(request.POST, prefix="team", organization=team.organization)
            if form.is_valid():
                try:
                    team_services.team_update(team=team, actor=request.user, data=_team_data(form))
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    return _team_done(request, team, "The team was saved.")
            status = 400
        elif action == "delete":
            _act(request, membership, perms.TEAMS_MANAGE)
            name = team.name
            team_services.team_delete(team=team, actor=request.user)
            return _done(request, f"The team {name} was deleted.", "orgs_teams", membership)
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    rows = list(team_services.team_member_list(team=team).order_by("membership__user__email"))
    in_team = {row.membership_id for row in rows}
    return _render(request, "orgs/team.html", membership, {
        "team": team, "rows": rows, "form": form, "tab": "teams",
        "candidates": [m for m in selectors.member_list(organization=organization) if m.pk not in in_team],
    }, error, status=status)


def _team_done(request: HttpRequest, team: Any, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("orgs_team", org_id=team.organization_id, team_id=team.pk)


# --- /orgs/<org_id>/domains/ ----------------------------------------------------------------------


@org_page(perms.ORG_READ)
def domains_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Claimed domains with the TXT record to publish; add, verify, toggle auto-join, remove (domains:manage)."""
    organization = membership.organization
    form = DomainForm()
    error: ApplicationError | None = None
    status = None
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "add":
            _act(request, membership, perms.DOMAINS_MANAGE)
            form = DomainForm(request.POST)
            if form.is_valid():
                try:
                    domain = domain_services.domain_add(organization=organization, actor=request.user,
                                                        **form.cleaned_data)
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    return _done(request, f"{domain.domain} was added: publish its TXT record, then verify it.",
                                 "orgs_domains", membership, f"#domain-{domain.pk}")
            status = 400
        elif action in ("verify", "auto_join", "remove"):
            _act(request, membership, perms.DOMAINS_MANAGE)
            domain = domain_services.domain_get_for_user(domain_id=request.POST.get("domain_id"), user=request.user)
            if domain.organization_id != organization.pk:
                raise domain_services.DomainNotFound("No such domain.")
            if action == "verify":
                domain_services.domain_verify(domain=domain, actor=request.user)
                return _done(request, f"{domain.domain} is verified.", "orgs_domains", membership)
            if action == "auto_join":
                on = request.POST.get("auto_join") == "on"
                domain_services.domain_update(domain=domain, actor=request.user, auto_join=on)
                return _done(request, f"Auto-join is {'on' if on else 'off'} for {domain.domain}.", "orgs_domains",
                             membership)
            domain_services.domain_remove(domain=domain, actor=request.user)
            return _done(request, f"{domain.domain} was removed.", "orgs_domains", membership)
        elif action is not None:
            status = 400
    except ApplicationError as exc:
        error = exc
    domains = [{"domain": d, "txt_name": domain_services.txt_record_name(d),
                "txt_value": domain_services.txt_record_value(d)}
               for d in domain_services.domain_list(organization=organization).order_by("domain")]
    return _render(request, "orgs/domains.html", membership, {"domains": domains, "form": form, "tab": "domains"},
                   error, status=status)
