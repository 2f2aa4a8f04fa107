"""Retention: the oldest rows of each chain are pruned behind a checkpoint, and verification still holds."""

import uuid
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from apps.audit.models import PLATFORM_CHAIN, AppendOnlyError, AuditCheckpoint, AuditEvent, chain_head_prune
from apps.audit.selectors import chain_verify
from apps.audit.services import chain_prune, chains_prune, emit
from apps.audit.tasks import audit_chains_verify_task, audit_retention_prune_task
from apps.orgs.models import Organization
from tests.audit.test_emit import _tamper
from tests.orgs.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _emit_at(when: datetime, n: int = 1, organization_id: object = None) -> list[AuditEvent]:
    with mock.patch("django.utils.timezone.now", return_value=when):
        return [emit(action="user.signed_in", organization_id=organization_id, metadata={"method": "password"})
                for _ in range(n)]


def _seqs(chain_key: str) -> list[int]:
    return list(AuditEvent.objects.filter(chain_key=chain_key).order_by("seq").values_list("seq", flat=True))


def _checkpoints(chain_key: str) -> list[tuple[int, str, int]]:
    return list(AuditCheckpoint.objects.filter(chain_key=chain_key).order_by("seq")
                .values_list("seq", "prev_hash", "events_pruned"))


def _pruned_events() -> list[dict]:
    pruned = AuditEvent.objects.filter(chain_key=PLATFORM_CHAIN, action="audit.pruned").order_by("seq")
    return [event.metadata for event in pruned]


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory(audit_retention_days=30)


def test_prune_deletes_expired_rows_from_the_head_behind_a_checkpoint(org: Organization) -> None:
    old = _emit_at(timezone.now() - 40 * DAY, 3, org.pk)
    recent = _emit_at(timezone.now() - 29 * DAY, 2, org.pk)

    summary = chains_prune()

    key = str(org.pk)
    assert _seqs(key) == [4, 5]
    assert _checkpoints(key) == [(4, old[-1].hash, 3)]
    assert recent[0].prev_hash == old[-1].hash  # the first kept row links to the checkpoint
    assert _pruned_events() == [{"chain": key, "events_pruned": 3, "checkpoint_seq": 4}]
    assert summary == {"chains": 1, "chains_pruned": 1, "events_pruned": 3, "refused": 0}
    result = chain_verify(chain_key=key)
    assert (result.ok, result.events_checked, result.events_pruned) == (True, 2, 3)
    call_command("audit_verify", "--all")  # exits cleanly, platform chain (with audit.pruned) included


def test_retention_follows_each_organization_and_the_platform_setting(settings: object) -> None:
    settings.AUDIT_PLATFORM_RETENTION_DAYS = 10
    short, long = OrganizationFactory(audit_retention_days=30), OrganizationFactory(audit_retention_days=90)
    purged = uuid.uuid4()  # a chain whose organization is gone follows the platform setting
    sixty_days_ago = timezone.now() - 60 * DAY
    _emit_at(sixty_days_ago, 2, short.pk)
    kept = _emit_at(sixty_days_ago, 2, long.pk)
    _emit_at(sixty_days_ago, 2, purged)
    _emit_at(sixty_days_ago, 2)  # platform
    _emit_at(timezone.now() - 5 * DAY, 1)

    chains_prune()

    assert _seqs(str(short.pk)) == [] and _seqs(str(purged)) == []
    assert [e.hash for e in AuditEvent.objects.filter(chain_key=str(long.pk)).order_by("seq")] == [e.hash for e in kept]
    assert _checkpoints(str(long.pk)) == []
    assert _seqs(PLATFORM_CHAIN)[0] == 3  # the 5-day-old row and the audit.pruned events stay
    assert sorted(e["chain"] for e in _pruned_events()) == sorted([str(short.pk), str(purged), PLATFORM_CHAIN])
    for key in (str(short.pk), str(long.pk), str(purged), PLATFORM_CHAIN):
        assert chain_verify(chain_key=key).ok, key


