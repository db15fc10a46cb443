"""Root URLs. Everything an organisation owns lives under ``/<org_slug>/``."""

from django.contrib import admin
from django.urls import include, path

from okrapp import accounts
from okrapp.views import health, invitations, organizations

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("okrapp.api_urls")),
    path("accounts/login/", accounts.login, name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    path("orgs/new/", organizations.organization_create, name="organization_create"),
    path("", organizations.home, name="home"),
    path("<slug:org_slug>/", include("okrapp.urls_tenant")),
]
