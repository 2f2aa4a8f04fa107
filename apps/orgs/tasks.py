"""Celery tasks of the orgs app. Plain data in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def invitations_expire_task() -> int:
    """Periodic (beat): record the expiry of pending invitations past it. Returns how many were marked."""
    from apps.orgs.services.invitations import invitations_expire

    return invitations_expire()


@shared_task(acks_late=True)
def organizations_purge_task() -> int:
    """Periodic (beat): delete for good the organizations soft-deleted more than the grace period ago."""
    from apps.orgs.services.organizations import organizations_purge

    return organizations_purge()
