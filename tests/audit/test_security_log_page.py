"""The Security log pages under /orgs/<org_id>/security-log/ (apps/audit/pages.py), with the Django test client.

"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.audit.selectors import EventFilters, event_list
from apps.audit.services import Target, emit
from apps.orgs.models import Organization
from tests.accounts.helpers import PASSWORD
from tests.orgs.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    changed: AuditEvent  # member.role_changed, with changes and metadata
    failed: AuditEvent  # a failed sign-in
    foreign: AuditEvent  # Globex's

    def ids(self, **filters: object) -> list[str]:
        return [str(pk) for pk in event_list(organization_id=self.acme.pk, filters=EventFilters(**filters))
                .values_list("pk", flat=True)]


@pytest.fixture
def world() -> World:
    """Acme: owner, admin, member, viewer and a few events. Globex: the stranger's own organization."""
    acme = OrganizationFactory(name="Acme Rockets", slug="acme")
    people = {}
    for role in ("owner", "admin", "member", "viewer"):
        people[role] = MembershipFactory(organization=acme, role=role, user__email=f"{role}@example.com").user
    globex = OrganizationFactory(name="Globex", slug="globex")
    people["stranger"] = MembershipFactory(organization=globex, owner=True, user__email="stranger@example.com").user
    for user in (people["admin"], people["member"]):
        emit(action="user.signed_in", actor=user, organization_id=acme.pk, metadata={"method": "password"})
    failed = emit(action="user.signin_failed", actor=people["member"], organization_id=acme.pk, outcome="failure",
                  metadata={"method": "password", "reason": "bad_password"})
    changed = emit(action="member.added", actor=people["owner"], organization_id=acme.pk, target=people["viewer"],
                   changes={"role": [None, "viewer"]}, metadata={"role": "viewer", "source": "invitation"})
    foreign = emit(action="user.signed_in", actor=people["stranger"], organization_id=globex.pk,
                   metadata={"method": "password"})
    return World(acme=acme, globex=globex, people=people, changed=changed, failed=failed, foreign=foreign)


