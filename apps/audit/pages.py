"""The "Security log" pages of an organization, for members whose role has audit:read.

/orgs/<org_id>/security-log/                the trail, newest first: filters, cursor pages, chain check
/orgs/<org_id>/security-log/<event_id>/     one event with its changes and metadata
/orgs/<org_id>/security-log/export/         POST (CSRF): the filtered trail as a CSV or JSON Lines file

Access is the organization pages' own (apps.orgs.pages.org_page → org_access): a stranger gets a 404,
a member without audit:read a 403 page naming the permission, an anonymous visitor the sign-in page.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.audit.exports import audit_log_export, export_response
from apps.audit.models import AuditEvent, Outcome
from apps.audit.perms import AUDIT_READ
from apps.audit.selectors import EventFilters, chain_verify, event_get, event_list, event_page
from apps.orgs.models import Membership
from apps.orgs.pages import _capabilities, active_organization, org_page

PAGE_SIZE = 50
FILTER_FIELDS = ("action", "actor", "target_type", "target_id", "outcome", "since", "until")


# --- forms ----------------------------------------------------------------------------------------


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class SecurityLogFilterForm(forms.Form):
    action = forms.CharField(max_length=100, required=False, help_text="Such as member.added, or member.* for "
                                                                        "every member event.")
    actor = forms.CharField(max_length=254, required=False, help_text="The actor's id or e-mail address.")
    target_type = forms.CharField(max_length=64, required=False, label="Target type", help_text="Such as user.")
    target_id = forms.CharField(max_length=64, required=False, label="Target id")
    outcome = forms.ChoiceField(choices=[("", "Any"), *Outcome.choices], required=False)
    since = forms.DateTimeField(required=False, label="From (UTC)", widget=DateTimeLocalInput())
    until = forms.DateTimeField(required=False, label="Until (UTC)", widget=DateTimeLocalInput(),
                                help_text="Events before this moment.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", ValidationError("Must be after “From”.", code="invalid"))
        return data


class SecurityLogExportForm(SecurityLogFilterForm):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")], initial="csv",
                               widget=forms.RadioSelect)


def _events(membership: Membership, data: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The organization's events matching the form: the API's filters, plus the actor by e-mail."""
    actor = data.get("actor") or ""
    by_email = "@" in actor
    events = event_list(organization_id=membership.organization_id, filters=EventFilters(
        action=data.get("action") or None, actor_id=None if by_email else actor or None,
        target_type=data.get("target_type") or None, target_id=data.get("target_id") or None,
        outcome=data.get("outcome") or None, since=data.get("since"), until=data.get("until"),
    ))
    # The e-mail is the actor's snapshot at the time of the event; EventFilters has no field for it yet.
    return events.filter(actor_email__iexact=actor) if by_email else events


def _recorded_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The filters as the audit.exported event records them (the non-empty ones)."""
    return {name: data[name] for name in FILTER_FIELDS if data.get(name)}


# --- rendering ------------------------------------------------------------------------------------


def _render(request: HttpRequest, template: str, membership: Membership, context: dict[str, Any],
            *, status: int = 200) -> HttpResponse:
    return render(request, template, {
        "membership": membership, "organization": membership.organization, "tab": "security_log",
        "can": {**_capabilities(request, membership), "read_audit": True},
        **active_organization(request), **context,
    }, status=status)


def _log_url(membership: Membership, query: QueryDict | None = None, **changes: Any) -> str:
    """The log's URL with `query` (this page's, by default none) and `changes` (None removes a parameter)."""
    query = query.copy() if query is not None else QueryDict(mutable=True)
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = str(value)
    url = reverse("orgs_security_log", args=[membership.organization_id])
    return f"{url}?{query.urlencode()}" if query else url


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _newer_cursor(events: QuerySet[AuditEvent], before: int | None) -> tuple[bool, int | None]:
    """(whether a newer page exists, its cursor: None for the first page). The page before `before`
    shows rows below it; the newer page holds the PAGE_SIZE lowest rows at or above it."""
    if before is None:
        return False, None
    above = list(events.filter(seq__gte=before).order_by("seq").values_list("seq", flat=True)[: PAGE_SIZE + 1])
    if len(above) <= PAGE_SIZE:
        return bool(above), None
    return True, above[PAGE_SIZE - 1] + 1


# --- pages ----------------------------------------------------------------------------------------


@org_page(AUDIT_READ)
@require_GET
def security_log_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = SecurityLogFilterForm(request.GET)
    rows: list[AuditEvent] = []
    older_url = newer_url = None
    status = 200
    if form.is_valid():
        events = _events(membership, form.cleaned_data)
        before = _cursor(request.GET.get("before"))
        rows, older = event_page(events, limit=PAGE_SIZE, before_seq=before)
        has_newer, newer = _newer_cursor(events, before)
        older_url = _log_url(membership, request.GET, before=older, verify=None) if older else None
        newer_url = _log_url(membership, request.GET, before=newer, verify=None) if has_newer else None
    else:
        status = 400
    verification = (chain_verify(chain_key=str(membership.organization_id))
                    if request.GET.get("verify") == "1" else None)
    return _render(request, "audit/security_log.html", membership, {
        "form": form, "rows": rows, "older_url": older_url, "newer_url": newer_url,
        "verification": verification, "verify_url": _log_url(membership, request.GET, verify=1),
        "export_form": SecurityLogExportForm(), "filtered": any(request.GET.get(name) for name in FILTER_FIELDS),
        "export_filters": [(name, request.GET[name]) for name in FILTER_FIELDS if request.GET.get(name)]
        if form.is_valid() else [],
    }, status=status)


def _pretty(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@org_page(AUDIT_READ)
@require_GET
def security_log_event_page(request: HttpRequest, membership: Membership, event_id: object) -> HttpResponse:
    event = event_get(event_id=event_id, organization_ids=[membership.organization_id])
    if event is None:
        raise Http404("No such event.")
    changes = []  # {field: [old, new]}; values as JSON, so that null, "" and "null" stay apart
    for field, value in (event.changes or {}).items():
        old, new = value if isinstance(value, list) and len(value) == 2 else (None, value)
        changes.append({"field": field, "old": json.dumps(old, ensure_ascii=False),
                        "new": json.dumps(new, ensure_ascii=False)})
    return _render(request, "audit/security_log_event.html", membership, {
        "event": event, "changes": changes,
        "metadata": [{"key": key, "value": _pretty(value)} for key, value in (event.metadata or {}).items()],
    })


@org_page(AUDIT_READ)
@require_POST
def security_log_export(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The page's export form (session and CSRF, like every page POST), streamed like the API's export."""
    form = SecurityLogExportForm(request.POST)
    if not form.is_valid():
        return _render(request, "audit/security_log.html", membership, {
            "form": SecurityLogFilterForm(request.POST), "export_form": form, "rows": [],
            "verify_url": _log_url(membership, verify=1), "export_filters": [],
            "error": "The export could not start: check the format and the filters.",
        }, status=400)
    export = audit_log_export(actor=request.user, organization=membership.organization,
                              events=_events(membership, form.cleaned_data), format=form.cleaned_data["format"],
                              filters=_recorded_filters(form.cleaned_data))
    return export_response(request, export)
