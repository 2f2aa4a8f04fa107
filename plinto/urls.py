from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.accounts import views as account_views
from apps.accounts.urls import well_known_urlpatterns
from apps.core.views import health_live, health_ready
from apps.orgs import views as org_views

api_v1 = [
    path("", include("apps.accounts.urls")),
    path("", include("apps.mfa.urls")),
    path("", include("apps.orgs.urls")),
    path("", include("apps.orgs.urls_invitations")),
    path("", include("apps.orgs.urls_teams")),
    path("passkeys/", include("apps.mfa.urls_passkeys")),
    path("", include("apps.audit.urls")),
    path("", include("apps.rbac.urls")),
    path("", include("apps.rbac.urls_roles")),
    path("", include("apps.rbac.urls_policies")),
    path("", include("apps.rbac.urls_apikeys")),
]

urlpatterns = [
    *well_known_urlpatterns,
    path("health/live", health_live, name="health-live"),
    path("health/ready", health_ready, name="health-ready"),
    path("metrics", ExportToDjangoView, name="metrics"),
    # Operators sign in through the same pages as everyone: lockout, rate limits and the second factor apply.
    path("admin/login/", RedirectView.as_view(pattern_name="account_login", query_string=True), name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/security/", account_views.security_page, name="account_security"),
    path("accounts/sessions/", account_views.sessions_page, name="account_sessions"),
    path("accounts/magic-link/", account_views.magic_link_page, name="account_magic_link"),
    path("invitations/accept/", org_views.invitation_accept_page, name="invitation_accept"),
    path("accounts/2fa/", include("apps.mfa.urls_pages")),
    path("orgs/", include("apps.orgs.urls_pages")),
    path("orgs/", include("apps.audit.urls_pages")),
    path("orgs/", include("apps.rbac.urls_pages")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
