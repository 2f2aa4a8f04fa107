"""Organization pages; included under /orgs/ by plinto/urls.py.

`orgs_list` fills the "Organizations" slot in templates/allauth/layouts/manage.html.
"""

from django.urls import path

from apps.orgs import pages

urlpatterns = [
    path("", pages.organizations_page, name="orgs_list"),
    path("<uuid:org_id>/", pages.overview_page, name="orgs_overview"),
    path("<uuid:org_id>/members/", pages.members_page, name="orgs_members"),
    path("<uuid:org_id>/invitations/", pages.invitations_page, name="orgs_invitations"),
    path("<uuid:org_id>/teams/", pages.teams_page, name="orgs_teams"),
    path("<uuid:org_id>/teams/<uuid:team_id>/", pages.team_page, name="orgs_team"),
    path("<uuid:org_id>/domains/", pages.domains_page, name="orgs_domains"),
]
