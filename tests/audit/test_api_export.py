"""POST /api/v1/organizations/{org_id}/audit-logs/export (apps/audit/apis_export.py, apps/audit/exports.py).

"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, transaction
from django.db.models import DateTimeField, Value
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.apis import AuditEventSerializer
from apps.audit.exports import CSV_COLUMNS, UtcIsoText, timestamp
from apps.audit.hashing import event_hash
from apps.audit.models import AuditChain, AuditEvent
from apps.audit.selectors import EventFilters, event_list
from apps.audit.services import Actor, Target, emit
from apps.core.context import RequestContext, bind_context, unbind_context
from apps.orgs.models import Organization
from apps.orgs.services.organizations import member_add, organization_create
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in, signin

pytestmark = pytest.mark.django_db


def org_with(slug: str = "acme", owner_email: str = "owner@example.com",
             **members: str) -> tuple[Organization, dict[str, User]]:
    """An organization owned by `owner_email`, with extra members {email_prefix: role}."""
    owner = User.objects.filter(email=owner_email).first() or UserFactory(email=owner_email)
    org = organization_create(user=owner, name=slug.title(), slug=slug)
    people = {"owner": owner}
    for name, role in members.items():
        people[name] = User.objects.filter(email=f"{name}@example.com").first() or UserFactory(
            email=f"{name}@example.com")
        member_add(organization=org, user=people[name], role=role, actor=owner, source="test")
    return org, people


def url(org: Organization | str) -> str:
    return f"/api/v1/organizations/{getattr(org, 'pk', org)}/audit-logs/export"


def body(response: StreamingHttpResponse) -> str:
    assert response.streaming, "the export must be a StreamingHttpResponse"
    return b"".join(response.streaming_content).decode()


def csv_rows(response: StreamingHttpResponse) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body(response), newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def jsonl_rows(response: StreamingHttpResponse) -> list[dict[str, Any]]:
    text = body(response)
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def expected_ids(org: Organization, **filters: Any) -> list[str]:
    """What the list API shows for these filters, newest first, up to the latest export (excluded):
    the file of that export must hold exactly these."""
    events = event_list(organization_id=org.pk, filters=EventFilters(**filters))
    latest = AuditEvent.objects.filter(chain_key=str(org.pk), action="audit.exported").order_by("-seq").first()
    if latest is not None:
        events = events.filter(seq__lt=latest.seq)
    return [str(pk) for pk in events.values_list("pk", flat=True)]


def exports_of(org: Organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain_key=str(org.pk), action="audit.exported").order_by("seq"))


@pytest.fixture
def acme() -> tuple[Organization, dict[str, User]]:
    """Acme with an admin, a member and a variety of events: sign-ins, a failure, role changes."""
    org, people = org_with(admin="admin", member="member", viewer="viewer")
    for user in (people["admin"], people["member"]):
        emit(action="user.signed_in", actor=user, organization_id=org.pk, target=user, metadata={"method": "password"})
    emit(action="user.signin_failed", actor=people["member"], organization_id=org.pk, outcome="failure",
         metadata={"method": "password", "reason": "bad_password"})
    emit(action="member.role_changed", actor=people["owner"], organization_id=org.pk, target=people["member"],
         changes={"role": ["viewer", "member"]})
    return org, people


# --- the file ------------------------------------------------------------------------------------


def test_csv_export_streams_every_event_newest_first_and_records_the_export(acme: tuple) -> None:
    org, people = acme
    before = set(AuditEvent.objects.values_list("pk", flat=True))

    response = signed_in("admin@example.com").post(url(org), {"format": "csv"}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.now().date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="audit-acme-{today}.csv"'
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert [row["id"] for row in rows] == expected_ids(org)
    assert len(rows) == AuditEvent.objects.filter(pk__in=before, chain_key=str(org.pk)).count() > 5
    changed = AuditEvent.objects.get(chain_key=str(org.pk), action="member.role_changed")
    assert rows[0] == {
        "id": str(changed.pk), "occurred_at": changed.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": "member.role_changed", "outcome": "success", "actor_type": "user",
        "actor_id": str(people["owner"].pk), "actor_email": "owner@example.com", "target_type": "user",
        "target_id": str(people["member"].pk), "ip": changed.ip or "", "user_agent": changed.user_agent,
        "request_id": changed.request_id, "changes": '{"role": ["viewer", "member"]}', "metadata": "{}",
        "prev_hash": changed.prev_hash, "hash": changed.hash,
    }
    # the export is itself an event of the organization's chain, by the admin, naming format and filters;
    # the file holds what was there before it, not the export itself
    [exported] = exports_of(org)
    assert (exported.actor_id, exported.actor_email) == (str(people["admin"].pk), "admin@example.com")
    assert exported.metadata == {"format": "csv", "filters": {}}
    assert str(exported.pk) not in {row["id"] for row in rows}


def test_jsonl_export_has_one_api_shaped_object_a_line(acme: tuple) -> None:
    org, _ = acme

    response = signed_in("owner@example.com").post(url(org), {"format": "jsonl"}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].endswith(f'filename="audit-acme-{timezone.now().date().isoformat()}.jsonl"')
    lines = jsonl_rows(response)
    assert [line["id"] for line in lines] == expected_ids(org)
    events = AuditEvent.objects.in_bulk([line["id"] for line in lines])
    for line in lines:  # exactly GET /audit-logs/{id}'s body
        assert line == json.loads(json.dumps(AuditEventSerializer(events[uuid.UUID(line["id"])]).data))
    assert lines[0]["changes"] == {"role": ["viewer", "member"]} and lines[0]["actor"]["email"] == "owner@example.com"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize(("_case", "filters"), [
    ("action exact", {"action": "user.signed_in"}),
    ("action prefix", {"action": "member.*"}),
    ("outcome", {"outcome": "failure"}),
    ("actor", {"actor_id": "MEMBER"}),
    ("target", {"target_type": "user", "target_id": "MEMBER"}),
    ("since and until", {"since": "THIRD", "until": "LAST"}),
    ("nothing matches", {"action": "domain.verified"}),
])
def test_export_applies_the_list_filters(acme: tuple, fmt: str, _case: str, filters: dict[str, str]) -> None:
    org, people = acme
    events = list(AuditEvent.objects.filter(chain_key=str(org.pk)).order_by("seq"))
    stand_ins = {"MEMBER": str(people["member"].pk), "THIRD": events[2].occurred_at, "LAST": events[-1].occurred_at}
    filters = {name: stand_ins.get(value, value) for name, value in filters.items()}
    sent = {name: value.isoformat() if isinstance(value, datetime) else value for name, value in filters.items()}

    response = signed_in("admin@example.com").post(url(org), {"format": fmt, "filters": sent}, format="json")

    assert response.status_code == 200
    exported = csv_rows(response) if fmt == "csv" else jsonl_rows(response)
    wanted = expected_ids(org, **filters)
    assert [row["id"] for row in exported] == wanted
    assert (wanted == []) == (_case == "nothing matches")
    recorded = exports_of(org)[-1].metadata
    assert recorded["format"] == fmt and set(recorded["filters"]) == set(filters)


@pytest.mark.parametrize("moment", ["2026-01-31T09:30:00+00:00", "2026-07-01T23:59:59.000001+02:00"])
def test_csv_times_read_the_same_from_postgresql_and_from_python(moment: str) -> None:
    value = datetime.fromisoformat(moment)
    printed = AuditEvent.objects.annotate(t=UtcIsoText(Value(value, output_field=DateTimeField()))).values_list(
        "t", flat=True)
    emit(action="user.signed_in", metadata={"method": "password"})

    assert printed.first() == timestamp(value) == value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_cells_a_spreadsheet_would_run_are_neutralized_in_csv_only() -> None:
    org, _ = org_with(admin="admin")
    token = bind_context(RequestContext(request_id="req-1", ip="203.0.113.9",
                                        user_agent='=HYPERLINK("https://evil.example","click")'))
    try:
        event = emit(action="member.role_changed", organization_id=org.pk,
                     actor=Actor(type="user", id="+1+1", email="@SUM(A1:A9)@example.com"),
                     target=Target(type="-2+3", id="\tcmd|' /C calc'!A0"), changes={"=role": ["a", "=b"]})
        crlf = emit(action="member.role_changed", organization_id=org.pk, actor=Actor(type="user", id="\r=1"),
                    target=Target(type="user", id="a=b-c"))
    finally:
        unbind_context(token)

    response = signed_in("admin@example.com").post(url(org), {"format": "csv"}, format="json")
    rows = {row["id"]: row for row in csv_rows(response)}

    row = rows[str(event.pk)]
    assert row["user_agent"] == '\'=HYPERLINK("https://evil.example","click")'
    assert (row["actor_id"], row["actor_email"]) == ("'+1+1", "'@SUM(A1:A9)@example.com")
    assert (row["target_type"], row["target_id"]) == ("'-2+3", "'\tcmd|' /C calc'!A0")
    assert row["changes"] == '{"=role": ["a", "=b"]}'  # JSON starts with "{": nothing to neutralize
    assert rows[str(crlf.pk)]["actor_id"] == "'\r=1"
    assert rows[str(crlf.pk)]["target_id"] == "a=b-c"  # only the first character matters
    # the raw values stay intact in JSON Lines, where no spreadsheet evaluates them
    lines = {line["id"]: line for line in jsonl_rows(
        signed_in("admin@example.com").post(url(org), {"format": "jsonl"}, format="json"))}
    assert lines[str(event.pk)]["actor"]["id"] == "+1+1"
    assert lines[str(event.pk)]["user_agent"].startswith("=HYPERLINK")


def test_other_tenants_and_platform_events_are_never_exported() -> None:
    acme, people = org_with("acme", admin="admin")
    globex, _ = org_with("globex", owner_email="boss@example.com", admin="admin")  # the same admin, in both
    for org in (acme, globex, acme, globex):
        emit(action="user.signed_in", actor=people["admin"], organization_id=org.pk, metadata={"method": "password"})
    emit(action="user.signed_in", actor=people["admin"], metadata={"method": "password"})  # platform chain
    client = signed_in("admin@example.com")

    for filters in ({}, {"actor_id": str(people["admin"].pk)}, {"action": "user.*"}):
        exported = [row["id"] for row in csv_rows(client.post(url(acme), {"format": "csv", "filters": filters},
                                                              format="json"))]
        chains = set(AuditEvent.objects.filter(pk__in=exported).values_list("chain_key", flat=True))
        assert exported and chains == {str(acme.pk)}
        assert len(exported) == len(expected_ids(acme, **filters))


# --- who may export ------------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "email", "status"), [
    ("anonymous", None, 401),
    ("stranger", "stranger@example.com", 404),
    ("member without audit:read", "member@example.com", 403),
    ("viewer without audit:read", "viewer@example.com", 403),
    ("billing without audit:read", "billing@example.com", 403),
    ("admin", "admin@example.com", 200),
])
def test_export_needs_membership_and_audit_read(_case: str, email: str | None, status: int) -> None:
    org, _ = org_with(admin="admin", member="member", viewer="viewer", billing="billing")
    org_with("other", owner_email="stranger@example.com")
    client = signed_in(email) if email else APIClient()
    count = AuditEvent.objects.count()

    response = client.post(url(org), {"format": "csv"}, format="json")

    assert response.status_code == status
    if status == 200:
        assert [row["id"] for row in csv_rows(response)] == expected_ids(org)
        assert len(exports_of(org)) == 1
        return
    assert response["Content-Type"] == "application/problem+json"
    if status == 403:
        assert response.json()["permission"] == "audit:read"
    assert AuditEvent.objects.count() == count  # no export recorded, nothing streamed


def test_an_unknown_organization_is_a_404_like_a_strangers() -> None:
    org_with(admin="admin")
    client = signed_in("admin@example.com")
    assert client.post(url(uuid.uuid4()), {"format": "csv"}, format="json").status_code == 404
    assert client.post(url("not-a-uuid"), {"format": "csv"}, format="json").status_code == 404


@pytest.mark.parametrize(("_case", "payload", "field"), [
    ("no format", {}, "format"),
    ("unknown format", {"format": "xlsx"}, "format"),
    ("unknown filter", {"format": "csv", "filters": {"actor": "x"}}, "filters"),
    ("filters not an object", {"format": "csv", "filters": ["action"]}, "filters.non_field_errors"),
    ("bad outcome", {"format": "csv", "filters": {"outcome": "maybe"}}, "filters.outcome"),
    ("until before since", {"format": "csv", "filters": {"since": "2026-02-01T00:00:00Z",
                                                         "until": "2026-01-01T00:00:00Z"}}, "filters.until"),
])
def test_invalid_requests_are_400_and_record_nothing(_case: str, payload: dict, field: str) -> None:
    org, _ = org_with(admin="admin")
    client = signed_in("admin@example.com")
    count = AuditEvent.objects.count()

    response = client.post(url(org), payload, format="json")

    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["errors"]} or field.endswith("non_field_errors")
    assert AuditEvent.objects.count() == count


def test_a_client_asking_for_the_file_type_is_not_refused() -> None:
    org, _ = org_with(admin="admin")
    client = signed_in("admin@example.com")
    for accept, fmt in (("text/csv", "csv"), ("application/x-ndjson", "jsonl"), ("application/json", "csv")):
        response = client.post(url(org), {"format": fmt}, format="json", HTTP_ACCEPT=accept)
        assert response.status_code == 200, (accept, response.content if not response.streaming else "")
        body(response)


# --- streaming: outside the request's transaction, under ASGI, in flat memory -----------------------


@transaction.atomic
def bulk_events(organization_id: Any, count: int) -> None:
    """Append `count` valid events to the organization's chain cheaply: hashes precomputed and chained
    with apps.audit.hashing.event_hash, rows sent as text with PostgreSQL COPY (the model guards
    updates only; bulk_create is ~20 times slower here), and the chain head moved to the last one."""
    chain_key = str(organization_id)
    head = AuditChain.objects.select_for_update().get(key=chain_key)
    seq, prev_hash = head.length, head.head_hash
    start = timezone.now()
    actions = ("user.signed_in", "member.added", "session.revoked", "user.updated")
    people = [str(uuid.uuid4()) for _ in range(97)]  # a realistic handful of actors and targets
    changes, metadata = {"first_name": ["Ada", "Grace"]}, {"method": "password"}
    json_text = {"changes": json.dumps(changes), "metadata": json.dumps(metadata)}
    columns = [field.attname for field in AuditEvent._meta.concrete_fields]
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {AuditEvent._meta.db_table} ({', '.join(columns)}) FROM STDIN",
            writer=QueuedLibpqWriter(cursor.cursor)) as copy:
        for n in range(count):
            seq += 1
            event = SimpleNamespace(
                id=uuid.uuid4(), chain_key=chain_key, seq=seq, occurred_at=start + timedelta(milliseconds=n),
                action=actions[n % len(actions)], outcome="success", actor_type="user", actor_id=people[n % 97],
                actor_email=f"user{n % 97}@example.com", organization_id=organization_id, target_type="user",
                target_id=people[n % 89], ip="203.0.113.7",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
                request_id=f"req-{n}", changes=changes, metadata=metadata, prev_hash=prev_hash,
            )
            event.hash = prev_hash = event_hash(event)
            # COPY's text format: tab-separated; none of these values holds a tab, newline or backslash
            copy.write("\t".join(json_text.get(name) or str(getattr(event, name)) for name in columns) + "\n")
    AuditChain.objects.filter(key=chain_key).update(head_hash=prev_hash, length=seq, updated_at=timezone.now())


MEMORY_BOUND = 30 * 1024 * 1024
BULK_EVENTS = 200_000


def test_a_200k_event_export_streams_in_bounded_memory() -> None:
    """Read through Django's ASGI path, as Plinto is served (gunicorn + uvicorn workers), the way
    ASGIHandler.send_response reads a body (the response's __aiter__): were the body a synchronous
    iterator, Django would read it whole into a list first. Under WSGI the body is the same generator."""
    org, _ = org_with(admin="admin")
    bulk_events(org.pk, BULK_EVENTS)
    rows = AuditEvent.objects.filter(chain_key=str(org.pk)).count()
    token = signin("admin@example.com").json()["tokens"]["access_token"]

    async def download() -> tuple[int, bool, int, int, bytes]:
        response = await AsyncClient().post(url(org), {"format": "csv"}, content_type="application/json",
                                            headers={"Authorization": f"Bearer {token}"})
        size = count = 0
        first = b""
        async for chunk in response:
            first = first or chunk.split(b"\r\n", 1)[0]
            size, count = size + len(chunk), count + 1
        return response.status_code, response.is_async, size, count, first

    tracemalloc.start()
    try:
        status, is_async, size, chunks, header = async_to_sync(download)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (status, header.decode()) == (200, ",".join(CSV_COLUMNS))
    assert chunks == 1 + math.ceil(rows / 2000)  # the header, then 2000 rows a chunk
    assert size > 2 * MEMORY_BOUND  # holding the file, or its rows, would break the bound
    assert peak < MEMORY_BOUND, f"peak {peak / 2**20:.1f} MiB while streaming {size / 2**20:.1f} MiB"
    assert is_async


def test_under_wsgi_the_body_is_a_generator_read_while_it_is_sent() -> None:
    org, _ = org_with(admin="admin")
    bulk_events(org.pk, 4100)

    response = signed_in("admin@example.com").post(url(org), {"format": "csv"}, format="json")

    assert response.streaming and not response.is_async
    chunks = [len(chunk) for chunk in response.streaming_content]
    assert len(chunks) == 1 + 3 and max(chunks) < 2 * sum(chunks) / 3  # the header, then 2000 rows a chunk


@pytest.mark.django_db(transaction=True)
def test_the_body_is_read_after_the_request_transaction_committed_through_django_asgi_handler() -> None:
    """Production's path end to end: ASGIHandler on its own thread and connection, ATOMIC_REQUESTS
    committing when the view returns, rows read afterwards in autocommit (a WITH HOLD cursor)."""
    org, _ = org_with(admin="admin")
    bulk_events(org.pk, 4500)
    token = signin("admin@example.com").json()["tokens"]["access_token"]

    async def call(payload: dict) -> tuple[int, dict[bytes, bytes], list[bytes]]:
        data = json.dumps(payload).encode()
        sent = False
        messages: list[dict] = []

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            await asyncio.Event().wait()  # never disconnects; cancelled once the response is sent
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            messages.append(message)

        path = url(org)
        await ASGIHandler()({
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(data)).encode()), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }, receive, send)
        start = messages[0]
        return start["status"], dict(start["headers"]), [m.get("body", b"") for m in messages[1:]]

    status, headers, parts = async_to_sync(call)({"format": "csv", "filters": {"action": "user.signed_in"}})
    assert status == 200 and headers[b"Content-Type"] == b"text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(parts).decode(), newline="")))
    assert [row["id"] for row in rows] == expected_ids(org, action="user.signed_in")
    assert len(rows) == 4500 // 4  # every fourth bulk event is a sign-in

    status, _, parts = async_to_sync(call)({"format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(parts).decode().splitlines()]
    assert status == 200 and [line["id"] for line in lines] == expected_ids(org)

    # WSGI likewise: the test client's view commits, then the body is read
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").post(url(org), {"format": "csv"}, format="json")
    assert [row["id"] for row in csv_rows(response)] == expected_ids(org)
    assert [e.metadata["format"] for e in exports_of(org)] == ["csv", "jsonl", "csv"]  # each one committed
