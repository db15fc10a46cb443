"""Journey: an admin moves the active cycle to scoring; the owner self-scores a committed key
result below 1.0 (refused without a reflection, saved with one) and sees the done state; the
manager reads the score on the team page and comments."""

import re
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from cycles.models import CycleState, KeyResultScore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_score_a_committed_key_result_and_the_manager_comments(
    live_server, page: Page, log_in, log_out, acme, alice, bob, carol, engineering, ending_quarter
):
    cycle, kr = ending_quarter
    base = live_server.url
    cycle_url = f"{base}/acme/cycles/{cycle.pk}/"

    # The admin moves the active cycle to scoring, after reading what that means.
    log_in(alice)
    page.goto(cycle_url)
    page.get_by_role("link", name="Start scoring").click()
    expect(page.get_by_text("every key result owner is asked to self-score")).to_be_visible()
    page.get_by_role("button", name="Start scoring").click()
    expect(page.get_by_text("Ending quarter is now scoring.")).to_be_visible()
    log_out()

    # The owner is called to score from the cycle page.
    log_in(carol)
    page.goto(cycle_url)
    expect(page.get_by_text("You have scored 0 of your 1 key results.")).to_be_visible()
    page.get_by_role("link", name="Score your key results").click()
    expect(page.get_by_role("heading", name=re.compile("Score your key results"))).to_be_visible()
    expect(page.get_by_text("0 of 1 scored.")).to_be_visible()
    row = page.locator(f"#kr-{kr.pk}")
    score = row.get_by_label("Your score")
    expect(score).to_have_value("0.6")  # the suggestion, from 60 % progress
    score.fill("0.5")
    row.get_by_label("What worked").fill("Demo days brought the first five.")

    # Committed and below 1.0 without a reflection: refused in place, input kept.
    row.get_by_role("button", name=re.compile("^Save")).click()
    row = page.locator(f"#kr-{kr.pk}")
    expect(row.get_by_text("needs a reflection: what would you change")).to_be_visible()
    expect(row.get_by_text("Choose the main reason it fell short.")).to_be_visible()
    expect(row.get_by_label("Your score")).to_have_value("0.5")
    expect(row.get_by_label("What worked")).to_have_value("Demo days brought the first five.")
    assert not KeyResultScore.objects.for_org(acme).exists()

    row.get_by_label("What to change next time").fill("Book the workshops before the quarter.")
    row.get_by_label("Main reason").select_option("too_ambitious")
    row.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_text("All scored. Thank you!")).to_be_visible()
    expect(page.locator(f"#kr-{kr.pk}").get_by_text("Saved", exact=True)).to_be_visible()

    # Without JavaScript's help the page says the same after a reload.
    page.reload()
    expect(page.get_by_text("All scored. Thank you!")).to_be_visible()
    expect(page.locator(f"#kr-{kr.pk}").get_by_label("Your score")).to_have_value("0.5")
    log_out()

    # The manager reads the score on the team page and comments.
    log_in(bob)
    page.goto(cycle_url)
    page.get_by_role("link", name="Team scores").click()
    item = page.locator(f"#score-{kr.pk}")
    expect(item.get_by_text("0.5")).to_be_visible()
    expect(item.get_by_text("Target too ambitious")).to_be_visible()
    expect(item.get_by_text("Book the workshops before the quarter.")).to_be_visible()
    expect(page.get_by_text("Everyone has scored every key result.")).to_be_visible()
    item.locator("summary", has_text="Comment").click()
    item.get_by_label("Comment for the owner").fill("Good call; let us book them in week 1.")
    item.get_by_role("button", name="Send comment").click()
    expect(page.get_by_text("Comment sent to Carol Tsai.")).to_be_visible()

    record = KeyResultScore.objects.for_org(acme).select_related("key_result").get()
    assert record.key_result.objective.cycle.state == CycleState.SCORING
    assert (record.score, record.suggested, record.reason) == (D("0.5"), D("0.6"), "too_ambitious")
    assert record.scored_by == carol
    assert (record.manager_comment, record.reviewed_by) == (
        "Good call; let us book them in week 1.",
        bob,
    )
