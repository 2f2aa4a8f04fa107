from apps.audit.catalog import EventType, declare

declare(
    EventType(name="user.created", description="A user account was created.",
              fields=("source",), subscribable=True),
    EventType(name="user.updated", description="A user's profile or state was changed (changes lists old and new).",
              fields=("source",), subscribable=True),
    EventType(name="user.signed_in", description="A user signed in.", fields=("method",), realtime=True),
    EventType(name="user.signin_failed", description="A sign-in attempt failed.", fields=("method", "email", "reason")),
    EventType(name="user.signed_out", description="A user signed out.", fields=("method",)),
)
