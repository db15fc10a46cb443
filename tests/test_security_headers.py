"""Security headers on every kind of response, and the login limit in the shared cache."""

import pytest
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db


def csp_directives(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = set(values)
    return directives


STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}


def assert_strict(directives):
    for name, values in STRICT.items():
        assert directives.get(name) == values, (name, directives.get(name))
    everything = set().union(*directives.values())
    assert not everything & {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"}


def test_pages_api_and_docs_carry_the_strict_policy(client, login, carol, acme):
    login(carol)
    for url in (f"/{acme.slug}/", f"/{acme.slug}/my-week/", "/api/docs/", "/api/schema/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(csp_directives(response))
        assert "Content-Security-Policy-Report-Only" not in response  # enforced, not reported
    api = client.get(f"/api/v1/{acme.slug}/cycles/")
    assert_strict(csp_directives(api))
    missing = client.get(f"/{acme.slug}/no-such-page/")
    assert missing.status_code == 404
    assert_strict(csp_directives(missing))


def test_the_other_headers(client):
    response = client.get(reverse("account_login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in policy


def test_only_sign_in_pages_may_send_a_form_to_an_identity_provider(client, login, carol, acme):
    """The SSO form is answered with a redirect to the organisation's IdP (another origin)."""
    for url in (reverse("account_login"), reverse("sso_login")):
        directives = csp_directives(client.get(url))
        assert directives["form-action"] >= {"'self'", "https:"}, url
        assert directives["script-src"] == {"'self'"}
    login(carol)
    assert csp_directives(client.get(f"/{acme.slug}/"))["form-action"] == {"'self'"}


def test_no_template_has_inline_script_style_or_handler():
    """What the policy would block, caught before a browser does (mail templates aside)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        rel = path.relative_to(root).as_posix()
        if "/mail/" in rel or rel.startswith("mail/") or rel == "checkins/report_document.html":
            continue  # mail clients and the PDF renderer, not browsers under our CSP
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append((rel, "inline <script>"))
        if re.search(r"<style\b", text):
            offenders.append((rel, "<style>"))
        if re.search(r"\sstyle=\"", text):
            offenders.append((rel, "style attribute"))
        if re.search(r"\son[a-z]+=\"|javascript:|hx-on", text):
            offenders.append((rel, "inline handler"))
    assert offenders == []


def test_login_failures_are_counted_in_the_shared_cache(client, carol, settings, password):
    """allauth's limit lives in the cache (Redis in production), so it holds across processes:
    once the key's budget is spent, even the right password is refused until it expires."""
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,3/5m/key"}
    url = reverse("account_login")
    for _ in range(3):
        response = client.post(url, {"login": carol.user.email, "password": "wrong"})
        assert response.status_code == 400
    keys = [key for key in _cache_keys() if "login_failed" in key]
    assert keys, _cache_keys()
    blocked = client.post(url, {"login": carol.user.email, "password": password})
    assert blocked.status_code == 429
    cache.clear()  # the counters are the cache's: cleared, the limit is lifted
    response = client.post(url, {"login": carol.user.email, "password": password})
    assert response.status_code == 302


def _cache_keys() -> list[str]:
    store = cache._cache
    if hasattr(store, "get_client"):  # Redis (CI, production)
        return [key.decode() for key in store.get_client().keys("*")]
    return [str(key) for key in store]  # the local-memory cache of a laptop's test run
