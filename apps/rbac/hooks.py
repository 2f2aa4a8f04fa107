"""Answers orgs' questions about roles (ARCHITECTURE.md: hooks, no upward imports)."""

from apps.orgs import hooks as org_hooks


def _role_resolve(*, organization, name):  # noqa: ANN001, ANN202
    from apps.rbac.selectors import role_by_name

    return role_by_name(organization=organization, name=name)


org_hooks.register_role_resolver(_role_resolve)
