from django.urls import path

from apps.orgs import apis

urlpatterns = [
    path("organizations", apis.OrganizationListApi.as_view(), name="organizations"),
    path("organizations/slug/<str:slug>", apis.OrganizationBySlugApi.as_view(), name="organization-by-slug"),
    path("organizations/<str:org_id>", apis.OrganizationDetailApi.as_view(), name="organization"),
    path("organizations/<str:org_id>/members", apis.MemberListApi.as_view(), name="organization-members"),
    path("organizations/<str:org_id>/members/bulk", apis.MembersBulkApi.as_view(), name="organization-members-bulk"),
    path("organizations/<str:org_id>/members/<str:user_id>", apis.MemberDetailApi.as_view(),
         name="organization-member"),
    path("organizations/<str:org_id>/leave", apis.LeaveApi.as_view(), name="organization-leave"),
    path("organizations/<str:org_id>/transfer-ownership", apis.TransferOwnershipApi.as_view(),
         name="organization-transfer-ownership"),
    path("auth/switch-organization", apis.SwitchOrganizationApi.as_view(), name="auth-switch-organization"),
]
