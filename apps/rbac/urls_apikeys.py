from django.urls import path

from apps.rbac import apis_apikeys as apis

urlpatterns = [
    path("organizations/<str:org_id>/api-keys", apis.ApiKeyListApi.as_view(), name="organization-api-keys"),
    path("api-keys/<str:key_id>", apis.ApiKeyDetailApi.as_view(), name="api-key"),
    path("api-keys/<str:key_id>/rotate", apis.ApiKeyRotateApi.as_view(), name="api-key-rotate"),
]
