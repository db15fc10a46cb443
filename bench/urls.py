"""The application's URLs plus one bare page for the benchmark's baseline.

``/<org_slug>/bench-baseline/`` goes through every middleware, the session, the tenant
middleware (membership lookup, language) and renders a small template: what every page
pays before its own work. It exists only when ``bench.settings`` is the settings module.
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

BASELINE = engines["django"].from_string(
    "<!doctype html><html lang=en><title>{{ request.org.name }}</title>"
    "<p>{{ request.membership.user.email }} · {{ request.membership.get_role_display }}</p>"
)


def baseline(request, org_slug):
    return HttpResponse(BASELINE.render({}, request))


urlpatterns = [
    path("<slug:org_slug>/bench-baseline/", baseline, name="bench_baseline"),
    path("", include("okrapp.urls")),
]
