"""Every API route, every method, as an outsider: 404, the same as for an unknown
organisation; as an anonymous caller: 401. And the base class cannot be bypassed."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver

from checkins import services as checkin_services
from checkins.models import CheckIn, Comment, Kudos
from cycles.models import Cycle, KeyResultScore
from okrapp.api import TenantViewSet
from tests.api.conftest import url

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/<slug:org_slug>/"):
            yield route, entry


@pytest.fixture
def acme_rows(acme, bob, carol, cycle, team_objective, key_result, initiative):
    score = KeyResultScore.objects.create(
        organization=acme,
        key_result=key_result,
        score=Decimal("0.4"),
        suggested=Decimal("0.4"),
        scored_by=bob,
    )
    return {
        "scores": score.pk,
        "cycles": cycle.pk,
        "objectives": team_objective.pk,
        "key-results": key_result.pk,
        "initiatives": initiative.pk,
        "comments": checkin_services.comment_create(
            org=acme, by=bob, body="Nice", key_result=key_result
        ).pk,
        "kudos": checkin_services.kudos_give(org=acme, by=bob, receiver=carol, message="Thanks").pk,
    }


def _urls(slug, rows):
    urls = []
    for route, _ in _api_routes():
        collection = route.split("/")[3]
        filled = (
            route.replace("<slug:org_slug>", slug)
            .replace("<int:pk>", str(rows[collection]))
            .replace("<int:kr_id>", str(rows["key-results"]))
        )
        assert "<" not in filled, filled
        urls.append("/" + filled)
    return urls


def test_the_routes_are_the_documented_ones():
    routes = {route for route, _ in _api_routes()}
    assert routes == {
        "api/v1/<slug:org_slug>/cycles/",
        "api/v1/<slug:org_slug>/cycles/<int:pk>/",
        "api/v1/<slug:org_slug>/cycles/<int:pk>/transition/",
        "api/v1/<slug:org_slug>/cycles/<int:pk>/carry-over/",
        "api/v1/<slug:org_slug>/objectives/",
        "api/v1/<slug:org_slug>/objectives/<int:pk>/",
        "api/v1/<slug:org_slug>/key-results/",
        "api/v1/<slug:org_slug>/key-results/<int:pk>/",
        "api/v1/<slug:org_slug>/initiatives/",
        "api/v1/<slug:org_slug>/initiatives/<int:pk>/",
        "api/v1/<slug:org_slug>/scores/",
        "api/v1/<slug:org_slug>/scores/<int:pk>/",
        "api/v1/<slug:org_slug>/key-results/<int:kr_id>/check-ins/",
        "api/v1/<slug:org_slug>/comments/",
        "api/v1/<slug:org_slug>/comments/<int:pk>/",
        "api/v1/<slug:org_slug>/kudos/",
    }


def test_every_api_view_is_a_tenant_viewset_exempt_from_the_html_middleware():
    for route, pattern in _api_routes():
        assert issubclass(pattern.callback.cls, TenantViewSet), route
        assert pattern.callback.tenant_exempt is True, route


@pytest.mark.parametrize("credentials", ["token", "session"])
def test_every_route_and_method_is_404_for_another_organisations_member(
    credentials, as_token, as_session, mallory, acme, acme_rows, alice
):
    client = as_token(mallory) if credentials == "token" else as_session(mallory)
    before = Cycle.objects.for_org(acme).count()
    cadence = [m.objects.for_org(acme).count() for m in (CheckIn, Comment, Kudos)]
    answers = {}
    for target in _urls(acme.slug, acme_rows):
        for method in METHODS:
            response = getattr(client, method)(target, {"name": "x"}, format="json")
            answers[(method, target)] = (response.status_code, response.json())
    wrong = {k: v for k, v in answers.items() if v != (404, {"detail": "Not found."})}
    assert len(answers) == 80
    assert wrong == {}
    assert Cycle.objects.for_org(acme).count() == before
    assert [m.objects.for_org(acme).count() for m in (CheckIn, Comment, Kudos)] == cadence


def test_an_unknown_organisation_answers_exactly_like_a_foreign_one(
    as_token, mallory, acme, acme_rows
):
    client = as_token(mallory)
    for foreign, unknown in zip(
        _urls(acme.slug, acme_rows), _urls("no-such-org", acme_rows), strict=True
    ):
        a, b = client.get(foreign), client.get(unknown)
        assert a.status_code == b.status_code == 404
        assert a.content == b.content == b'{"detail":"Not found."}'


def test_every_route_and_method_is_401_for_anonymous_callers(api, acme, acme_rows):
    for target in _urls(acme.slug, acme_rows):
        for method in METHODS:
            response = getattr(api, method)(target)
            assert response.status_code == 401, (method, target)


def test_other_paths_under_api_are_json_404s(as_token, alice, acme):
    client = as_token(alice)
    for path in ("objectives/abc/", "objectives/1.json", "nothing-here/", "cycles"):
        response = client.get(url(acme, path))
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


def test_an_id_of_another_organisation_is_404_inside_mine(as_token, mallory, globex, acme_rows):
    client = as_token(mallory)
    for collection, pk in acme_rows.items():
        response = client.get(url(globex, f"{collection}/{pk}/"))
        assert response.status_code == 404


def test_huge_ids_are_404_not_500(as_token, alice, acme):
    response = as_token(alice).get(url(acme, f"objectives/{10**30}/"))
    assert response.status_code == 404


def test_the_base_refuses_a_viewset_that_replaces_the_scoped_queryset():
    with pytest.raises(ImproperlyConfigured):

        class Leaky(TenantViewSet):
            tenant_model = Cycle

            def get_queryset(self):
                return Cycle.all_tenants.all()

    with pytest.raises(ImproperlyConfigured):

        class AlsoLeaky(TenantViewSet):
            queryset = Cycle.objects.none()


def test_the_base_needs_a_tenant_model():
    class NoModel(TenantViewSet):
        pass

    with pytest.raises(ImproperlyConfigured):
        NoModel.as_view({"get": "list"})


def test_get_tenant_queryset_must_refine_the_scoped_queryset(rf, alice, acme):
    from rest_framework.test import force_authenticate

    class Wrong(TenantViewSet):
        tenant_model = Cycle

        def get_tenant_queryset(self, queryset):
            return Cycle.objects.filter(name="x")  # a fresh, unscoped queryset

        def list(self, request, *args, **kwargs):
            return self.get_queryset()

    request = rf.get("/")
    force_authenticate(request, user=alice.user)
    view = Wrong.as_view({"get": "list"})
    with pytest.raises(ImproperlyConfigured):
        view(request, org_slug=acme.slug)


def test_reverse_names_do_not_clash_with_the_pages():
    names = {pattern.name for _, pattern in _api_routes()}
    assert all(re.match(r"api-[a-z-]+-(list|detail|transition|carry-over)$", n) for n in names)


def test_options_is_not_offered_the_schema_is_the_description(as_token, alice, mallory, acme):
    assert as_token(alice).options(url(acme, "objectives/")).status_code == 405
    assert as_token(mallory).options(url(acme, "objectives/")).status_code == 404


def test_unsafe_methods_on_unknown_api_paths_are_json_404s_not_csrf_pages(as_session, alice):
    client = as_session(alice, enforce_csrf_checks=True)
    response = client.delete("/api/v1/acme/no-such-thing/1/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
