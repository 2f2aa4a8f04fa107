"""A Celery task sent through the real Redis broker and run by a worker."""

import pytest
from celery.contrib.testing.worker import start_worker

from apps.audit.models import AuditEvent
from apps.audit.services import emit
from apps.audit.tasks import audit_chains_verify_task
from plinto.celery import app


@pytest.fixture
def celery_worker():  # noqa: ANN201
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_the_broker(celery_worker) -> None:  # noqa: ANN001
    for _ in range(3):
        emit(action="user.signed_in", metadata={"method": "password"})

    result = audit_chains_verify_task.delay()

    assert result.get(timeout=20) == {"chains": 1, "broken": 0, "events_checked": 3}
    assert app.conf.broker_url.startswith("redis://")
    assert not AuditEvent.objects.filter(action="audit.chain_broken").exists()
