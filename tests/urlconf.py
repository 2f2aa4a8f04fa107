"""The routed API operations, read from the URLconf (for suites that must cover every endpoint)."""

from django.urls import URLPattern, URLResolver, get_resolver

METHODS = ("get", "post", "put", "patch", "delete")


def routes(patterns: list | None = None, prefix: str = "") -> list[tuple[str, object]]:
    """(route, callback) for every URL pattern, nested includes flattened."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            found.append((route, entry.callback))
    return found


def api_views() -> list[tuple[str, type]]:
    """(route, APIView class) for every class-based view under /api/v1/."""
    return [(route, callback.view_class) for route, callback in routes()
            if route.startswith("api/v1/") and getattr(callback, "view_class", None) is not None]
