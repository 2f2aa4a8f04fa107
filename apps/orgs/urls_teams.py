from django.urls import path

from apps.orgs import apis_teams as apis

urlpatterns = [
    path("organizations/<str:org_id>/teams", apis.TeamListApi.as_view(), name="organization-teams"),
    path("teams/<str:team_id>", apis.TeamDetailApi.as_view(), name="team"),
    path("teams/<str:team_id>/members", apis.TeamMemberListApi.as_view(), name="team-members"),
    path("teams/<str:team_id>/members/<str:user_id>", apis.TeamMemberApi.as_view(), name="team-member"),
    path("organizations/<str:org_id>/domains", apis.DomainListApi.as_view(), name="organization-domains"),
    path("domains/<str:domain_id>", apis.DomainDetailApi.as_view(), name="domain"),
    path("domains/<str:domain_id>/verify", apis.DomainVerifyApi.as_view(), name="domain-verify"),
]
