"""Exporting an organization's audit trail as a file that is written while it is sent (CSV or JSON Lines).

Shared by the API (apis_export.py) and the Security log page (pages.py), like allauth's flows.

Memory stays flat whatever the size of the trail: rows are read through `.iterator(chunk_size=2000)`
(a PostgreSQL server-side cursor) and encoded 2000 at a time, one chunk of the body per batch.

Transactions: with ATOMIC_REQUESTS the view's transaction commits the `audit.exported` event when
the view returns; the body is read after that, in autocommit, where Django declares its server-side
cursor WITH HOLD (PostgreSQL keeps the rows of the moment the body starts). The file holds the
events recorded before the export itself (seq below the export event's), so it never lists itself.

ASGI (how Plinto is served: gunicorn + uvicorn workers): Django reads a synchronous iterator whole
into a list before sending it under ASGI (StreamingHttpResponse.__aiter__). So under ASGI the body is
an asynchronous iterator that pulls one chunk at a time from the synchronous one, on the request's
thread-sensitive thread (the thread that owns the database connection and its cursor).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections, models
from django.db.models import F, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.cache import add_never_cache_headers

from apps.audit.documents import event_document
from apps.audit.models import AuditEvent
from apps.audit.services import Actor, emit

if TYPE_CHECKING:
    from apps.orgs.models import Organization

FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CHUNK_SIZE = 2000  # rows read per round trip, and encoded per chunk of the body
CSV_COLUMNS = ("id", "occurred_at", "action", "outcome", "actor_type", "actor_id", "actor_email", "target_type",
               "target_id", "ip", "user_agent", "request_id", "changes", "metadata", "prev_hash", "hash")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Chunks = Generator[bytes, None, None]


# --- encoding -------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    """The cell's text; one that a spreadsheet would run as a formula gets a leading single quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def timestamp(value: datetime) -> str:
    """What UtcIsoText makes PostgreSQL print, for the other databases."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class UtcIsoText(Func):
    """A timestamp as ISO 8601 text in UTC, always with microseconds (2026-01-31T09:30:00.000000Z),
    formatted by PostgreSQL: Django's psycopg timestamp loader is pure Python, and skipping it takes
    about 40% off the time of a CSV export."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = TextField()


# The CSV reads plain values rather than model instances, JSON as the database prints it rather than
# json.loads then json.dumps, and on PostgreSQL the time as text. Model fields come first and the
# annotations last, the order Django selects them in, so rows arrive as fetched.
_CSV_VALUES = ("id", "action", "outcome", "actor_type", "actor_id", "actor_email", "target_type", "target_id", "ip",
               "user_agent", "request_id", "prev_hash", "hash", "occurred", "changes_json", "metadata_json")


def _csv_values(events: QuerySet[AuditEvent]) -> QuerySet:
    on_postgresql = connections[events.db].vendor == "postgresql"
    return events.annotate(
        occurred=UtcIsoText("occurred_at") if on_postgresql else F("occurred_at"),
        changes_json=Cast("changes", TextField()), metadata_json=Cast("metadata", TextField()),
    ).values_list(*_CSV_VALUES)


def csv_row(values: tuple[Any, ...]) -> list[str]:
    """One row in CSV_COLUMNS order from the values of _CSV_VALUES; every cell neutralized."""
    (event_id, action, outcome, actor_type, actor_id, actor_email, target_type, target_id, ip, user_agent,
     request_id, prev_hash, hash_, occurred, changes, metadata) = values
    occurred_at = occurred if isinstance(occurred, str) else timestamp(occurred)
    return [csv_cell(value) for value in (
        event_id, occurred_at, action, outcome, actor_type, actor_id, actor_email, target_type, target_id, ip,
        user_agent, request_id, changes, metadata, prev_hash, hash_)]


def _batches(rows: QuerySet) -> Iterator[list[Any]]:
    iterator = rows.iterator(chunk_size=CHUNK_SIZE)
    while batch := list(islice(iterator, CHUNK_SIZE)):
        yield batch


def csv_chunks(events: QuerySet[AuditEvent]) -> Chunks:
    """A header line, then one chunk per batch of rows (RFC 4180: CRLF line ends, quoted as needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode()
    for batch in _batches(_csv_values(events)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(map(csv_row, batch))
        yield buffer.getvalue().encode()


def jsonl_chunks(events: QuerySet[AuditEvent]) -> Chunks:
    """One JSON object a line, in the API's shape, one chunk per batch of rows."""
    for batch in _batches(events):
        yield "".join(_json(event_document(event)) + "\n" for event in batch).encode()


ENCODERS = {"csv": csv_chunks, "jsonl": jsonl_chunks}


# --- the export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditExport:
    filename: str
    content_type: str
    chunks: Chunks  # lazy: nothing is read before the body is sent


def audit_log_export(*, actor: Actor | models.Model | None, organization: Organization,
                     events: QuerySet[AuditEvent], format: str, filters: dict[str, Any]) -> AuditExport:
    """Record the export (`audit.exported`, in the caller's transaction) and return its file, unread.

    `events` is the organization's filtered trail (selectors.event_list); it is narrowed again to the
    organization's own chain, and to the events recorded before this export.
    """
    if format not in ENCODERS:
        raise ValueError(f"format must be one of {FORMATS}")
    exported = emit(action="audit.exported", actor=actor, organization_id=organization.pk,
                    metadata={"format": format, "filters": filters})
    rows = events.filter(chain_key=exported.chain_key, seq__lt=exported.seq).order_by("-seq")
    filename = f"audit-{organization.slug}-{exported.occurred_at.astimezone(UTC):%Y-%m-%d}.{format}"
    return AuditExport(filename=filename, content_type=CONTENT_TYPES[format], chunks=ENCODERS[format](rows))


# --- HTTP -----------------------------------------------------------------------------------------


class AsyncChunks:
    """An asynchronous iterator over a synchronous chunk generator, for ASGI: one chunk per `next()`,
    each run on the request's thread-sensitive thread. `close()` (called by the response, on that
    thread too) closes the generator and with it the database cursor."""

    def __init__(self, chunks: Chunks) -> None:
        self._chunks = chunks
        self._next = sync_to_async(next, thread_sensitive=True)

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._next(self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        self._chunks.close()


def export_response(request: HttpRequest, export: AuditExport) -> StreamingHttpResponse:
    """The file as an attachment, streamed the way the server in front of Django can stream it."""
    django_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    body = AsyncChunks(export.chunks) if isinstance(django_request, ASGIRequest) else export.chunks
    response = StreamingHttpResponse(body, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    add_never_cache_headers(response)  # an audit trail has no business in a shared cache
    return response
