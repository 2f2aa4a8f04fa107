import io
import json
import logging
import uuid

import pytest
from rest_framework.test import APIClient

from apps.core.logging import RequestIdFilter, json_formatter

pytestmark = pytest.mark.django_db


def test_sane_client_request_id_is_echoed(api_client: APIClient) -> None:
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID="client-abc.123")
    assert response["X-Request-ID"] == "client-abc.123"


@pytest.mark.parametrize(("_case", "sent"), [
    ("newline injection", "abc\r\nSet-Cookie: x=1"),
    ("too long", "a" * 200),
    ("empty", ""),
    ("spaces", "has spaces"),
])
def test_unsafe_client_request_id_is_replaced(api_client: APIClient, _case: str, sent: str) -> None:
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert uuid.UUID(hex=response["X-Request-ID"])


def test_every_response_has_a_request_id_even_errors(api_client: APIClient) -> None:
    for path in ("/health/live", "/api/v1/audit/event-types", "/api/v1/nope", "/nope"):
        assert api_client.get(path)["X-Request-ID"]


def test_each_request_gets_its_own_id(api_client: APIClient) -> None:
    ids = {api_client.get("/health/live")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.urls("tests.core.urls")
def test_log_lines_carry_the_request_id_as_json() -> None:
    # given: the production formatter on the root logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)
    try:
        # when: a request fails and Django logs it
        response = APIClient(raise_request_exception=False).get("/api/v1/_test/crash", HTTP_X_REQUEST_ID="trace-42")
    finally:
        logging.getLogger().removeHandler(handler)
    # then: the error line is one JSON object with the same request id the client saw
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    errors = [line for line in lines if line.get("logger") == "django.request"]
    assert response["X-Request-ID"] == "trace-42"
    assert errors and errors[0]["request_id"] == "trace-42"
    assert errors[0]["level"] == "error"
    assert "RuntimeError" in errors[0]["exception"]
