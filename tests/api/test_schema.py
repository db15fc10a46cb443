"""The OpenAPI schema and its Swagger UI docs page: public, valid, served without a CDN."""

import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_openapi_3_and_public(api):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/{org_slug}/cycles/",
        "/api/v1/{org_slug}/cycles/{id}/",
        "/api/v1/{org_slug}/cycles/{id}/transition/",
        "/api/v1/{org_slug}/cycles/{id}/carry-over/",
        "/api/v1/{org_slug}/objectives/",
        "/api/v1/{org_slug}/objectives/{id}/",
        "/api/v1/{org_slug}/key-results/",
        "/api/v1/{org_slug}/key-results/{id}/",
        "/api/v1/{org_slug}/initiatives/",
        "/api/v1/{org_slug}/initiatives/{id}/",
        "/api/v1/{org_slug}/scores/",
        "/api/v1/{org_slug}/scores/{id}/",
        "/api/v1/{org_slug}/key-results/{kr_id}/check-ins/",
        "/api/v1/{org_slug}/comments/",
        "/api/v1/{org_slug}/comments/{id}/",
        "/api/v1/{org_slug}/kudos/",
    }
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_the_schema_documents_the_error_responses(api):
    schema = json.loads(api.get("/api/schema/?format=json").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "404"} <= codes, (method, path)
            if method in {"post", "put", "patch", "delete"}:
                assert {"400", "403"} <= codes, (method, path)
            assert "406" in codes, (method, path)  # content negotiation, any operation
            if "requestBody" in operation:
                assert "415" in codes, (method, path)
    objective = schema["paths"]["/api/v1/{org_slug}/objectives/{id}/"]
    assert "409" in objective["patch"]["responses"]
    assert "409" in objective["put"]["responses"]
    check_ins = schema["paths"]["/api/v1/{org_slug}/key-results/{kr_id}/check-ins/"]
    assert "409" in check_ins["post"]["responses"]
    list_items = schema["components"]["schemas"]["ObjectiveListItem"]["oneOf"]
    assert {item["$ref"].rsplit("/", 1)[1] for item in list_items} == {
        "Objective",
        "PrivateObjective",
    }


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("objectives", {"cycle", "team", "owner", "level", "status"}),
        ("key-results", {"cycle", "team", "owner", "level", "objective"}),
        ("initiatives", {"cycle", "team", "owner", "level", "key_result", "status"}),
    ],
)
def test_the_list_filters_are_documented(api, path, filters):
    schema = json.loads(api.get("/api/schema/?format=json").content)
    operation = schema["paths"][f"/api/v1/{{org_slug}}/{path}/"]["get"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert filters <= set(params)
    assert params["level"]["schema"]["enum"] == ["company", "team", "individual"]
    assert params["cycle"]["schema"]["type"] == "integer"
    assert params["team"]["schema"]["type"] == "string"
    assert all(params[name].get("description") for name in filters - {"level", "status"})
    assert "400" in operation["responses"]  # a malformed filter value


def test_an_unreadable_content_type_or_accept_gets_the_documented_answer(as_token, alice, acme):
    client = as_token(alice)
    url = f"/api/v1/{acme.slug}/objectives/"
    response = client.generic("POST", url, data="title=x", content_type="text/x-nonsense")
    assert response.status_code == 415
    assert "detail" in response.json()
    response = client.get(url, HTTP_ACCEPT="image/gif")
    assert response.status_code == 406


def test_the_schema_command_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    assert target.read_text().startswith("openapi: 3")


def test_the_docs_page_renders_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "swagger-ui" in body
    assert "cdn" not in body.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    # No inline script or style (the CSP allows neither): the start-up script is a file.
    assert "<script>" not in body and "<style" not in body
    assert '<script src="/api/docs/?script="></script>' in body
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_the_profile_page_links_to_the_docs(client, login, carol, acme):
    login(carol)
    response = client.get(f"/{acme.slug}/profile/")
    assert 'href="/api/docs/"' in response.content.decode()
