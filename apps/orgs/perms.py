"""Permission codes of organizations, members, teams and domains (collected by apps.rbac's catalog)."""

ORG_READ = "org:read"
ORG_UPDATE = "org:update"
ORG_DELETE = "org:delete"
OWNERSHIP_TRANSFER = "org:transfer"
MEMBERS_READ = "members:read"
MEMBERS_MANAGE = "members:manage"
MEMBERS_REMOVE = "members:remove"
INVITATIONS_MANAGE = "members:invite"
TEAMS_READ = "teams:read"
TEAMS_MANAGE = "teams:manage"
DOMAINS_MANAGE = "domains:manage"

PERMISSIONS = {
    ORG_READ: "See the organization, its settings and its domains.",
    ORG_UPDATE: "Change the organization's name, slug and settings.",
    ORG_DELETE: "Delete the organization.",
    OWNERSHIP_TRANSFER: "Hand ownership to another member.",
    MEMBERS_READ: "List members and their roles.",
    MEMBERS_MANAGE: "Change members' roles.",
    MEMBERS_REMOVE: "Remove members from the organization.",
    INVITATIONS_MANAGE: "Invite people, resend and revoke invitations.",
    TEAMS_READ: "List teams and their members.",
    TEAMS_MANAGE: "Create, change and delete teams and their membership.",
    DOMAINS_MANAGE: "Claim and verify e-mail domains.",
}
