"""Health endpoints and Django's error handlers (problem+json under /api/, HTML elsewhere)."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.errors import problem_for_status, problem_response
from apps.core.health import run_checks
from apps.core.http import is_api_path


@never_cache
@require_GET
@transaction.non_atomic_requests
def health_live(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
@transaction.non_atomic_requests
def health_ready(request: HttpRequest) -> JsonResponse:
    """200 when database, cache and broker answer; 503 naming each check that failed."""
    checks = run_checks()
    failing = [name for name, result in checks.items() if result["status"] != "ok"]
    if failing:
        return problem_response(status=503, code="not_ready", title="Service not ready",
                                detail=f"Failing checks: {', '.join(failing)}.", instance=request.path,
                                extra={"checks": checks})
    return JsonResponse({"status": "ok", "checks": checks})


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path):
        return problem_for_status(400, instance=request.path)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path):
        return problem_for_status(403, instance=request.path)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path):
        return problem_for_status(404, instance=request.path, detail="No such resource.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return problem_for_status(500, instance=request.path,
                                  detail="An unexpected error occurred; quote the request id when reporting it.")
    return defaults.server_error(request)
