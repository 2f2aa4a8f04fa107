"""DRF authentication by access JWT, with the session checked on every request (cached)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.accounts.models import User
from apps.accounts.services.sessions import session_is_active, session_touch
from apps.accounts.services.tokens import AccessClaims, InvalidAccessToken, access_token_verify

API_KEY_PREFIX = "plk_"  # API keys (apps.rbac) share the Bearer scheme; they are not ours to judge


class JWTAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, AccessClaims] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = header[1].decode("latin1")
        if token.startswith(API_KEY_PREFIX):
            return None
        try:
            claims = access_token_verify(token)
        except InvalidAccessToken:
            raise exceptions.AuthenticationFailed("Invalid or expired access token.") from None
        if not session_is_active(claims.session_id):
            raise exceptions.AuthenticationFailed("The session of this token has ended.")
        user = User.objects.filter(pk=claims.user_id, is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or expired access token.")
        session_touch(claims.session_id)
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="plinto"'
