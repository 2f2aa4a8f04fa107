"""Access control pages (apps/rbac/pages.py); included under /orgs/ by plinto/urls.py, beside
apps.orgs.urls_pages. Names start with `orgs_` so the account menu marks "Organizations" as current."""

from django.urls import path

from apps.rbac import pages

urlpatterns = [
    path("<uuid:org_id>/roles/", pages.roles_page, name="orgs_roles"),
    path("<uuid:org_id>/roles/<uuid:role_id>/", pages.role_page, name="orgs_role"),
    path("<uuid:org_id>/policies/", pages.policies_page, name="orgs_policies"),
    path("<uuid:org_id>/policies/<uuid:policy_id>/", pages.policy_page, name="orgs_policy"),
    path("<uuid:org_id>/api-keys/", pages.api_keys_page, name="orgs_api_keys"),
    path("<uuid:org_id>/grants/", pages.grants_page, name="orgs_grants"),
]
