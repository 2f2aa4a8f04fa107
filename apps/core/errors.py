"""One error hierarchy and one RFC 9457 problem+json shape for every error the API returns.

Domain code raises `ApplicationError` subclasses. DRF's own exceptions, Django's Http404 /
PermissionDenied / ValidationError and Django-level failures outside DRF (unknown routes, 500s,
oversized bodies) are all turned into the same body:

    {"type", "title", "status", "detail", "instance", "code", "request_id"}

plus `errors: [{field, detail, code}]` for validation failures (see ../shared/API.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.serializers import as_serializer_error

from apps.core.context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApplicationError(Exception):
    """Base of every error Plinto answers on purpose. Subclasses set status, code and title."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)


class ValidationFailed(ApplicationError):
    status, code, title = 400, "validation_failed", "Invalid input"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail or "One or more fields are invalid.", extra={"errors": errors or []})


class MalformedRequest(ApplicationError):
    status, code, title = 400, "malformed_request", "Malformed request body"


class NotAuthenticated(ApplicationError):
    status, code, title = 401, "not_authenticated", "Authentication required"


class PermissionDenied(ApplicationError):
    status, code, title = 403, "permission_denied", "Permission denied"


class ResourceNotFound(ApplicationError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApplicationError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ApplicationError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class RateLimited(ApplicationError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, *, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"Rate limit exceeded; retry in {retry_after} s.",
                         headers={"Retry-After": str(retry_after)})


# DRF's exception classes → (status, code, title). Statuses follow DRF except where API.md differs.
_DRF_PROBLEMS: list[tuple[type[Exception], int, str, str]] = [
    (drf_exceptions.ValidationError, 400, "validation_failed", "Invalid input"),
    (drf_exceptions.ParseError, 400, "malformed_json", "Malformed JSON"),
    (drf_exceptions.AuthenticationFailed, 401, "authentication_failed", "Authentication failed"),
    (drf_exceptions.NotAuthenticated, 401, "not_authenticated", "Authentication required"),
    (drf_exceptions.PermissionDenied, 403, "permission_denied", "Permission denied"),
    (drf_exceptions.NotFound, 404, "not_found", "Not found"),
    (drf_exceptions.MethodNotAllowed, 405, "method_not_allowed", "Method not allowed"),
    (drf_exceptions.NotAcceptable, 406, "not_acceptable", "Not acceptable"),
    (drf_exceptions.UnsupportedMediaType, 415, "unsupported_media_type", "Unsupported media type"),
    (drf_exceptions.Throttled, 429, "rate_limited", "Too many requests"),
]

# Problems for bare statuses, used where no exception object tells more (Django-level errors).
STATUS_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Authentication required"),
    403: ("permission_denied", "Permission denied"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
    500: ("server_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}


def problem_response(*, status: int, code: str, title: str, detail: str, instance: str | None,
                     extra: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {
        "type": settings.PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": current_request_id(),
    }
    body.update(extra or {})
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE,
                            json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_for_status(status: int, *, instance: str | None, detail: str | None = None) -> JsonResponse:
    code, title = STATUS_PROBLEMS.get(status, ("error", "Error"))
    return problem_response(status=status, code=code, title=title, detail=detail or title, instance=instance)


def validation_errors(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten DRF's nested error details into `[{field, detail, code}]` (field null = whole body)."""
    if isinstance(detail, dict):
        rows: list[dict[str, Any]] = []
        for key, value in detail.items():
            if key == "non_field_errors" and not prefix:
                rows += validation_errors(value, "")
            else:
                rows += validation_errors(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(detail, list):
        rows = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                rows += validation_errors(value, f"{prefix}.{index}" if prefix else str(index))
            else:
                rows += validation_errors(value, prefix)
        return rows
    return [{"field": prefix or None, "detail": str(detail), "code": getattr(detail, "code", "invalid")}]


def _drf_problem(exc: drf_exceptions.APIException) -> tuple[int, str, str]:
    for cls, status, code, title in _DRF_PROBLEMS:
        if isinstance(exc, cls):
            return status, code, title
    status = exc.status_code
    code, title = STATUS_PROBLEMS.get(status, (exc.default_code, "Error"))
    return status, code, title


def _set_rollback(view: Any) -> None:
    """Roll back the ATOMIC_REQUESTS transaction of an answered error, unless the view opted out.

    Views marked non_atomic_requests commit their own work (e.g. a failed sign-in's audit event);
    DRF's own set_rollback would still poison an enclosing transaction, such as a test's.
    """
    skip = getattr(getattr(view, "dispatch", None), "_non_atomic_requests", set())
    for db in connections.all():
        if db.settings_dict["ATOMIC_REQUESTS"] and db.in_atomic_block and db.alias not in skip:
            db.set_rollback(True)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse | None:
    """DRF's EXCEPTION_HANDLER: every handled error becomes problem+json; unknown ones stay 500s."""
    request = context.get("request")
    instance = request.path if request is not None else None

    if isinstance(exc, ApplicationError):
        _set_rollback(context.get("view"))
        return problem_response(status=exc.status, code=exc.code, title=exc.title, detail=exc.detail,
                                instance=instance, extra=exc.extra, headers=exc.headers)
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a bug: Django answers 500 (problem+json on /api/), logged with traceback

    _set_rollback(context.get("view"))
    status, code, title = _drf_problem(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = "One or more fields are invalid."
        extra["errors"] = validation_errors(exc.detail)
    else:
        detail = str(exc.detail)
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return problem_response(status=status, code=code, title=title, detail=detail, instance=instance,
                            extra=extra, headers=headers)
