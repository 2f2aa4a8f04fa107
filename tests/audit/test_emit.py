import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from rest_framework.test import APIClient

from apps.audit import subscribers
from apps.audit.catalog import UnknownEventType
from apps.audit.models import PLATFORM_CHAIN, AppendOnlyError, AuditEvent
from apps.audit.selectors import chain_verify
from apps.audit.services import Target, emit
from apps.core.context import RequestContext, bind_context, unbind_context
from tests.accounts.factories import UserFactory

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.mark.django_db
def test_emit_snapshots_actor_and_request_context() -> None:
    user = UserFactory(email="alice@example.com")
    token = bind_context(RequestContext(request_id="req-1", ip="203.0.113.9", user_agent="curl/8"))
    try:
        event = emit(action="user.updated", actor=user, organization_id=ORG, target=user,
                     changes={"first_name": ["A", "B"]}, metadata={"source": "api"})
    finally:
        unbind_context(token)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_type, stored.actor_id, stored.actor_email) == ("user", str(user.pk), "alice@example.com")
    assert (stored.ip, stored.user_agent, stored.request_id) == ("203.0.113.9", "curl/8", "req-1")
    assert (stored.organization_id, stored.chain_key) == (ORG, str(ORG))
    assert (stored.target_type, stored.target_id) == ("user", str(user.pk))
    assert stored.changes == {"first_name": ["A", "B"]}
    assert stored.seq == 1 and stored.prev_hash == "0" * 64 and len(stored.hash) == 64


@pytest.mark.django_db
def test_emit_without_actor_records_the_system_on_the_platform_chain() -> None:
    event = emit(action="security.field_keys_rotated", metadata={"columns": {}})
    assert (event.actor_type, event.chain_key, event.organization_id) == ("system", PLATFORM_CHAIN, None)


@pytest.mark.django_db
def test_audit_rows_survive_the_user_they_describe() -> None:
    user = UserFactory(email="gone@example.com")
    event = emit(action="user.signed_in", actor=user, metadata={"method": "password"})
    user.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_email == "gone@example.com"


@pytest.mark.django_db
def test_unknown_event_name_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        emit(action="user.teleported")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_metadata_keys_outside_the_catalog_are_refused() -> None:
    with pytest.raises(ValueError, match="not declared"):
        emit(action="user.signed_in", metadata={"method": "password", "password": "oops"})
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_emit_inside_a_rolled_back_transaction_leaves_nothing() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        emit(action="user.signed_in", metadata={"method": "password"})
        raise Boom
    assert AuditEvent.objects.count() == 0
    # the chain did not advance either: the next event is still the first
    assert emit(action="user.signed_in", metadata={"method": "password"}).seq == 1


@pytest.mark.django_db
def test_a_failing_event_write_fails_the_callers_change() -> None:
    with pytest.raises(UnknownEventType), transaction.atomic():
        UserFactory(email="half@example.com")
        emit(action="not.declared")
    from apps.accounts.models import User

    assert not User.objects.filter(email="half@example.com").exists()


@pytest.mark.django_db
def test_events_are_append_only_in_the_model() -> None:
    event = emit(action="user.signed_in", metadata={"method": "password"})
    event.metadata = {"method": "forged"}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="user.signed_out")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET action = 'user.signed_out'",
    "DELETE FROM audit_auditevent",
])
def test_postgres_trigger_rejects_raw_update_and_delete(statement: str) -> None:
    from django.db.utils import DatabaseError

    emit(action="user.signed_in", metadata={"method": "password"})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.filter(action="user.signed_in").count() == 1


