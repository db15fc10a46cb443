"""Journey: a staff member checks in on three key results (one needs help) and sees the
burn-ups move; their manager acknowledges with a reply, gives kudos and opens the next 1:1,
whose agenda puts the need-help check-in first; the staff member sees the reply and kudos."""

import re
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import services as cadence
from checkins.models import Acknowledgement, CheckIn, Kudos, Meeting
from cycles import services as okr
from cycles.models import Level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def carols_key_results(acme, carol, active_cycle):
    """An active cycle around today (the suite runs on the real clock), and three KRs."""
    cycle = active_cycle()
    objective = okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=carol,
        title="Make calibration self-explanatory",
    )
    return [
        okr.key_result_create(
            org=acme,
            by=carol,
            objective=objective,
            owner=carol,
            title=title,
            start_value=D(start),
            target_value=D(target),
            direction="decrease" if target < start else "increase",
        )
        for title, start, target in (
            ("Cut help requests from 30 to 10", 30, 10),
            ("Raise first-try success from 50 to 90", 50, 90),
            ("Publish 12 calibration guides", 0, 12),
        )
    ]


def test_check_in_acknowledge_give_kudos_and_prepare_the_one_on_one(
    live_server, page: Page, log_in, log_out, acme, alice, bob, carol, carols_key_results
):
    help_kr, success_kr, guides_kr = carols_key_results

    # The staff member checks in on all three key results from My week.
    log_in(carol)
    page.get_by_role("link", name="My week").click()
    expect(page.get_by_text("3 key results")).to_be_visible()
    expect(page.locator("circle.burnup-point")).to_have_count(0)

    for kr, value, confidence, note, need_help in (
        (help_kr, "24", "7", "FAQ page is live.", False),
        (success_kr, "55", "4", "Blocked: the test rig is broken.", True),
        (guides_kr, "3", "8", "Three guides published.", False),
    ):
        card = page.locator(f"#kr-{kr.pk}")
        card.locator(f"input[name=kr{kr.pk}-value]").fill(value)
        card.locator(f"input[name=kr{kr.pk}-confidence]").fill(confidence)
        card.locator(f"textarea[name=kr{kr.pk}-note]").fill(note)
        if need_help:
            card.get_by_label("I need help").check()
        card.get_by_role("button", name="Save").click()
        # The card is swapped in place: checked in, with a point on its burn-up.
        expect(card.get_by_text("Checked in")).to_be_visible()
        expect(card.locator("circle.burnup-point")).to_have_count(1)
    expect(page.locator("circle.burnup-point")).to_have_count(3)
    # The summary above the cards followed each save: the last one due made the week done.
    expect(page.get_by_text("Done for this week.")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Done for this week.")).to_be_visible()
    log_out()

    # The manager acknowledges: the need-help check-in comes first.
    log_in(bob)
    page.get_by_role("link", name="To acknowledge").click()
    rows = page.locator("li.ack-item")
    expect(rows).to_have_count(3)
    first = rows.first
    expect(first).to_contain_text(success_kr.title)
    expect(first).to_contain_text("needs help")
    first.get_by_label("Reply to Carol Tsai (optional)").fill("Let's fix the rig together.")
    first.get_by_role("button", name="Acknowledge").click()
    expect(first.get_by_text("Acknowledged.")).to_be_visible()
    expect(page.get_by_text("“Let's fix the rig together.”")).to_be_visible()

    # ... gives kudos for the published guides ...
    page.get_by_role("link", name="Kudos").click()
    page.get_by_label("To").select_option(label="Carol Tsai")
    page.get_by_label("What are you recognising?").fill("Three guides in one week!")
    page.get_by_label("For the key result").select_option(
        label=f"{guides_kr.title} (Make calibration self-explanatory)"
    )
    page.get_by_role("button", name="Send kudos").click()
    expect(page.get_by_text("Kudos sent to Carol Tsai.")).to_be_visible()

    # ... and opens the next 1:1, whose agenda lists the need-help check-in first.
    page.get_by_role("link", name="1:1s").click()
    page.get_by_role("link", name=re.compile("Carol Tsai")).click()
    expect(page.get_by_role("heading", name="1:1 with Carol Tsai")).to_be_visible()
    page.get_by_role("button", name="New meeting").click()
    expect(page.get_by_text(re.compile("Meeting on .* added"))).to_be_visible()
    agenda = page.locator("article.meeting .agenda-list > li")
    expect(agenda).to_have_count(3)
    expect(agenda.first).to_contain_text(success_kr.title)
    expect(agenda.first).to_contain_text("needs help")
    page.get_by_role("textbox", name="Action").fill("Order a spare rig")
    page.get_by_role("button", name="Add action").click()
    expect(page.get_by_label("Order a spare rig")).not_to_be_checked()
    page.get_by_label("Order a spare rig").check()
    expect(page.locator("li.action-item.is-done")).to_have_count(1)
    log_out()

    # The staff member sees the reply on My week and the kudos in the feed.
    log_in(carol)
    page.get_by_role("link", name="My week").click()
    reply = page.locator(f"#kr-{success_kr.pk} .kr-card-ack")
    expect(reply).to_contain_text("Seen by Bob Lin")
    expect(reply).to_contain_text("“Let's fix the rig together.”")
    page.get_by_role("link", name="Kudos").click()
    expect(page.get_by_text("Three guides in one week!")).to_be_visible()
    expect(page.get_by_role("link", name=guides_kr.title)).to_be_visible()

    ack = Acknowledgement.objects.for_org(acme).get()
    assert (ack.by, ack.checkin.key_result, ack.reply) == (
        bob,
        success_kr,
        "Let's fix the rig together.",
    )
    assert Kudos.objects.for_org(acme).get().key_result == guides_kr
    meeting = Meeting.objects.for_org(acme).get()
    assert meeting.action_items.get().done


def test_enter_in_a_card_saves_that_key_result_alone(
    live_server, page: Page, log_in, acme, carol, carols_key_results
):
    """With JavaScript, Enter in a card's field saves that card (htmx), not every card of
    the page: what the person typed in another card stays on the page, unsaved."""
    help_kr, success_kr, _guides_kr = carols_key_results
    log_in(carol)
    page.get_by_role("link", name="My week").click()
    expect(page.get_by_text("3 key results")).to_be_visible()
    page.locator(f"input[name=kr{success_kr.pk}-value]").fill("61")  # typed, not saved

    help_card = page.locator(f"#kr-{help_kr.pk}")
    help_card.locator(f"input[name=kr{help_kr.pk}-value]").fill("26")
    help_card.locator(f"input[name=kr{help_kr.pk}-confidence]").press("Enter")
    expect(help_card.get_by_text("Saved")).to_be_visible()
    expect(help_card.get_by_text("Checked in")).to_be_visible()
    expect(page.get_by_text("2 key results")).to_be_visible()  # the summary followed
    expect(page.locator(f"input[name=kr{success_kr.pk}-value]")).to_have_value("61")
    saved = CheckIn.objects.for_org(acme).values_list("key_result_id", "value")
    assert list(saved) == [(help_kr.pk, D(26))]


def test_a_card_save_that_lost_a_race_shows_the_newer_check_in_and_keeps_the_input(
    live_server, page: Page, log_in, acme, bob, carol, carols_key_results
):
    """Carol's manager checks in for her while her page is open: her own save (htmx) is
    refused with the conflict message and the newer values on the card, her typed value
    still in the field, nothing of hers saved."""
    help_kr, _success_kr, _guides_kr = carols_key_results
    log_in(carol)
    page.get_by_role("link", name="My week").click()
    help_card = page.locator(f"#kr-{help_kr.pk}")
    cadence.checkin_record(org=acme, by=bob, key_result=help_kr, value=D(24), confidence=5)
    help_card.locator(f"input[name=kr{help_kr.pk}-value]").fill("19")
    help_card.locator(f"input[name=kr{help_kr.pk}-confidence]").fill("8")
    help_card.get_by_role("button", name="Save").click()
    expect(help_card.get_by_text("changed since you opened the page")).to_be_visible()
    expect(help_card.get_by_text("Now saved: 24")).to_be_visible()
    expect(help_card.locator(f"input[name=kr{help_kr.pk}-value]")).to_have_value("19")
    saved = CheckIn.objects.for_org(acme).values_list("value", "recorded_by_id")
    assert list(saved) == [(D(24), bob.pk)]


def test_a_card_save_that_fails_says_so_and_what_to_do(
    live_server, page: Page, log_in, acme, carol, carols_key_results
):
    """No answer to swap in (the key result deleted meanwhile, the network gone): the page
    says that nothing was saved and what to do; the next save that works clears it."""
    help_kr, success_kr, _guides_kr = carols_key_results
    log_in(carol)
    page.get_by_role("link", name="My week").click()
    alert = page.locator("#request-failed")
    expect(alert).to_be_hidden()

    okr.key_result_delete(org=acme, by=carol, key_result=help_kr)
    page.locator(f"#kr-{help_kr.pk}").get_by_role("button", name="Save").click()
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("That is no longer there. Reload the page.")

    page.context.set_offline(True)
    success_card = page.locator(f"#kr-{success_kr.pk}")
    success_card.get_by_role("button", name="Save").click()
    expect(alert).to_contain_text("could not be reached; nothing was saved")
    assert not CheckIn.objects.for_org(acme).exists()

    page.context.set_offline(False)
    success_card.get_by_role("button", name="Save").click()
    expect(success_card.get_by_text("Saved")).to_be_visible()
    expect(alert).to_be_hidden()
