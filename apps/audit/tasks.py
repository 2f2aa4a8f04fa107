import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def audit_chains_verify_task() -> dict[str, int]:
    """Periodic (beat) check of every chain; a broken chain is logged and recorded as a platform event."""
    from django.db import transaction

    from apps.audit.selectors import chain_key_list, chain_verify
    from apps.audit.services import emit

    summary = {"chains": 0, "broken": 0, "events_checked": 0}
    for key in chain_key_list():
        result = chain_verify(chain_key=key)
        summary["chains"] += 1
        summary["events_checked"] += result.events_checked
        if not result.ok:
            summary["broken"] += 1
            logger.error("audit chain %s broken at %s: %s", key, result.first_broken_id, result.reason)
            with transaction.atomic():
                emit(action="audit.chain_broken", outcome="failure", metadata={
                    "chain": key, "first_broken_id": result.first_broken_id,
                    "reason": result.reason, "events_checked": result.events_checked,
                })
    return summary


@shared_task(acks_late=True)
def audit_retention_prune_task() -> dict[str, int]:
    """Periodic (beat): prune every chain to its retention period, oldest rows first, with checkpoints.

    Safe to run twice (a second run finds nothing expired) and to stop anywhere (each batch commits with
    its checkpoint); the time budget ends a run before the soft time limit and the next run continues.
    """
    from django.conf import settings

    from apps.audit.services import chains_prune

    soft_limit = getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None)
    budget = max(30, soft_limit - 60) if soft_limit else None
    summary = chains_prune(time_budget_seconds=budget)
    if summary["refused"]:
        logger.error("audit retention: %s chain(s) not pruned, see above", summary["refused"])
    return summary
