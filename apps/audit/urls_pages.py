"""The Security log pages (apps/audit/pages.py); included under /orgs/ by plinto/urls.py, beside
apps.orgs.urls_pages. Names start with `orgs_` so the account menu marks "Organizations" as current."""

from django.urls import path

from apps.audit import pages

urlpatterns = [
    path("<uuid:org_id>/security-log/", pages.security_log_page, name="orgs_security_log"),
    path("<uuid:org_id>/security-log/export/", pages.security_log_export, name="orgs_security_log_export"),
    path("<uuid:org_id>/security-log/<uuid:event_id>/", pages.security_log_event_page,
         name="orgs_security_log_event"),
]
