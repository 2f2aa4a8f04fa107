"""System checks: a misconfigured deployment fails `manage.py check`, not the first request."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def check_rate_limits(app_configs, **kwargs) -> list[Error]:  # noqa: ANN001
    from apps.core.ratelimit import parse_rate

    errors = []
    for name, rate in settings.RATELIMITS.items():
        try:
            parse_rate(rate)
        except ImproperlyConfigured as exc:
            errors.append(Error(f"RATELIMIT_{name}: {exc}", id="plinto.E001"))
    return errors


@register()
def check_field_encryption_keys(app_configs, **kwargs) -> list[Error]:  # noqa: ANN001
    from apps.core.crypto import keys_from_settings

    try:
        keys_from_settings()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="plinto.E002")]
    return []


@register()
def check_audit_platform_sink(app_configs, **kwargs) -> list[Error]:  # noqa: ANN001
    sink = getattr(settings, "AUDIT_PLATFORM_SINK", "")
    if sink not in ("", "stdout", "syslog"):
        return [Error(f"PLINTO_AUDIT_PLATFORM_SINK is {sink!r}; expected '', 'stdout' or 'syslog'.", id="plinto.E003")]
    return []
