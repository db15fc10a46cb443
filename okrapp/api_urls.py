"""URLs under /api/: the schema, its docs page, and each app's endpoints per organisation."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from okrapp.api import api_not_found

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # Split view: Swagger UI's start-up script is a file of its own (no inline script for the CSP).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api_schema", template_name="api/swagger_ui.html"
        ),
        name="api_docs",
    ),
    # Apps' routers, named by string so that the core imports no app.
    path("v1/<slug:org_slug>/", include("cycles.api")),
    path("v1/<slug:org_slug>/", include("checkins.api")),
    # Anything else under /api/ (a misspelt path, a non-numeric id): JSON, not the HTML 404.
    re_path(r"^", api_not_found),
]
