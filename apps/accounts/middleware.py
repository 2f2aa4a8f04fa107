"""Browser sessions end as soon as their session row is revoked, like access tokens do."""

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from apps.accounts.services.browser import SESSION_KEY
from apps.accounts.services.sessions import session_is_active, session_touch


class SessionRevocationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if session_id and request.user.is_authenticated:
            if session_is_active(session_id):
                session_touch(session_id)
            else:
                request.session.pop(SESSION_KEY, None)  # already revoked: no second revocation on logout
                logout(request)
        return self.get_response(request)
