from apps.audit.catalog import EventType, declare

declare(
    EventType(name="organization.created", description="An organization was created.", fields=("slug",),
              subscribable=True, realtime=True),
    EventType(name="organization.updated", description="An organization's name or settings changed.",
              fields=(), subscribable=True, realtime=True),
    EventType(name="organization.deleted", description="An organization was deleted (soft, purged later).",
              fields=("purge_after",), subscribable=True),
    EventType(name="member.added", description="A user joined an organization.", fields=("role", "source"),
              subscribable=True, realtime=True),
    EventType(name="member.removed", description="A member left or was removed.", fields=("reason",),
              subscribable=True, realtime=True),
    EventType(name="member.role_changed", description="A member's role changed (changes: role old/new).",
              fields=(), subscribable=True, realtime=True),
    EventType(name="ownership.transferred", description="Ownership passed to another member.",
              fields=("from_user_id", "to_user_id"), subscribable=True),
    EventType(name="organization.switched", description="A session's active organization changed.",
              fields=("session_id",)),
)
