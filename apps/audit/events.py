from apps.audit.catalog import EventType, declare

declare(
    EventType(
        name="security.field_keys_rotated",
        description="Every encrypted column was re-encrypted under the newest FIELD_ENCRYPTION_KEYS key.",
        fields=("columns",),
    ),
    EventType(
        name="security.signing_key_rotated",
        description="A new access-token signing key was added; older keys stay published until their tokens expire.",
        fields=("kid",),
    ),
    EventType(
        name="audit.chain_broken",
        description="Verification found an audit chain whose hashes no longer match: a row was altered or removed.",
        fields=("chain", "first_broken_id", "reason", "events_checked"),
    ),
    EventType(
        name="audit.pruned",
        description="The retention job deleted a chain's oldest events; verification now starts at checkpoint_seq.",
        fields=("chain", "events_pruned", "checkpoint_seq"),
    ),
    EventType(
        name="audit.sink_changed",
        description="Staff changed where an organization's audit events are streamed (changes: audit_sink).",
    ),
    EventType(
        name="audit.retention_changed",
        description="Staff changed how long an organization's audit events are kept (changes: audit_retention_days).",
    ),
    EventType(
        name="audit.exported",
        description="An organization's audit trail was downloaded as a file (format csv or jsonl, with its filters).",
        fields=("format", "filters"),
    ),
)
