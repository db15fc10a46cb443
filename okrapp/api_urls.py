"""URLs under /api/: the schema, its docs page, and each app's endpoints per organisation."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from okrapp.api import api_not_found

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    # Apps' routers, named by string so that the core imports no app.
    path("v1/<slug:org_slug>/", include("cycles.api")),
    path("v1/<slug:org_slug>/", include("checkins.api")),
    # Anything else under /api/ (a misspelt path, a non-numeric id): JSON, not the HTML 404.
    re_path(r"^", api_not_found),
]
