"""The second step of a browser sign-in through the allauth pages (password, sign-in code, social).

allauth runs its login stages after the first factor and before the session is signed in
(allauth.account.stages); AccountAdapter.get_login_stages() adds this one. When the user has MFA on
and this browser is not remembered, the login pauses and the browser goes to `mfa_authenticate`
(apps.mfa.views.authenticate_page), which ends the stage with `exit()` or, after too many wrong
answers, `abort()`.
"""

from __future__ import annotations

from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response
from django.http import HttpResponse

from apps.mfa.services import challenge, factors

# "Remember this browser": the token of challenge.remembered_device_create, HttpOnly, SameSite=Lax.
REMEMBER_COOKIE = "plinto_remember"
REMEMBER_COOKIE_PATH = "/accounts/"  # every allauth sign-in (password, code, social callback) ends under it


class AuthenticateStage(LoginStage):
    key = "plinto_mfa_authenticate"
    urlname = "mfa_authenticate"

    def handle(self) -> tuple[HttpResponse | None, bool]:
        user = self.login.user
        if user is None or not factors.mfa_enabled(user):
            return None, True
        if challenge.remembered_device_valid(user=user, token=self.request.COOKIES.get(REMEMBER_COOKIE)):
            return None, True
        self.state["required"] = True
        return headed_redirect_response(self.urlname), True
