"""Keyset (cursor) pagination in API.md's shape: `?limit=` (50, max 200) and `?cursor=` →
`{"results": [...], "next_cursor": str | null}`. Stable under concurrent inserts, unlike offsets."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.request import Request

from apps.core.errors import ValidationFailed

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise ValidationFailed(errors=[{"field": "cursor", "detail": "Not a cursor from this API.",
                                        "code": "invalid"}]) from None
    if not isinstance(values, list) or len(values) != 2:
        raise ValidationFailed(errors=[{"field": "cursor", "detail": "Not a cursor from this API.", "code": "invalid"}])
    return values


def limit_from(request: Request) -> int:
    raw = request.query_params.get("limit", DEFAULT_LIMIT)
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(errors=[{"field": "limit", "detail": f"Between 1 and {MAX_LIMIT}.", "code": "invalid"}])
    return limit


def cursor_page(queryset: QuerySet, request: Request, *, order: tuple[str, str]) -> tuple[list[Any], str | None]:
    """One page of `queryset` ordered ascending by (`order[0]`, `order[1]`); the second field breaks ties."""
    first, second = order
    limit = limit_from(request)
    queryset = queryset.order_by(first, second)
    cursor = request.query_params.get("cursor")
    if cursor:
        a, b = _decode(cursor)
        queryset = queryset.filter(Q(**{f"{first}__gt": a}) | Q(**{first: a, f"{second}__gt": b}))
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, first), getattr(last, second)])
    return rows, next_cursor
