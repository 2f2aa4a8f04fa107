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


# --- roles ------------------------------------------------------------------------------------------
# Roles are apps.rbac's rows; orgs refers to them by name on the wire and asks rbac to resolve a name
# within an organization (a system role or that organization's custom role).
_role_resolver = None


def register_role_resolver(resolver) -> None:  # noqa: ANN001
    global _role_resolver
    _role_resolver = resolver


def role_resolve(*, organization, name: str):  # noqa: ANN001, ANN201
    """The Role called `name` that members of `organization` may hold, or None."""
    if _role_resolver is None:
        raise RuntimeError("apps.rbac is not installed: no role resolver.")
    return _role_resolver(organization=organization, name=name)