def browser(user: User) -> Client:
    """A browser signed in through the sign-in page, as people are."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def log_url(world: World, suffix: str = "") -> str:
    return f"/orgs/{world.acme.pk}/security-log/{suffix}"


def listed(html: str) -> list[str]:
    """The ids of the events in the table, in order."""
    return re.findall(r'<tr data-event="([0-9a-f-]+)">', html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def alert(html: str) -> str:
    found = re.search(r'<div class="alert alert--error" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no error alert on the page"
    return " ".join(found.group(1).split())


# --- the list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_log_lists_the_organizations_events_newest_first(world: World, role: str) -> None:
    response = browser(world.people[role]).get(log_url(world))

    assert response.status_code == 200
    assert "allauth/layouts/manage.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert listed(html) == world.ids() and str(world.foreign.pk) not in html
    assert f'<a href="/orgs/{world.acme.pk}/security-log/" aria-current="page">Security log</a>' in html
    assert f'<span class="badge">{role}</span>' in html and "Acme Rockets" in html
    assert '<span class="badge badge--danger">Failure</span>' in html
    assert link(html, "next") is None and link(html, "prev") is None


@pytest.mark.parametrize(("_case", "query", "filters"), [
    ("action", {"action": "member.added"}, {"action": "member.added"}),
    ("action prefix", {"action": "user.*"}, {"action": "user.*"}),
    ("outcome", {"outcome": "failure"}, {"outcome": "failure"}),
    ("actor id", {"actor": "MEMBER_ID"}, {"actor_id": "MEMBER_ID"}),
    ("target", {"target_type": "user", "target_id": "VIEWER_ID"}, {"target_type": "user", "target_id": "VIEWER_ID"}),
])
def test_filters_narrow_the_list(world: World, _case: str, query: dict, filters: dict) -> None:
    ids = {"MEMBER_ID": str(world.people["member"].pk), "VIEWER_ID": str(world.people["viewer"].pk)}
    query = {name: ids.get(value, value) for name, value in query.items()}
    filters = {name: ids.get(value, value) for name, value in filters.items()}

    html = browser(world.people["admin"]).get(log_url(world), query).content.decode()

    assert listed(html) == world.ids(**filters) != []
    assert len(listed(html)) < len(world.ids())
    assert f'href="/orgs/{world.acme.pk}/security-log/">Clear filters</a>' in html


def test_the_actor_filter_takes_an_email_address_too(world: World) -> None:
    html = browser(world.people["admin"]).get(log_url(world), {"actor": "MEMBER@example.com"}).content.decode()

    assert listed(html) == world.ids(actor_id=str(world.people["member"].pk))
    assert len(listed(html)) == 2  # the member's sign-in and failed sign-in


def test_since_and_until_bound_the_time(world: World) -> None:
    events = list(AuditEvent.objects.filter(chain_key=str(world.acme.pk)).order_by("seq"))
    since = (events[0].occurred_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")

    everything = browser(world.people["admin"]).get(log_url(world), {"since": since}).content.decode()
    nothing = browser(world.people["admin"]).get(log_url(world), {"until": since}).content.decode()

    assert listed(everything) == world.ids() and listed(nothing) == []
    assert "No event matches." in nothing


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}, "until"),
    ({"since": "yesterday"}, "since"),
    ({"outcome": "maybe"}, "outcome"),
])
def test_invalid_filters_are_shown_on_their_field(world: World, query: dict, field: str) -> None:
    response = browser(world.people["admin"]).get(log_url(world), query)

    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html and listed(html) == []


def test_newer_and_older_pages_walk_the_whole_log_without_gaps(world: World) -> None:
    for n in range(117):
        emit(action="session.revoked", actor=world.people["owner"], organization_id=world.acme.pk,
             target=Target(type="session", id=str(n)))
    client = browser(world.people["admin"])
    everything = world.ids()
    assert len(everything) == 121

    pages, older = [], log_url(world)
    while older:
        html = client.get(older).content.decode()
        pages.append(listed(html))
        newer, older = link(html, "prev"), link(html, "next")
    assert [len(page) for page in pages] == [50, 50, 21]
    assert sum(pages, []) == everything

    middle = client.get(newer).content.decode()  # back up from the last page
    assert listed(middle) == pages[1]
    first = client.get(link(middle, "prev")).content.decode()
    assert listed(first) == pages[0] and link(first, "prev") is None
    assert link(first, "next").startswith(log_url(world) + "?before=")


def test_pages_keep_the_filters(world: World) -> None:
    for n in range(60):
        emit(action="session.revoked", actor=world.people["owner"], organization_id=world.acme.pk,
             target=Target(type="session", id=str(n)))
    client = browser(world.people["admin"])

    html = client.get(log_url(world), {"action": "session.revoked"}).content.decode()
    older = link(html, "next")

    assert older is not None and "action=session.revoked" in older
    assert listed(client.get(older).content.decode()) == world.ids(action="session.revoked")[50:]


# --- one event -----------------------------------------------------------------------------------


def test_an_event_page_shows_its_changes_and_metadata(world: World) -> None:
    response = browser(world.people["admin"]).get(log_url(world, f"{world.changed.pk}/"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>member.added</h1>" in html
    row = re.search(r'<tr><th scope="row">role</th><td[^>]*><code>(.*?)</code></td><td[^>]*><code>(.*?)</code>', html)
    assert row and row.groups() == ("null", "&quot;viewer&quot;")
    listing = re.search(r'<dl class="facts" id="event-metadata-list">(.*?)</dl>', html, re.S)
    metadata = dict(re.findall(r"<div><dt>(\w+)</dt><dd><code>(.*?)</code></dd></div>", listing.group(1)))
    assert metadata == {"role": "viewer", "source": "invitation"}
    assert world.changed.hash in html and world.changed.prev_hash in html
    assert "owner@example.com" in html and str(world.people["viewer"].pk) in html


@pytest.mark.parametrize("which", ["foreign", "platform", "unknown"])
def test_an_event_of_another_chain_is_a_404(world: World, which: str) -> None:
    event_id = {"foreign": world.foreign.pk, "unknown": "00000000-0000-4000-8000-000000000000",
                "platform": emit(action="user.signed_in", metadata={"method": "password"}).pk}[which]

    assert browser(world.people["owner"]).get(log_url(world, f"{event_id}/")).status_code == 404


# --- chain verification --------------------------------------------------------------------------


def test_verification_runs_on_request_and_reports_an_intact_chain(world: World) -> None:
    client = browser(world.people["admin"])

    assert "chain-status" not in client.get(log_url(world)).content.decode()
    html = client.get(log_url(world), {"verify": "1"}).content.decode()

    status = re.search(r'<div class="alert alert--success" role="status" id="chain-status">(.*?)</div>', html, re.S)
    assert status and " ".join(status.group(1).split()) == f"Chain intact: {len(world.ids())} events verified."


def test_verification_names_the_first_broken_event(world: World) -> None:
    with connection.cursor() as cursor:  # as an attacker with database access would
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("UPDATE audit_auditevent SET outcome = 'success' WHERE id = %s", [world.failed.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")

    html = browser(world.people["admin"]).get(log_url(world), {"verify": "1"}).content.decode()

    assert alert(html).startswith(f'Chain broken at event <a href="/orgs/{world.acme.pk}/security-log/'
                                  f'{world.failed.pk}/"><code>{world.failed.pk}</code></a>: row content does not '
                                  "match its hash.")


# --- export --------------------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    form = re.search(r'<form method="post" action="([^"]+)" class="form" id="log-export-form">(.*?)</form>', html, re.S)
    assert form
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(2)).group(1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_form_downloads_the_filtered_log_with_csrf(world: World, fmt: str) -> None:
    client = browser(world.people["admin"])
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    html = strict.get(log_url(world), {"action": "user.*"}).content.decode()
    assert re.search(r'<input type="hidden" name="action" value="user.\*">', html)

    response = strict.post(log_url(world, "export/"), {"csrfmiddlewaretoken": csrf_token(html), "format": fmt,
                                                       "action": "user.*"})

    assert response.status_code == 200 and response.streaming
    assert re.fullmatch(rf'attachment; filename="audit-acme-\d{{4}}-\d\d-\d\d\.{fmt}"',
                        response["Content-Disposition"])
    text = b"".join(response.streaming_content).decode()
    ids = ([row["id"] for row in csv.DictReader(io.StringIO(text, newline=""))] if fmt == "csv"
           else [json.loads(line)["id"] for line in text.splitlines()])
    exported = AuditEvent.objects.get(chain_key=str(world.acme.pk), action="audit.exported")
    assert ids == [i for i in world.ids(action="user.*") if i != str(exported.pk)]
    assert (exported.actor_email, exported.metadata) == ("admin@example.com",
                                                         {"format": fmt, "filters": {"action": "user.*"}})


def test_the_export_needs_the_csrf_token_and_a_format(world: World) -> None:
    client = browser(world.people["admin"])
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies

    assert strict.post(log_url(world, "export/"), {"format": "csv"}).status_code == 403
    refused = client.post(log_url(world, "export/"), {"format": "xlsx"})
    assert refused.status_code == 400 and 'id="id_format_error"' in refused.content.decode()
    assert alert(refused.content.decode()) == "The export could not start: check the format and the filters."
    assert client.get(log_url(world, "export/")).status_code == 405
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_an_email_actor_filter_is_applied_and_recorded_by_the_export(world: World) -> None:
    response = browser(world.people["owner"]).post(log_url(world, "export/"), {
        "format": "csv", "actor": "member@example.com"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert {row["actor_email"] for row in rows} == {"member@example.com"} and len(rows) == 2
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.metadata["filters"] == {"actor": "member@example.com"}


# --- who may see it ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["list", "event", "export"])
@pytest.mark.parametrize(("_case", "who", "status"), [
    ("stranger", "stranger", 404),
    ("member without audit:read", "member", 403),
    ("viewer without audit:read", "viewer", 403),
])
def test_only_members_with_audit_read_see_the_log(world: World, page: str, _case: str, who: str,
                                                  status: int) -> None:
    client = browser(world.people[who])
    path = {"list": log_url(world), "event": log_url(world, f"{world.changed.pk}/"),
            "export": log_url(world, "export/")}[page]

    response = client.post(path, {"format": "csv"}) if page == "export" else client.get(path)

    assert response.status_code == status
    if status == 403:
        assert "lacks the permission audit:read" in alert(response.content.decode())
    assert str(world.changed.hash) not in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_an_unknown_organization_is_a_404_and_anonymous_visitors_sign_in_first(world: World) -> None:
    assert browser(world.people["owner"]).get("/orgs/00000000-0000-0000-0000-000000000000/security-log/"
                                               ).status_code == 404
    for response in (Client().get(log_url(world)), Client().post(log_url(world, "export/"), {"format": "csv"})):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_the_tab_is_offered_only_with_audit_read(world: World) -> None:
    admin = browser(world.people["admin"]).get(log_url(world)).content.decode()
    assert ">Security log</a>" in admin
    for role in ("member", "viewer"):
        html = browser(world.people[role]).get(f"/orgs/{world.acme.pk}/members/").content.decode()
        assert "Security log" not in html


def test_a_denied_event_leaks_nothing_of_another_chain(world: World) -> None:
    # the stranger's own event, asked for under Acme, and Acme's event under Globex: both unknown
    stranger = browser(world.people["stranger"])
    assert stranger.get(f"/orgs/{world.globex.pk}/security-log/{world.changed.pk}/").status_code == 404
    owner = browser(world.people["owner"])
    assert owner.get(log_url(world, f"{world.foreign.pk}/")).status_code == 404