@pytest.mark.django_db
def test_retention_job_may_delete_when_it_says_so() -> None:
    emit(action="user.signed_in", metadata={"method": "password"})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plinto.audit_retention = 'on'")
        cursor.execute("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 0


def _tamper(sql: str, params: list) -> None:
    """Edit rows the way an attacker with database access would: trigger off, change, trigger on."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


@pytest.mark.django_db
def test_verification_passes_on_an_untouched_chain() -> None:
    for _ in range(5):
        emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"})
    result = chain_verify(chain_key=str(ORG))
    assert (result.ok, result.events_checked) == (True, 5)
    call_command("audit_verify", "--org", str(ORG))  # exits cleanly


@pytest.mark.django_db
def test_verification_names_the_first_edited_row() -> None:
    events = [emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"}) for _ in range(4)]
    _tamper("UPDATE audit_auditevent SET metadata = %s WHERE id = %s", ['{"method": "sso"}', events[2].pk])
    result = chain_verify(chain_key=str(ORG))
    assert (result.ok, result.first_broken_id, result.events_checked) == (False, str(events[2].pk), 3)
    with pytest.raises(CommandError, match="broken"):
        call_command("audit_verify", "--org", str(ORG))


@pytest.mark.django_db
def test_verification_detects_a_deleted_row_and_a_truncated_tail() -> None:
    events = [emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"}) for _ in range(4)]
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    assert chain_verify(chain_key=str(ORG)).first_broken_id == str(events[2].pk)

    _tamper("DELETE FROM audit_auditevent WHERE seq >= 2 AND chain_key = %s", [str(ORG)])
    tail = chain_verify(chain_key=str(ORG))
    assert tail.ok is False and "missing" in tail.reason


@pytest.mark.django_db
def test_rehashing_an_edited_row_still_breaks_the_next_link() -> None:
    from apps.audit.hashing import event_hash

    events = [emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"}) for _ in range(3)]
    forged = AuditEvent.objects.get(pk=events[0].pk)
    forged.metadata = {"method": "sso"}
    _tamper("UPDATE audit_auditevent SET metadata = %s, hash = %s WHERE id = %s",
            ['{"method": "sso"}', event_hash(forged), events[0].pk])
    assert chain_verify(chain_key=str(ORG)).first_broken_id == str(events[1].pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_emits_into_one_chain_do_not_fork_it() -> None:
    workers, per_worker = 8, 10
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_worker):
                with transaction.atomic():
                    emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    seqs = list(AuditEvent.objects.filter(chain_key=str(ORG)).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, workers * per_worker + 1))
    assert AuditEvent.objects.filter(chain_key=str(ORG)).values("prev_hash").distinct().count() == workers * per_worker
    assert chain_verify(chain_key=str(ORG)).ok


@pytest.mark.django_db(transaction=True)
def test_chains_of_different_organizations_are_independent() -> None:
    other = uuid.uuid4()
    emit(action="user.signed_in", organization_id=ORG, metadata={"method": "password"})
    second = emit(action="user.signed_in", organization_id=other, metadata={"method": "password"})
    assert second.seq == 1 and second.prev_hash == "0" * 64


@pytest.mark.django_db(transaction=True)
def test_subscribers_run_after_commit_only() -> None:
    seen: list[str] = []

    def record(event: AuditEvent) -> None:
        seen.append(event.action)

    subscribers.subscribe(record)
    try:
        with transaction.atomic():
            emit(action="user.signed_in", metadata={"method": "password"})
            assert seen == []  # not before commit
        assert seen == ["user.signed_in"]

        with pytest.raises(RuntimeError), transaction.atomic():
            emit(action="user.signed_out", metadata={"method": "password"})
            raise RuntimeError
        assert seen == ["user.signed_in"]  # not for a rolled-back event
    finally:
        subscribers.unsubscribe(record)


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_does_not_stop_the_others_or_the_event(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(event: AuditEvent) -> None:
        raise ValueError("subscriber bug")

    def record(event: AuditEvent) -> None:
        seen.append(event.action)

    subscribers.subscribe(broken)
    subscribers.subscribe(record)
    try:
        with transaction.atomic():
            emit(action="user.signed_in", metadata={"method": "password"})
    finally:
        subscribers.unsubscribe(broken)
        subscribers.unsubscribe(record)
    assert seen == ["user.signed_in"]
    assert AuditEvent.objects.count() == 1
    assert "subscriber bug" in caplog.text


@pytest.mark.django_db
def test_event_types_api_lists_the_catalog(user_client: APIClient) -> None:
    response = user_client.get("/api/v1/audit/event-types")
    assert response.status_code == 200
    by_name = {t["name"]: t for t in response.json()}
    assert by_name["user.signed_in"] == {
        "name": "user.signed_in", "description": "A user signed in.", "fields": ["method", "session_id"],
        "subscribable": False, "realtime": True,
    }
    assert "security.field_keys_rotated" in by_name


@pytest.mark.django_db
def test_target_can_be_given_explicitly() -> None:
    event = emit(action="user.signed_in", target=Target(type="session", id="s-1"), metadata={"method": "password"})
    assert (event.target_type, event.target_id) == ("session", "s-1")
