import json

import pytest
from django.db import connections
from rest_framework.test import APIClient

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_live_answers_ok(api_client: APIClient) -> None:
    response = api_client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_ready_checks_database_cache_and_broker(api_client: APIClient) -> None:
    response = api_client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {name: {"status": "ok"} for name in ("database", "cache", "broker")}


@pytest.mark.django_db
def test_ready_is_503_naming_the_cache_when_redis_is_down(api_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    response = api_client.get("/health/ready")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert body["code"] == "not_ready"
    assert body["checks"]["cache"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"
    assert "cache" in body["detail"]


@pytest.mark.django_db
def test_ready_is_503_naming_the_broker_when_it_is_down(api_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.CELERY_BROKER_URL = DEAD_REDIS
    body = json.loads(api_client.get("/health/ready").content)
    assert body["status"] == 503
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["detail"] == "Failing checks: broker."


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_the_database_when_it_is_down(api_client: APIClient) -> None:
    db = connections["default"]
    port = db.settings_dict["PORT"]
    db.close()
    db.settings_dict["PORT"] = 1
    try:
        response = api_client.get("/health/ready")
    finally:
        db.close()
        db.settings_dict["PORT"] = port
    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["cache"]["status"] == "ok"


@pytest.mark.django_db
def test_health_failures_do_not_leak_connection_urls(api_client: APIClient, settings) -> None:  # noqa: ANN001
    settings.CELERY_BROKER_URL = "redis://:s3cret-pass@127.0.0.1:1/0"
    response = api_client.get("/health/ready")
    assert b"s3cret-pass" not in response.content


@pytest.mark.django_db
def test_metrics_exposes_request_counts_and_latencies(api_client: APIClient) -> None:
    api_client.get("/health/live")
    response = api_client.get("/metrics")
    text = response.content.decode()
    assert response.status_code == 200
    assert "django_http_requests_total_by_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in text