def test_prune_works_in_batches_with_a_checkpoint_per_batch(org: Organization) -> None:
    events = _emit_at(timezone.now() - 40 * DAY, 5, org.pk) + _emit_at(timezone.now(), 1, org.pk)
    key = str(org.pk)

    first = chain_prune(chain_key=key, older_than=timezone.now() - 30 * DAY, batch_size=2, max_batches=2)
    assert (first.events_pruned, first.checkpoint_seq) == (4, 5)
    assert _checkpoints(key) == [(3, events[1].hash, 2), (5, events[3].hash, 4)]
    assert chain_verify(chain_key=key).ok

    second = chain_prune(chain_key=key, older_than=timezone.now() - 30 * DAY, batch_size=2)
    assert (second.events_pruned, second.checkpoint_seq) == (1, 6)
    assert _seqs(key) == [6]
    assert _checkpoints(key)[-1] == (6, events[4].hash, 5)
    assert _pruned_events() == [{"chain": key, "events_pruned": 4, "checkpoint_seq": 5},
                                {"chain": key, "events_pruned": 1, "checkpoint_seq": 6}]
    assert chain_verify(chain_key=key).ok


def test_pruning_twice_is_a_no_op(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 3, org.pk)
    _emit_at(timezone.now(), 1, org.pk)
    chains_prune()
    platform_rows = _seqs(PLATFORM_CHAIN)

    again = audit_retention_prune_task.delay().get()

    assert again == {"chains": 2, "chains_pruned": 0, "events_pruned": 0, "refused": 0}
    assert _seqs(str(org.pk)) == [4] and len(_checkpoints(str(org.pk))) == 1
    assert _seqs(PLATFORM_CHAIN) == platform_rows  # no second audit.pruned


def test_a_fully_expired_chain_is_emptied_and_continues_from_its_checkpoint(org: Organization) -> None:
    events = _emit_at(timezone.now() - 40 * DAY, 3, org.pk)
    chains_prune()
    key = str(org.pk)
    assert _seqs(key) == [] and _checkpoints(key) == [(4, events[-1].hash, 3)]
    assert (chain_verify(chain_key=key).ok, chain_verify(chain_key=key).events_checked) == (True, 0)

    following = emit(action="user.signed_in", organization_id=org.pk, metadata={"method": "password"})

    assert (following.seq, following.prev_hash) == (4, events[-1].hash)
    result = chain_verify(chain_key=key)
    assert (result.ok, result.events_checked, result.events_pruned) == (True, 1, 3)
    assert audit_chains_verify_task() == {"chains": 2, "broken": 0, "events_checked": 2}


def test_verification_after_pruning_still_names_an_edited_row(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 2, org.pk)
    kept = _emit_at(timezone.now(), 3, org.pk)
    chains_prune()

    _tamper("UPDATE audit_auditevent SET metadata = %s WHERE id = %s", ['{"method": "sso"}', kept[1].pk])

    result = chain_verify(chain_key=str(org.pk))
    assert (result.ok, result.first_broken_id, result.events_checked) == (False, str(kept[1].pk), 2)
    with pytest.raises(CommandError, match="broken"):
        call_command("audit_verify", "--org", str(org.pk))


def test_verification_after_pruning_detects_rows_deleted_outside_the_retention_path(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 2, org.pk)
    kept = _emit_at(timezone.now(), 3, org.pk)
    chains_prune()

    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [kept[0].pk])  # the first row after the checkpoint
    result = chain_verify(chain_key=str(org.pk))
    assert (result.ok, result.first_broken_id) == (False, str(kept[1].pk))
    assert "missing" in result.reason


def test_rows_deleted_with_the_retention_flag_but_no_checkpoint_break_verification(org: Organization) -> None:
    events = _emit_at(timezone.now() - 40 * DAY, 3, org.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plinto.audit_retention = 'on'")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain_key = %s AND seq = 1", [str(org.pk)])
    result = chain_verify(chain_key=str(org.pk))
    assert (result.ok, result.first_broken_id) == (False, str(events[1].pk))


