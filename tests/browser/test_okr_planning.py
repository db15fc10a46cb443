"""Journey: an admin creates and activates a cycle, a manager writes a team objective with
two key results aligned to a company objective, and the OKR Master asks for a change that
the owner then sees on their page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cycles.models import CycleState, KeyResult, Objective, ReviewStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_a_cycle_write_aligned_okrs_and_review_them(
    live_server, page: Page, log_in, log_out, acme, alice, bob, erin, engineering
):
    base = live_server.url
    today = timezone.localdate()

    # The admin sets up the quarter and opens it.
    log_in(alice)
    page.get_by_role("link", name="Cycles", exact=True).click()
    page.fill("input[name=name]", "Launch quarter")
    page.fill("input[name=start_date]", (today - timedelta(days=10)).isoformat())
    page.fill("input[name=end_date]", (today + timedelta(days=80)).isoformat())
    page.get_by_role("button", name="Create cycle").click()
    expect(page.get_by_role("heading", name=re.compile("Launch quarter"))).to_be_visible()

    page.get_by_role("link", name="Open planning").click()
    expect(page.get_by_text("Everyone can now write objectives")).to_be_visible()
    page.get_by_role("button", name="Open planning").click()
    page.get_by_role("link", name="Activate").click()
    expect(page.get_by_text("weekly check-ins begin")).to_be_visible()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Launch quarter is now active.")).to_be_visible()
    expect(page.get_by_text("Planning → Active")).to_be_visible()

    # ... and writes the company objective everything else aligns to.
    page.get_by_role("link", name="Company objective").click()
    page.fill("input[name=title]", "Delight every workshop owner")
    page.fill("textarea[name=mission_link]", "A helpful robot in every workshop")
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", name="Delight every workshop owner")).to_be_visible()
    log_out()

    # The manager writes the team's objective, aligned upward, with two key results.
    log_in(bob)
    page.goto(f"{base}/acme/teams/engineering/okrs/")
    page.get_by_role("link", name="New team objective").click()
    expect(page.locator("select[name=level]")).to_have_value("2")
    page.fill("input[name=title]", "Make setup effortless")
    page.get_by_label("Company · Delight every workshop owner").check()
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", name="Make setup effortless")).to_be_visible()

    page.get_by_role("link", name="Key result").first.click()
    page.fill("input[name=title]", "Cut median setup time from 360 to 90 minutes")
    page.select_option("select[name=direction]", "decrease")
    page.fill("input[name=start_value]", "360")
    page.fill("input[name=target_value]", "90")
    page.fill("input[name=unit]", "min")
    page.get_by_role("button", name="Add and write another").click()
    expect(page.get_by_text("Key result “Cut median setup time")).to_be_visible()

    page.fill("input[name=title]", "Keep support tickets per robot")
    page.select_option("select[name=direction]", "stay_between")
    expect(page.locator("input[name=start_value]")).to_be_hidden()
    page.fill("input[name=lower_bound]", "0")
    page.fill("input[name=upper_bound]", "2.5")
    page.get_by_role("button", name="Add key result").click()
    expect(page.get_by_role("heading", name="Make setup effortless")).to_be_visible()
    expect(page.locator(".kr-detail")).to_have_count(2)
    expect(page.get_by_role("link", name="Delight every workshop owner")).to_be_visible()
    log_out()

    # The OKR Master reviews it and asks for a change.
    log_in(erin)
    page.get_by_role("link", name="Review queue").click()
    card = page.locator("article.review-item", has_text="Make setup effortless")
    card.get_by_label("Changes requested").check()
    card.get_by_label("Comment for the owner").fill("Say how many owners finish setup alone.")
    card.get_by_role("button", name="Submit review").click()
    expect(
        card.get_by_text("Asked the owner of “Make setup effortless” for changes.")
    ).to_be_visible()
    log_out()

    # The owner sees the request on their own page.
    log_in(bob)
    page.get_by_role("link", name="My OKRs").click()
    expect(page.get_by_text("The OKR Master asked for a change")).to_be_visible()
    expect(page.get_by_text("Say how many owners finish setup alone.")).to_be_visible()

    objective = Objective.objects.for_org(acme).get(title="Make setup effortless")
    assert objective.cycle.state == CycleState.ACTIVE
    assert objective.review_status == ReviewStatus.CHANGES_REQUESTED
    assert [o.title for o in objective.aligned_to.all()] == ["Delight every workshop owner"]
    krs = KeyResult.objects.for_org(acme).filter(objective=objective).order_by("position")
    assert [(kr.direction, kr.upper_bound) for kr in krs] == [
        ("decrease", None),
        ("stay_between", 2.5),
    ]
