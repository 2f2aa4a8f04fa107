from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "apps.orgs"
    label = "orgs"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from apps.orgs import events, hooks  # noqa: F401  (event catalog; fills accounts' hooks)
        from apps.orgs.services import domains  # noqa: F401  (subscribes domain auto-join to the event stream)
