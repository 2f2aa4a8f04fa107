"""An organization's audit trail through the API: filters, stable pagination, detail, verify, stats."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.audit.services import Target, emit
from tests.accounts.helpers import signed_in
from tests.orgs.test_api_organizations import org_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():  # noqa: ANN201
    org, people = org_with(admin="admin", viewer="viewer")
    for i in range(5):
        emit(action="member.role_changed", actor=people["admin"], organization_id=org.pk,
             target=Target(type="user", id=f"u{i}"), changes={"role": ["member", "admin"]})
    emit(action="member.removed", actor=people["admin"], organization_id=org.pk, outcome="failure",
         target=Target(type="user", id="u9"), metadata={"reason": "removed"})
    return org, people


def test_list_is_newest_first_and_filters_combine(acme) -> None:  # noqa: ANN001
    org, people = acme
    client = signed_in("admin@example.com")
    url = f"/api/v1/organizations/{org.pk}/audit-logs"
    everything = client.get(url).json()["results"]
    assert everything[0]["action"] == "member.removed"
    assert [e["action"] for e in everything].count("member.role_changed") == 5
    assert everything[0]["actor"] == {"type": "user", "id": str(people["admin"].pk), "email": "admin@example.com"}
    only = client.get(url, {"action": "member.role_changed", "target_type": "user", "target_id": "u3"}).json()
    assert [(e["action"], e["target"]["id"]) for e in only["results"]] == [("member.role_changed", "u3")]
    assert len(client.get(url, {"action": "member.*", "outcome": "failure"}).json()["results"]) == 1
    assert len(client.get(url, {"actor_id": str(people["admin"].pk)}).json()["results"]) == 6
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert client.get(url, {"since": future}).json()["results"] == []
    assert client.get(url, {"since": future, "until": "2026-01-01T00:00:00Z"}).status_code == 400


def test_pages_do_not_shift_when_events_arrive(acme) -> None:  # noqa: ANN001
    org, people = acme
    client = signed_in("admin@example.com")
    url = f"/api/v1/organizations/{org.pk}/audit-logs"
    first = client.get(url, {"limit": 3}).json()
    emit(action="member.removed", actor=people["admin"], organization_id=org.pk, metadata={"reason": "left"})
    second = client.get(url, {"limit": 3, "cursor": first["next_cursor"]}).json()
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 6
    assert client.get(url, {"cursor": "abc"}).status_code == 400


def test_other_tenants_events_never_show(acme) -> None:  # noqa: ANN001
    org, _ = acme
    other, _ = org_with("boss@other.test")
    client = signed_in("boss@other.test")
    results = client.get(f"/api/v1/organizations/{other.pk}/audit-logs").json()["results"]
    assert all(e["organization_id"] == str(other.pk) for e in results)
    foreign = AuditEvent.objects.filter(organization_id=org.pk).first()
    assert client.get(f"/api/v1/audit-logs/{foreign.pk}").status_code == 404
    assert client.get(f"/api/v1/organizations/{org.pk}/audit-logs").status_code == 404


def test_audit_read_is_needed(acme) -> None:  # noqa: ANN001
    org, _ = acme
    response = signed_in("viewer@example.com").get(f"/api/v1/organizations/{org.pk}/audit-logs")
    assert (response.status_code, response.json()["permission"]) == (403, "audit:read")
    assert APIClient().get(f"/api/v1/organizations/{org.pk}/audit-logs").status_code == 401


def test_detail_shows_one_event_with_its_hashes(acme) -> None:  # noqa: ANN001
    org, _ = acme
    event = AuditEvent.objects.filter(organization_id=org.pk).order_by("-seq").first()
    body = signed_in("admin@example.com").get(f"/api/v1/audit-logs/{event.pk}").json()
    assert (body["id"], body["hash"], body["prev_hash"]) == (str(event.pk), event.hash, event.prev_hash)
    assert signed_in("viewer@example.com").get(f"/api/v1/audit-logs/{event.pk}").status_code == 404


def test_verify_reports_ok_then_the_first_tampered_event(acme) -> None:  # noqa: ANN001
    org, _ = acme
    client = signed_in("admin@example.com")
    url = f"/api/v1/organizations/{org.pk}/audit-logs/verify"
    ok = client.get(url).json()
    assert ok["ok"] is True and ok["events_checked"] >= 6
    victim = AuditEvent.objects.filter(organization_id=org.pk, action="member.role_changed").order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("UPDATE audit_auditevent SET metadata = '{\"x\": 1}' WHERE id = %s", [victim.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
    broken = client.get(url).json()
    assert (broken["ok"], broken["first_broken_id"]) == (False, str(victim.pk))


def test_stats_count_by_action_outcome_and_day(acme) -> None:  # noqa: ANN001
    org, _ = acme
    stats = signed_in("admin@example.com").get(f"/api/v1/organizations/{org.pk}/audit-logs/stats",
                                               {"action": "member.*"}).json()
    # member.added: the creator, the admin and the viewer
    assert stats["by_action"] == {"member.added": 3, "member.removed": 1, "member.role_changed": 5}
    assert stats["by_outcome"] == {"failure": 1, "success": 8}
    assert sum(stats["by_day"].values()) == stats["total"] == 9


def test_a_time_window_returns_exactly_the_events_inside_it(acme) -> None:  # noqa: ANN001
    org, _ = acme
    chain = list(AuditEvent.objects.filter(organization_id=org.pk).order_by("seq"))
    since, until = chain[3].occurred_at, chain[6].occurred_at
    response = signed_in("admin@example.com").get(f"/api/v1/organizations/{org.pk}/audit-logs",
                                                  {"since": since.isoformat(), "until": until.isoformat()})
    expected = [str(e.pk) for e in chain if since <= e.occurred_at < until][::-1]
    assert [e["id"] for e in response.json()["results"]] == expected and expected
