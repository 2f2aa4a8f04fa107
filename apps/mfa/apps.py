from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "apps.mfa"
    label = "mfa"
    verbose_name = "Multi-factor authentication"

    def ready(self) -> None:
        from django.core import checks

        from apps.mfa import events, hooks  # noqa: F401  (event catalog; fills accounts' sign-in hooks)
        from apps.mfa.backends import check_sms_settings

        checks.register(check_sms_settings)
