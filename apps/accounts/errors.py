from apps.core.errors import ApplicationError


class InvalidCredentials(ApplicationError):
    status, code, title = 401, "invalid_credentials", "Invalid credentials"


class InvalidRefreshToken(ApplicationError):
    status, code, title = 401, "invalid_refresh_token", "Invalid refresh token"


class RefreshTokenReused(ApplicationError):
    status, code, title = 401, "refresh_token_reused", "Refresh token reused"


class AccountLocked(ApplicationError):
    status, code, title = 429, "account_locked", "Too many failed sign-ins"


class AccountSuspended(ApplicationError):
    status, code, title = 403, "account_suspended", "Account suspended"


class EmailVerificationRequired(ApplicationError):
    status, code, title = 403, "email_verification_required", "E-mail address not verified"


class ReauthenticationRequired(ApplicationError):
    status, code, title = 403, "reauthentication_required", "Recent authentication required"


class EmailTaken(ApplicationError):
    status, code, title = 409, "email_taken", "E-mail already registered"


class SessionNotFound(ApplicationError):
    status, code, title = 404, "not_found", "Session not found"
