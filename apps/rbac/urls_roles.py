from django.urls import path

from apps.rbac import apis_roles as apis

urlpatterns = [
    path("rbac/permissions", apis.PermissionCatalogApi.as_view(), name="rbac-permissions"),
    path("organizations/<str:org_id>/roles", apis.RoleListApi.as_view(), name="organization-roles"),
    path("roles/<str:role_id>", apis.RoleDetailApi.as_view(), name="role"),
    path("organizations/<str:org_id>/grants", apis.GrantListApi.as_view(), name="organization-grants"),
]
