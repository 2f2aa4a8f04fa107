"""Permission codes of the audit trail (collected by apps.rbac's catalog)."""

AUDIT_READ = "audit:read"

PERMISSIONS = {
    AUDIT_READ: "Read, verify and export the organization's audit log.",
}
