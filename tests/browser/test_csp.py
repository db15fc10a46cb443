"""The Content Security Policy in a real browser: the main pages load and work with zero
violations (Chromium reports each one on the console), and single sign-on still reaches
the organisation's identity provider and comes back."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import services as cadence
from cycles import services as okr
from cycles.models import Level
from okrapp.sso import services as sso
from tests.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page: Page):
    """Console messages about the CSP, and scripts that failed, collected as pages load."""
    seen: list[str] = []

    def on_console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.append(f"{page.url}: page error {error}"))
    return seen


@pytest.fixture
def acme_okrs(acme, alice, bob, carol, engineering, active_cycle):
    cycle = active_cycle()
    company = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice,
        title="Win the workshop market", mission_link="Help small workshops build things.",
        status="published",
    )  # fmt: skip
    team = okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.TEAM, team=engineering, owner=bob,
        title="Ship the robot arm", aligned_to=[company],
    )  # fmt: skip
    kr = okr.key_result_create(
        org=acme, by=bob, objective=team, owner=carol, title="Arm lifts 5 kg",
        start_value=D(0), target_value=D(5), unit="kg",
    )  # fmt: skip
    cadence.checkin_record(org=acme, by=carol, key_result=kr, value=D(2), confidence=6)
    return cycle, kr


def test_the_main_pages_load_and_work_without_a_csp_violation(
    live_server, page: Page, log_in, violations, acme, carol, engineering, acme_okrs
):
    cycle, kr = acme_okrs
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    log_in(carol)  # lands on the company view

    # My week: an htmx save swaps the card in place.
    page.get_by_role("link", name="My week").click()
    card = page.locator(f"#kr-{kr.pk}")
    card.locator(f"input[name=kr{kr.pk}-value]").fill("3")
    card.locator(f"input[name=kr{kr.pk}-confidence]").fill("7")
    card.get_by_role("button", name="Save").click()
    expect(card.get_by_text("Checked in")).to_be_visible()

    for path in (
        f"/acme/key-results/{kr.pk}/",
        f"/acme/teams/{engineering.slug}/",
        "/acme/alignment/",
        f"/acme/cycles/{cycle.pk}/tree/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    # Progress bars are sized by classes now, not style attributes, and still show (2 of 5).
    fill = page.locator(f"#kr-{kr.pk} .progress-fill, .progress-fill").first
    expect(fill).to_be_attached()
    assert fill.evaluate("e => e.getBoundingClientRect().width") > 0

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("okrapp API")
    expect(page.locator(".opblock").first).to_be_visible()

    assert violations == []


def test_single_sign_on_reaches_the_identity_provider_under_the_policy(
    live_server, page: Page, violations, acme, alice, carol
):
    """The SSO form posts to us and is redirected to the IdP: form-action must allow it."""
    callback = f"{live_server.url}/accounts/oidc/org-acme/login/callback/"
    with OidcProvider(
        client_id="okrapp-acme", client_secret="s3cret-from-the-idp", redirect_uris=[callback]
    ) as idp:
        sso.sso_configure(
            org=acme,
            by=alice,
            values=sso.SsoSettings(
                oidc_issuer=idp.issuer,
                oidc_client_id="okrapp-acme",
                oidc_client_secret="s3cret-from-the-idp",
                allowed_domains="acme.example",
            ),
        )
        idp.user = {
            "sub": "idp-carol",
            "email": carol.user.email,
            "email_verified": True,
            "name": "Carol",
        }
        page.goto(f"{live_server.url}/accounts/sso/")
        page.fill("input[name=organization]", "acme")
        page.locator("form[action='/accounts/sso/'] button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/acme/$"))
        assert any(request.startswith("GET /authorize") for request in idp.requests)
    assert violations == []
