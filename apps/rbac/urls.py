from django.urls import path

from apps.rbac import apis

urlpatterns = [
    path("rbac/check", apis.CheckApi.as_view(), name="rbac-check"),
    path("rbac/check-bulk", apis.CheckBulkApi.as_view(), name="rbac-check-bulk"),
    path("rbac/me/permissions", apis.MyPermissionsApi.as_view(), name="rbac-my-permissions"),
]
