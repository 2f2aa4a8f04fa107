"""Every class of error answers RFC 9457 problem+json with the fields API.md promises, never HTML."""

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code", "request_id"}


def assert_problem(response, status: int, code: str) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "https://plinto.dev/problems/" + code.replace("_", "-")
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_validation_error_lists_each_field(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/_test/echo", {"email": "nope", "tags": ["ok", "toolong"]}, format="json")
    body = assert_problem(response, 400, "validation_failed")
    assert body["instance"] == "/api/v1/_test/echo"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {("email", "invalid"), ("tags.1", "max_length")}


def test_missing_field_is_reported_with_required_code(api_client: APIClient) -> None:
    body = assert_problem(api_client.post("/api/v1/_test/echo", {}, format="json"), 400, "validation_failed")
    assert body["errors"] == [{"field": "email", "detail": "This field is required.", "code": "required"}]


def test_malformed_json_is_a_problem(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/_test/echo", data='{"email": ', content_type="application/json")
    assert_problem(response, 400, "malformed_json")


def test_unsupported_media_type_is_415(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/_test/echo", data="email=a@b.c",
                               content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_body_over_the_limit_is_413(api_client: APIClient) -> None:
    big = json.dumps({"email": "a@example.com", "pad": "x" * 2000})
    assert_problem(api_client.post("/api/v1/_test/echo", data=big, content_type="application/json"),
                   413, "payload_too_large")


def test_anonymous_call_is_401_with_challenge(api_client: APIClient) -> None:
    assert_problem(api_client.get("/api/v1/audit/event-types"), 401, "not_authenticated")


def test_forbidden_is_403_with_the_reason(user_client: APIClient) -> None:
    body = assert_problem(user_client.get("/api/v1/_test/forbidden"), 403, "permission_denied")
    assert "test:forbidden" in body["detail"]


def test_unknown_api_route_is_404_problem(api_client: APIClient) -> None:
    body = assert_problem(api_client.get("/api/v1/no/such/thing"), 404, "not_found")
    assert body["instance"] == "/api/v1/no/such/thing"


@override_settings(DEBUG=True)
def test_unknown_api_route_is_a_problem_even_in_debug(api_client: APIClient) -> None:
    assert_problem(api_client.get("/api/v1/no/such/thing"), 404, "not_found")


def test_unknown_page_outside_the_api_stays_html(api_client: APIClient) -> None:
    response = api_client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_405(user_client: APIClient) -> None:
    body = assert_problem(user_client.delete("/api/v1/audit/event-types"), 405, "method_not_allowed")
    assert "DELETE" in body["detail"]


def test_throttled_is_429_with_retry_after_and_limit_headers(user_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "API": "2/1m"}
    first = user_client.get("/api/v1/audit/event-types")
    assert first.status_code == 200
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert user_client.get("/api/v1/audit/event-types").status_code == 200
    third = user_client.get("/api/v1/audit/event-types")
    assert_problem(third, 429, "rate_limited")
    assert 1 <= int(third["Retry-After"]) <= 60
    assert third["X-RateLimit-Remaining"] == "0"
    assert int(third["X-RateLimit-Reset"]) > 0


def test_rate_limit_can_be_switched_off(user_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.RATELIMITS = {**settings.RATELIMITS, "API": "1/1m"}
    settings.RATELIMIT_ENABLED = False
    assert [user_client.get("/api/v1/audit/event-types").status_code for _ in range(3)] == [200, 200, 200]


def test_server_error_is_500_problem_without_traceback() -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/_test/crash")
    body = assert_problem(response, 500, "server_error")
    text = response.content.decode()
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert body["detail"].startswith("An unexpected error occurred")


@override_settings(DEBUG=True)
def test_server_error_in_debug_is_still_a_problem_on_the_api() -> None:
    response = APIClient(raise_request_exception=False).get("/api/v1/_test/crash")
    assert_problem(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()
