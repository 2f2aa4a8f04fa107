from apps.core.errors import ApplicationError


class InvalidMfaCode(ApplicationError):
    status, code, title = 401, "invalid_mfa_code", "Invalid code"


class InvalidMfaToken(ApplicationError):
    status, code, title = 401, "invalid_mfa_token", "Invalid or expired MFA token"


class MethodNotEnrolled(ApplicationError):
    status, code, title = 400, "method_not_enrolled", "Method not enrolled"


class FactorNotFound(ApplicationError):
    status, code, title = 404, "not_found", "Factor not found"


class SmsUnavailable(ApplicationError):
    status, code, title = 400, "sms_unavailable", "SMS not available"


class NoPendingEnrolment(ApplicationError):
    status, code, title = 400, "no_pending_enrolment", "Nothing to confirm"
