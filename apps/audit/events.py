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
)
