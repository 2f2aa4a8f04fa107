"""What access control does when something happens below it (the event stream; ARCHITECTURE.md)."""

import uuid

from apps.audit.subscribers import listen_in_transaction


@listen_in_transaction
def _member_left(event) -> None:  # noqa: ANN001
    """In the removal's own transaction: a departed member's grants go with the membership."""
    if event.action != "member.removed" or not event.organization_id or event.target_type != "user":
        return
    try:
        user_id = uuid.UUID(event.target_id)
    except ValueError:  # not a user of ours (events can name anything as their target)
        return
    from apps.rbac.services.grants import grants_of_departed_member_revoke

    grants_of_departed_member_revoke(organization_id=event.organization_id, user_id=user_id)
