from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RbacConfig(AppConfig):
    name = "apps.rbac"
    label = "rbac"
    verbose_name = "Access control"

    def ready(self) -> None:
        # Imported for what they register: the event catalog, resource types, orgs' role hook, the
        # access-version bumps and the reactions to orgs' events.
        from apps.rbac import cache, catalog, events, hooks, resources, subscribers  # noqa: F401

        catalog.autodiscover()
        cache.connect_row_signals()
        post_migrate.connect(_ensure_system_roles, sender=self)


def _ensure_system_roles(sender, **kwargs) -> None:  # noqa: ANN001
    """The system role rows (seeded by migration 0002) come back after a `flush`, like content types do."""
    from apps.rbac.services.system_roles import system_roles_ensure

    system_roles_ensure(using=kwargs.get("using", "default"))