def test_pruned_chains_still_refuse_deletes_and_updates_in_the_model_and_the_database(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 2, org.pk)
    kept = _emit_at(timezone.now(), 2, org.pk)
    chains_prune()
    checkpoint = AuditCheckpoint.objects.get(chain_key=str(org.pk))

    for refused in (
        lambda: AuditEvent.objects.filter(chain_key=str(org.pk)).delete(),
        lambda: AuditEvent.objects.get(pk=kept[0].pk).delete(),
        lambda: AuditCheckpoint.objects.all().delete(),
        lambda: AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(seq=1),
        checkpoint.delete,
        checkpoint.save,
    ):
        with pytest.raises(AppendOnlyError):
            refused()
    for statement in ("DELETE FROM audit_auditevent", "UPDATE audit_auditcheckpoint SET seq = 1",
                      "DELETE FROM audit_auditcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert _seqs(str(org.pk)) == [3, 4] and _checkpoints(str(org.pk)) == [(3, checkpoint.prev_hash, 2)]
    assert chain_verify(chain_key=str(org.pk)).ok


@pytest.mark.django_db(transaction=True)
def test_the_sanctioned_delete_runs_only_inside_the_transaction_of_its_checkpoint(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 2, org.pk)
    with pytest.raises(AppendOnlyError, match="transaction"):
        chain_head_prune(chain_key=str(org.pk), through_seq=1)
    assert _seqs(str(org.pk)) == [1, 2] and _checkpoints(str(org.pk)) == []


def test_the_sanctioned_delete_refuses_a_gap(org: Organization) -> None:
    key = str(org.pk)
    events = _emit_at(timezone.now() - 40 * DAY, 5, org.pk)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    for through_seq in (3, 2, 9):  # over the hole, the hole itself, past the tail
        with pytest.raises(AppendOnlyError), transaction.atomic():
            chain_head_prune(chain_key=key, through_seq=through_seq)

    assert _seqs(key) == [1, 3, 4, 5] and _checkpoints(key) == []  # the checkpoint rolled back with the delete


def test_pruning_never_erases_the_evidence_of_an_edited_row(org: Organization) -> None:
    events = _emit_at(timezone.now() - 40 * DAY, 4, org.pk)
    _tamper("UPDATE audit_auditevent SET metadata = %s WHERE id = %s", ['{"method": "sso"}', events[1].pk])

    summary = chains_prune()

    assert summary["refused"] == 1 and summary["events_pruned"] == 0
    assert _seqs(str(org.pk)) == [1, 2, 3, 4] and _checkpoints(str(org.pk)) == []
    assert chain_verify(chain_key=str(org.pk)).first_broken_id == str(events[1].pk)


def test_verification_accepts_a_pruning_run_that_commits_while_it_reads(org: Organization) -> None:
    _emit_at(timezone.now() - 40 * DAY, 3, org.pk)
    _emit_at(timezone.now(), 2, org.pk)
    chains_prune()
    # The verifier read "no checkpoint" just before the run committed, then the rows after it.
    with mock.patch("apps.audit.selectors.checkpoint_latest", return_value=None):
        result = chain_verify(chain_key=str(org.pk))
    assert (result.ok, result.events_checked, result.events_pruned) == (True, 2, 3)


def test_staff_set_the_retention_in_the_admin_and_the_change_is_recorded(admin_client: Client, operator: object,
                                                                          org: Organization) -> None:
    form = {"name": org.name, "slug": org.slug, "allowed_email_domains": "[]", "ip_allowlist": "[]",
            "default_role": org.default_role_id, "audit_sink": "", "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0"}
    url = f"/admin/orgs/organization/{org.pk}/change/"

    refused = admin_client.post(url, {**form, "audit_retention_days": "0"})
    saved = admin_client.post(url, {**form, "audit_retention_days": "7"})

    assert refused.status_code == 200 and "audit_retention_days" in refused.content.decode()
    assert saved.status_code == 302
    org.refresh_from_db()
    assert org.audit_retention_days == 7
    event = AuditEvent.objects.get(action="audit.retention_changed")
    assert (event.chain_key, event.actor_id, event.changes) == (str(org.pk), str(operator.pk),
                                                                {"audit_retention_days": [30, 7]})
    assert not AuditEvent.objects.filter(action="audit.sink_changed").exists()
