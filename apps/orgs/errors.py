from apps.core.errors import ApplicationError, Conflict, PermissionDenied, ResourceNotFound


class OrganizationNotFound(ResourceNotFound):
    title = "Organization not found"


class MemberNotFound(ResourceNotFound):
    title = "Member not found"


class LastOwner(Conflict):
    code, title = "last_owner", "An organization keeps at least one owner"


class SlugTaken(Conflict):
    code, title = "slug_taken", "Slug taken"


class UnknownRole(ApplicationError):
    status, code, title = 400, "unknown_role", "Unknown role"


class MfaEnrollmentRequired(PermissionDenied):
    code, title = "mfa_enrollment_required", "Second factor required"


class IpNotAllowed(PermissionDenied):
    code, title = "ip_not_allowed", "Address not allowed"


class AlreadyMember(Conflict):
    code, title = "already_member", "Already a member"
