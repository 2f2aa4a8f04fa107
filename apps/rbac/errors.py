"""Errors of access control, as problem+json (apps.core.errors)."""

from apps.core.errors import ApplicationError, Conflict, PermissionDenied, ResourceNotFound


class RoleNotFound(ResourceNotFound):
    title = "Role not found"


class PolicyNotFound(ResourceNotFound):
    title = "Policy not found"


class GrantNotFound(ResourceNotFound):
    title = "Grant not found"


class ApiKeyNotFound(ResourceNotFound):
    title = "API key not found"


class ResourceObjectNotFound(ResourceNotFound):
    """A grant or check named an object that is not in this organization (or does not exist)."""

    title = "Resource not found"


class RoleInUse(Conflict):
    code, title = "role_in_use", "Role in use"


class RoleNameTaken(Conflict):
    code, title = "role_name_taken", "Role name taken"


class PolicyNameTaken(Conflict):
    code, title = "policy_name_taken", "Policy name taken"


class SystemRoleReadOnly(PermissionDenied):
    code, title = "system_role_read_only", "System roles cannot be changed"


class PrivilegeEscalation(PermissionDenied):
    """Granting (to a role, a key, a member or a grant) a permission the actor does not hold."""

    code, title = "privilege_escalation", "You cannot grant what you do not hold"


class InvalidApiKey(ApplicationError):
    status, code, title = 401, "invalid_api_key", "Invalid API key"


class ApiKeyRevoked(Conflict):
    code, title = "api_key_revoked", "API key revoked"


class UserRequired(PermissionDenied):
    """An API key called something only a signed-in person may do (an account's own routes, creating keys)."""

    code, title = "user_required", "A signed-in user is required"
