"""Permission codes of access control itself, and those reserved for the apps that come next."""

ROLES_READ = "roles:read"
ROLES_MANAGE = "roles:manage"
POLICIES_READ = "policies:read"
POLICIES_MANAGE = "policies:manage"
GRANTS_MANAGE = "grants:manage"
APIKEYS_READ = "apikeys:read"
APIKEYS_MANAGE = "apikeys:manage"
# Billing and webhooks are declared here until their apps exist (they move to apps/billing/perms.py and
# apps/webhooks/perms.py): the billing system role and API key scopes can name them today.
BILLING_READ = "billing:read"
BILLING_MANAGE = "billing:manage"
WEBHOOKS_MANAGE = "webhooks:manage"

PERMISSIONS = {
    ROLES_READ: "List the organization's roles and the permission catalog.",
    ROLES_MANAGE: "Create, change and delete custom roles.",
    POLICIES_READ: "List policies and evaluate them.",
    POLICIES_MANAGE: "Create, change and delete policies.",
    GRANTS_MANAGE: "Grant and revoke permissions on single objects.",
    APIKEYS_READ: "List the organization's API keys (never their secrets).",
    APIKEYS_MANAGE: "Create, rotate, change and revoke API keys.",
    BILLING_READ: "See the plan, invoices and usage.",
    BILLING_MANAGE: "Change the plan and payment details.",
    WEBHOOKS_MANAGE: "Create, change and delete webhook endpoints.",
}
