"""Invitation routes, included under /api/v1/ by plinto/urls.py. Fixed paths come before `<invitation_id>`."""

from django.urls import path

from apps.orgs import apis_invitations as apis

urlpatterns = [
    path("organizations/<str:org_id>/invitations", apis.InvitationListApi.as_view(), name="organization-invitations"),
    path("organizations/<str:org_id>/invitations/bulk", apis.InvitationsBulkApi.as_view(),
         name="organization-invitations-bulk"),
    path("invitations/validate/<str:token>", apis.InvitationValidateApi.as_view(), name="invitation-validate"),
    path("invitations/accept", apis.InvitationAcceptApi.as_view(), name="invitation-accept-api"),
    path("invitations/<str:invitation_id>", apis.InvitationDetailApi.as_view(), name="invitation"),
    path("invitations/<str:invitation_id>/resend", apis.InvitationResendApi.as_view(), name="invitation-resend"),
]
