"""`Idempotency-Key` on creating POSTs (API.md): a replay within 24 h returns the first response.

The key is scoped to the caller's credentials (Authorization, X-API-Key or session cookie) and the
path, so two clients never see each other's answers. A replay with a different body is refused
(422 `idempotency_key_reused`); one that arrives while the first is still running gets 409
`idempotency_in_progress`. Server errors (5xx) and rate limits are not stored: retrying them is
the point. Sign-in, MFA and passkey answers are never stored: they carry credentials.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from apps.core.errors import problem_response
from apps.core.http import is_api_path

# Answers that carry credentials (tokens, backup codes, secrets) are never stored, so never replayed.
NOT_STORED = ("/api/v1/auth/", "/api/v1/mfa/", "/api/v1/passkeys/", "/api/v1/invitations/accept")
TTL_SECONDS = 24 * 3600
LOCK_SECONDS = 60
_SANE_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,255}$")


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if (request.method != "POST" or not key or not is_api_path(request.path)
                or request.path.startswith(NOT_STORED)):
            return self.get_response(request)
        if not _SANE_KEY.match(key):
            return problem_response(status=400, code="invalid_idempotency_key", title="Invalid Idempotency-Key",
                                    detail="Use 1–255 letters, digits, '.', '_', ':' or '-'.", instance=request.path)
        credentials = (request.META.get("HTTP_AUTHORIZATION", "") + request.META.get("HTTP_X_API_KEY", "")
                       + request.COOKIES.get("sessionid", "") + request.COOKIES.get("__Host-sessionid", ""))
        scope = _digest(credentials.encode(), request.path.encode(), key.encode())
        body_hash = _digest(request.body)
        stored = cache.get(f"idem:{scope}")
        if stored is not None:
            if stored["body_hash"] != body_hash:
                return problem_response(status=422, code="idempotency_key_reused", title="Idempotency-Key reused",
                                        detail="This key was used with a different request body.",
                                        instance=request.path)
            response = HttpResponse(stored["content"].encode(), status=stored["status"],
                                    content_type=stored["content_type"])
            response["Idempotent-Replayed"] = "true"
            return response
        if not cache.add(f"idem-lock:{scope}", "1", timeout=LOCK_SECONDS):
            return problem_response(status=409, code="idempotency_in_progress", title="Request in progress",
                                    detail="A request with this Idempotency-Key is still being processed.",
                                    instance=request.path)
        try:
            response = self.get_response(request)
            if (response.status_code < 500 and response.status_code not in (409, 429) and not response.streaming
                    and "no-store" not in response.get("Cache-Control", "")):  # e.g. a new API key's secret
                cache.set(f"idem:{scope}", {"body_hash": body_hash, "status": response.status_code,
                                            "content_type": response.get("Content-Type", "application/json"),
                                            "content": response.content.decode()}, timeout=TTL_SECONDS)
        finally:
            cache.delete(f"idem-lock:{scope}")
        return response

