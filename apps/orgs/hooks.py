"""Answers accounts' questions about organizations (ARCHITECTURE.md: hooks, no upward imports)."""

from apps.accounts import hooks as account_hooks


def _sole_owner_blocker(user):  # noqa: ANN001, ANN202
    from apps.orgs.selectors import sole_owned_organizations

    return [f"sole owner of organization {org.name}" for org in sole_owned_organizations(user)]


def _shares_an_organization(viewer, user):  # noqa: ANN001, ANN202
    from apps.orgs.selectors import users_share_organization

    return users_share_organization(viewer, user)


account_hooks.register_deletion_blocker(_sole_owner_blocker)
account_hooks.register_visibility_rule(_shares_an_organization)
