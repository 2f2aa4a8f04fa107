"""Request-wide behaviour every endpoint inherits: request id, size limit, problem+json, rate headers."""

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core.context import RequestContext, bind_context, unbind_context
from apps.core.errors import PROBLEM_CONTENT_TYPE, problem_for_status
from apps.core.http import client_ip, is_api_path

# A client-sent id is echoed only if it is short and harmless in logs and headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

Handler = Callable[[HttpRequest], HttpResponse]


class RequestIdMiddleware:
    """Gives every request an id (the client's if sane), binds the request context, echoes the id."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = sent if _SANE_REQUEST_ID.match(sent) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = bind_context(RequestContext(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        ))
        try:
            response = self.get_response(request)
        finally:
            unbind_context(token)
        response["X-Request-ID"] = request_id
        return response


class ApiProblemMiddleware:
    """No HTML error page under /api/: any error Django answered outside DRF becomes problem+json.

    Covers the debug 404/500 pages and views that are not DRF's; DRF errors are already problems.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            replacement = problem_for_status(response.status_code, instance=request.path)
            for name in ("Allow", "Retry-After", "WWW-Authenticate"):
                if name in response:
                    replacement[name] = response[name]
            return replacement
        return response


class RequestSizeLimitMiddleware:
    """413 before the body is read when Content-Length says it is over the limit.

    Django hands views no body without a Content-Length, so this is the one place to check; the
    reverse proxy caps raw upload size before Django buffers anything (docs/operations.md).
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_for_status(400, instance=request.path, detail="Invalid Content-Length header.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return problem_for_status(413, instance=request.path,
                                      detail=f"Request bodies are limited to {limit} bytes.")
        return self.get_response(request)


class RateLimitHeadersMiddleware:
    """Copies the decision of a rate-limited route (apps.core.ratelimit) into X-RateLimit-* headers."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        decision = getattr(request, "ratelimit", None)
        if decision is not None:
            response["X-RateLimit-Limit"] = str(decision.limit)
            response["X-RateLimit-Remaining"] = str(decision.remaining)
            response["X-RateLimit-Reset"] = decision.reset_header
        return response
