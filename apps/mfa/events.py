from apps.audit.catalog import EventType, declare

declare(
    EventType(name="factor.added", description="A second factor was enrolled and confirmed.",
              fields=("type", "factor_id"), subscribable=True),
    EventType(name="factor.removed", description="A second factor was removed.",
              fields=("type", "factor_id", "reason"), subscribable=True),
    EventType(name="factor.used", description="A second factor was verified.", fields=("type", "factor_id")),
    EventType(name="factor.failed", description="A second factor was presented and refused.",
              fields=("type", "factor_id", "reason")),
    EventType(name="backup_codes.regenerated", description="A new set of backup codes replaced the old one.",
              fields=("count",)),
    EventType(name="mfa_challenge.voided", description="Too many wrong codes voided a sign-in's MFA challenge.",
              fields=("failures",)),
    EventType(name="mfa.reset", description="Platform staff removed every second factor of a user.",
              fields=("factors",)),
)
