# ruff: noqa: RUF001 - full-width Chinese punctuation is what the page and mail must show.
"""Journey in Traditional Chinese: a staff member switches their language to 繁體中文 on the
profile page, gets the week's check-in reminder by mail in Chinese, follows it to My week
(Chinese labels, dates in the zh-Hant format), checks in with htmx, sees the confirmation
in Chinese, and opens the key result page to see the value they recorded."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import reminders
from checkins import services as cadence
from checkins.models import CheckIn
from checkins.tasks import send_notifications
from cycles import services as okr
from cycles.models import Level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zh_date(day) -> str:
    """Django's zh-Hant DATE_FORMAT, "Y年n月j日"."""
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture
def carols_week(acme, alice, carol, active_cycle):
    """An active cycle whose fourth week is this one, and carol's key result in it."""
    week = cadence.current_week(acme)
    cycle = active_cycle(starts=week - timedelta(weeks=3), ends=week + timedelta(weeks=9))
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Make calibration self-explanatory",
    )  # fmt: skip
    kr = okr.key_result_create(
        org=acme, by=carol, objective=objective, owner=carol,
        title="Publish 12 calibration guides", start_value=D(0), target_value=D(12),
    )  # fmt: skip
    return week, kr


def test_a_staff_member_checks_in_in_traditional_chinese(
    live_server, page: Page, log_in, mails, acme, carol, carols_week
):
    week, kr = carols_week
    base = live_server.url

    # English until she chooses otherwise; the language is listed under its own name.
    log_in(carol)
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    page.get_by_label("Language").select_option(label="繁體中文 (Traditional Chinese)")
    page.get_by_role("button", name="Save profile").click()

    # The very next page is in Chinese, and says the profile was saved.
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.get_by_text("個人資料已儲存。")).to_be_visible()
    expect(page.get_by_role("heading", name="你的個人資料")).to_be_visible()
    expect(page.get_by_label("語言")).to_have_value("zh-hant")
    carol.refresh_from_db()
    assert carol.language == "zh-hant"

    # Her check-in time comes: the reminder is written in Chinese.
    moment = reminders.checkin_moment(acme, week, carol.time_zone) + timedelta(minutes=1)
    claims = reminders.claim_due(acme, moment)
    assert claims, "carol's reminder is due at her check-in time"
    send_notifications.delay(acme.pk, claims)
    (reminder,) = mails.to(carol.email)
    assert reminder.subject == "Acme Robotics：本週有 1 個關鍵結果需要回報進度"
    assert "該回報進度了。以下關鍵結果本週尚未回報進度：" in reminder.body
    assert kr.title in reminder.body
    html = reminder.alternatives[0][0]
    assert '<html lang="zh-hant">' in html
    assert "Carol Tsai 你好，以下關鍵結果本週尚未回報進度：" in html
    assert "立即回報進度" in html
    assert "It's check-in time" not in reminder.body + html

    # The mail's link opens My week, in Chinese, the week dated the zh-Hant way.
    page.goto(base + mails.link(reminder, "/acme/my-week/"))
    expect(page.get_by_role("heading", name="我的一週", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="我的一週")).to_have_attribute("aria-current", "page")
    expect(page.locator(f"time[datetime='{week.isoformat()}']")).to_have_text(
        re.compile(re.escape(zh_date(week)))
    )
    card = page.locator(f"#kr-{kr.pk}")
    expect(card.get_by_text("待回報")).to_be_visible()
    expect(card.get_by_label("信心度")).to_be_visible()
    expect(page.get_by_text("My week", exact=True)).to_have_count(0)

    # Check in with htmx: the card is swapped in place, the confirmation is in Chinese.
    card.get_by_label("數值").fill("5")
    card.get_by_label("信心度").fill("8")
    card.get_by_label("備註").fill("第一批指南已上線")
    with page.expect_response(re.compile(rf"/acme/my-week/{kr.pk}/$")) as saved:
        card.get_by_role("button", name="儲存", exact=True).click()
    assert saved.value.status == 200
    assert saved.value.request.headers.get("hx-request") == "true"
    card = page.locator(f"#kr-{kr.pk}")
    expect(card.get_by_role("status")).to_have_text("已儲存")
    expect(card.get_by_text("已回報")).to_be_visible()
    checkin = CheckIn.objects.for_org(acme).get(key_result=kr, week=week)
    assert (checkin.value, checkin.confidence, checkin.note) == (D(5), 8, "第一批指南已上線")

    # The key result page shows the value, with the check-in's time in the zh-Hant format.
    card.get_by_role("link", name=kr.title).click()
    expect(page).to_have_url(re.compile(rf"/acme/key-results/{kr.pk}/$"))
    timeline = page.locator("#timeline")
    expect(timeline.get_by_role("heading", name="進度回報")).to_be_visible()
    expect(timeline.locator(".timeline-value")).to_have_text("5")
    expect(timeline.get_by_text("信心度 8/10")).to_be_visible()
    expect(timeline.get_by_text("第一批指南已上線")).to_be_visible()
    expect(timeline).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}"))
