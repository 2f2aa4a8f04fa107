from apps.audit.catalog import EventType, declare

declare(
    EventType(name="user.created", description="A user account was created.",
              fields=("source",), subscribable=True),
    EventType(name="user.updated", description="A user's profile or state was changed (changes lists old and new).",
              fields=("source",), subscribable=True),
    EventType(name="user.deleted", description="A user account was deleted.", fields=("source",), subscribable=True),
    EventType(name="user.data_exported", description="A user downloaded all their personal data.", fields=()),
    EventType(name="user.social_linked", description="A social sign-in account was linked.", fields=("provider",)),
    EventType(name="user.social_unlinked", description="A social sign-in account was unlinked.", fields=("provider",)),
    EventType(name="user.signed_up", description="A person created an account.", fields=("method",),
              subscribable=True),
    EventType(name="user.signed_in", description="A user signed in.", fields=("method", "session_id"),
              realtime=True),
    EventType(name="user.signin_failed", description="A sign-in attempt failed.", fields=("method", "email", "reason")),
    EventType(name="user.signed_out", description="A user signed out.", fields=("method", "session_id")),
    EventType(name="user.locked_out", description="Repeated failed sign-ins locked the account for a while.",
              fields=("failures", "locked_until")),
    EventType(name="user.password_changed", description="A user changed their password.", fields=("method",)),
    EventType(name="user.password_reset", description="A password was reset through an e-mailed link.",
              fields=("method",)),
    EventType(name="user.email_added", description="A user added an e-mail address.", fields=("email",)),
    EventType(name="user.email_removed", description="A user removed an e-mail address.", fields=("email",)),
    EventType(name="user.email_changed", description="A user's primary e-mail address changed.", fields=("email",),
              subscribable=True),
    EventType(name="user.email_verified", description="A user verified an e-mail address.", fields=("email",)),
    EventType(name="user.reauthenticated", description="A user proved their identity again for a sensitive action.",
              fields=("method", "session_id")),
    EventType(name="session.revoked", description="A session ended before its time (sign-out, revocation).",
              fields=("reason",), realtime=True),
    EventType(name="session.refresh_reused", description="An already-rotated refresh token was presented; "
              "the whole session was revoked.", fields=("session_id",)),
)

declare(
    EventType(name="user.imported", description="A user was created by a migration import (manage.py import_users "
              "or the admin); source is the export format, hasher the algorithm of the imported password hash.",
              fields=("source", "hasher", "external_id")),
)
