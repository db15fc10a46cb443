"""Journey: a manager opens the team dashboard, filters it to the key results behind, opens
one and comes back, acknowledges a check-in from the dashboard and exports the view as CSV;
a staff member opens the company view and the alignment tree and sees a private objective
blanked on both."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import services as cadence
from checkins.models import Acknowledgement, CheckIn
from cycles import services as okr
from cycles.models import Level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quarter(acme, alice, bob, carol, engineering, active_cycle):
    """An active cycle around today (the suite runs on the real clock): a public and a
    private company objective, Engineering's objective aligned to the public one, and carol's
    two key results: one behind (checked in this week, asking for help), one on track."""
    starts = cadence.current_week(acme) - timedelta(weeks=5)
    cycle = active_cycle(starts=starts, ends=starts + timedelta(days=90))
    grow = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice,
        title="Grow revenue", mission_link="Robots that pay for themselves",
        status="published",
    )  # fmt: skip
    okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice,
        title="Board-only acquisition", visibility="private", status="published",
        mission_link="Robots everywhere",
    )  # fmt: skip
    ship = okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.TEAM, team=engineering, owner=bob,
        title="Ship v2", aligned_to=[grow], status="published",
    )  # fmt: skip
    behind = okr.key_result_create(
        org=acme, by=bob, objective=ship, owner=carol, title="Beta customers from 0 to 40",
        start_value=D(0), target_value=D(40),
    )  # fmt: skip
    on_track = okr.key_result_create(
        org=acme, by=bob, objective=ship, owner=carol, title="Docs pages from 0 to 10",
        start_value=D(0), target_value=D(10),
    )  # fmt: skip
    help_checkin = cadence.checkin_record(
        org=acme, by=carol, key_result=behind, value=D(2), confidence=3,
        note="Sales has no demo unit.", need_help=True,
    )  # fmt: skip
    cadence.checkin_record(org=acme, by=carol, key_result=on_track, value=D(9), confidence=8)
    return {"cycle": cycle, "behind": behind, "on_track": on_track, "help": help_checkin}


def test_manager_dashboard_and_staff_company_view(
    live_server, page: Page, log_in, log_out, acme, alice, bob, carol, engineering, quarter
):
    behind, on_track = quarter["behind"], quarter["on_track"]

    # The manager opens the team's dashboard from the team tree.
    log_in(bob)
    page.get_by_role("link", name="Teams", exact=True).click()
    page.get_by_role("link", name="Engineering").click()
    expect(page).to_have_url(re.compile(r"/acme/teams/engineering/$"))
    expect(page.get_by_role("heading", name="Engineering", exact=True)).to_be_visible()
    table = page.locator("#dashboard-table")
    expect(table.get_by_role("link", name=behind.title)).to_be_visible()
    expect(table.get_by_role("link", name=on_track.title)).to_be_visible()
    # One week of check-ins: no trend to extend yet.
    expect(page.get_by_text("Forecast after two weeks of check-ins.")).to_be_visible()

    # ... filters to "behind": the table is swapped in place and the address says so.
    page.get_by_label("Status").select_option("behind")
    expect(page).to_have_url(re.compile(r"status=behind"))
    expect(table.get_by_role("link", name=on_track.title)).to_have_count(0)
    expect(table.get_by_role("link", name=behind.title)).to_be_visible()
    expect(table.get_by_text("needs help")).to_be_visible()

    # ... opens the key result, and comes back to the filtered view.
    table.get_by_role("link", name=behind.title).click()
    expect(page.get_by_role("heading", name=behind.title)).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/acme/teams/engineering/\?status=behind"))
    expect(page.get_by_label("Status")).to_have_value("behind")
    expect(table.get_by_role("link", name=on_track.title)).to_have_count(0)

    # ... acknowledges carol's check-in from the dashboard.
    table.get_by_role("button", name=re.compile("Acknowledge")).click()
    expect(table.get_by_text("Acknowledged.")).to_be_visible()
    expect(table.get_by_role("button", name=re.compile("Acknowledge"))).to_have_count(0)
    ack = Acknowledgement.objects.for_org(acme).get()
    assert (ack.checkin_id, ack.by) == (quarter["help"].pk, bob)

    # ... and exports the filtered view.
    with page.expect_download() as download_info:
        table.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert rows[0][:4] == ["Team", "Person", "Objective", "Key result"]
    assert [row[3] for row in rows[1:]] == [behind.title]
    assert rows[1][1] == "Carol Tsai" and rows[1][2] == "Ship v2"
    log_out()

    # A staff member: the company view, then the alignment tree; the private objective is
    # blanked on both.
    log_in(carol)
    expect(page.get_by_role("heading", name="Company objectives")).to_be_visible()
    expect(page.get_by_role("link", name="Grow revenue")).to_be_visible()
    expect(page.get_by_text("Private objective").first).to_be_visible()
    expect(page.get_by_text("Board-only acquisition")).to_have_count(0)
    expect(page.get_by_role("group", name="Progress of each team's objectives")).to_be_visible()
    page.get_by_role("link", name="Alignment", exact=True).click()
    expect(page.get_by_role("heading", name="Alignment tree")).to_be_visible()
    expect(page.get_by_role("link", name="Ship v2")).to_be_visible()
    expect(page.locator(".okr-node.is-blank")).to_have_count(1)
    expect(page.get_by_text("Board-only acquisition")).to_have_count(0)
    # The tree folds with the keyboard.
    summary = page.locator("details.okr-branch:not(.okr-mission) > summary").first
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Ship v2")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Ship v2")).to_be_visible()
    assert CheckIn.objects.for_org(acme).count() == 2


def test_acknowledge_in_an_opened_person_of_a_large_dashboard(
    live_server, page: Page, log_in, acme, bob, carol, engineering, quarter, monkeypatch
):
    """A dashboard too long to list every key result shows one line per person: opening
    carol's and acknowledging there updates her rows and her line, and leaves the rest of
    the table and the filters ("Everyone") as they were."""
    from checkins import dashboards

    monkeypatch.setattr(dashboards, "EXPANDED_ROWS", 1)
    log_in(bob)
    page.goto(f"{live_server.url}/acme/teams/engineering/")
    line = page.locator(f"#dash-person-{carol.pk}")
    expect(line.get_by_text("2 check-ins not acknowledged")).to_be_visible()
    line.locator("summary").click()
    expect(line.get_by_role("link", name=quarter["behind"].title)).to_be_visible()

    line.get_by_role("button", name=re.compile("Acknowledge")).first.click()
    expect(line.get_by_text("Acknowledged.")).to_be_visible()
    expect(line.get_by_text("1 check-in not acknowledged")).to_be_visible()
    expect(line.get_by_role("button", name=re.compile("Acknowledge"))).to_have_count(1)
    expect(page.locator(f"#dash-person-{bob.pk}")).to_be_visible()
    expect(page.get_by_label("Person")).to_have_value("")
    assert Acknowledgement.objects.for_org(acme).count() == 1
