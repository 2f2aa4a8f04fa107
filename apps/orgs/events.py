from apps.audit.catalog import EventType, declare

declare(
    EventType(name="organization.created", description="An organization was created.", fields=("slug",),
              subscribable=True, realtime=True),
    EventType(name="organization.updated", description="An organization's name or settings changed.",
              fields=(), subscribable=True, realtime=True),
    EventType(name="organization.deleted", description="An organization was deleted (soft, purged later).",
              fields=("purge_after",), subscribable=True),
    EventType(name="organization.restored", description="Staff undid an organization's deletion within the grace "
              "period.", fields=(), subscribable=True),
    EventType(name="organization.purged", description="A deleted organization's grace period ended; its data is gone.",
              fields=("slug",)),
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

declare(
    EventType(name="team.created", description="A team was created in an organization.", fields=("name", "role"),
              subscribable=True, realtime=True),
    EventType(name="team.updated", description="A team's name, description or role changed (changes: old/new).",
              fields=(), subscribable=True, realtime=True),
    EventType(name="team.deleted", description="A team was deleted.", fields=("name",), subscribable=True,
              realtime=True),
    EventType(name="team.member_added", description="A member joined a team (target: the user).",
              fields=("team_id",), subscribable=True, realtime=True),
    EventType(name="team.member_removed", description="A member left a team (target: the user).",
              fields=("team_id",), subscribable=True, realtime=True),
    EventType(name="domain.added", description="A domain was claimed; it awaits DNS verification.",
              fields=("domain",), subscribable=True),
    EventType(name="domain.verified", description="A domain's DNS TXT record was found: the domain is verified.",
              fields=("domain",), subscribable=True),
    EventType(name="domain.updated", description="A domain's auto_join changed (changes: old/new).",
              fields=("domain",), subscribable=True),
    EventType(name="domain.removed", description="A domain was removed from an organization.", fields=("domain",),
              subscribable=True),
)

# Invitations (apps/orgs/services/invitations.py). Not realtime: invitees' e-mail addresses are for
# members who may manage invitations, not for every connected member of the organization.
declare(
    EventType(name="invitation.sent", description="An invitation was e-mailed (again, when resent).",
              fields=("email", "role", "expires_at", "resent"), subscribable=True),
    EventType(name="invitation.accepted", description="An invitation was accepted; the invitee joined.",
              fields=("email", "role", "signed_up"), subscribable=True),
    EventType(name="invitation.revoked", description="A pending invitation was revoked.",
              fields=("email", "role"), subscribable=True),
    EventType(name="invitation.expired", description="A pending invitation passed its expiry unused.",
              fields=("email", "role"), subscribable=True),
)
