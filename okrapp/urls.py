"""Root URLs. Everything an organisation owns lives under ``/<org_slug>/``."""

from django.contrib import admin
from django.urls import include, path

from okrapp import accounts
from okrapp.sso import views as sso
from okrapp.views import health, invitations, organizations

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("okrapp.api_urls")),
    path("accounts/login/", accounts.login, name="account_login"),
    path("accounts/sso/", sso.sso_login, name="sso_login"),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    # A person's ICS feed (checkins; by string: the core imports no app).
    path("calendar/", include("checkins.calendar_urls")),
    # Slack's request URLs (checkins; the signed request names the workspace, not a slug).
    path("integrations/", include("checkins.integration_urls")),
    path("orgs/new/", organizations.organization_create, name="organization_create"),
    path("", organizations.home, name="home"),
    path("<slug:org_slug>/sso/", sso.sso_settings, name="org_sso"),
    path("<slug:org_slug>/", include("okrapp.urls_tenant")),
]
