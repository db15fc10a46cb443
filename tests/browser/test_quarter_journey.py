"""Journey: a whole quarter, time-compressed, for the three personas, through the UI.

The admin signs up, creates the organisation with its mission and vision, builds teams,
invites a manager and a staff member (who join from the invitation mail), creates the
quarter's cycle and opens planning. Everyone writes aligned OKRs (company, team, individual).
The admin, who holds the OKR Master's review rights, reviews their quality in the review
queue and asks the manager for a change, then approves and activates the cycle. A real
Celery worker sends the staff member the check-in reminder; they check in from the mail's
link. The manager reads the team dashboard, acknowledges, holds a 1:1 and gives kudos. The
admin moves the cycle to scoring, owners score their key results from the scoring mail, the
admin closes the cycle and the worker builds the report, mails it and serves its CSV and PDF.

How time is compressed:

- The cycle starts five weeks before this week. The check-ins of the three earlier weeks are
  recorded through ``checkins.services.checkin_record(now=...)``: the UI only takes this
  week's check-in (a second one that week revises it), so earlier weeks cannot be entered
  in a browser. This week's check-ins are entered in the UI.
- The reminder: the admin sets the weekly check-in moment to Monday 00:00 in the settings
  page, so the moment of this week has always come when the test runs; the real beat task
  (``cadence_tick``) is then queued once, by hand, instead of waiting for the beat.
- No sleeping: the test waits only for the worker's mails and for pages to update.

The worker runs on Redis when ``REDIS_URL`` is set (CI, with PostgreSQL) and on Kombu's
in-memory broker otherwise. With ``SCREENSHOTS=1`` the main pages are saved under
``docs/screenshots/``.
"""

import csv
import io
import re
from datetime import datetime, time, timedelta
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import services as cadence
from checkins.models import Acknowledgement, CheckIn, Kudos, Meeting, Report, ReportStatus
from checkins.tasks import cadence_tick
from cycles.models import Cycle, CycleState, KeyResult, KeyResultScore, Objective, ReviewStatus
from okrapp.models import Membership, Organization
from tests.checkins.report_org import poppler

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORG, SLUG = "Northwind Robotics", "northwind"
HOME = rf"/{SLUG}/$"
ADMIN = ("alice@northwind.example", "Alice Chen", "alice-owns-the-quarter")
MANAGER = ("bob@northwind.example", "Bob Lin", "bob-leads-engineering")
STAFF = ("carol@northwind.example", "Carol Tsai", "carol-checks-in-weekly")

MISSION = "A helpful robot in every workshop."
VISION = "By 2030 every small workshop runs one of our robots."
COMPANY_OBJ = "Win the small-workshop market"
COMPANY_KR = "Grow paying workshops from 20 to 60"
TEAM_OBJ = "Make setup effortless"
TEAM_KR1 = "Cut median setup time from 360 to 90 minutes"
TEAM_KR2 = "Raise self-installs from 10% to 50%"
STAFF_OBJ = "Make calibration self-explanatory"
STAFF_KR1 = "Publish 12 calibration guides"
STAFF_KR2 = "Cut help requests from 30 to 10 a week"


def test_a_quarter_with_admin_manager_and_staff(
    live_server, page: Page, celery_worker, log_in, log_out, mails, screenshot, tmp_path
):
    base = live_server.url
    url = f"{base}/{SLUG}"

    # --- The admin signs up and sets up the organisation -------------------------------------
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=full_name]", ADMIN[1])
    page.fill("input[name=password1]", ADMIN[2])
    page.fill("input[name=password2]", ADMIN[2])
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/orgs/new/$"))
    page.fill("input[name=name]", ORG)
    page.fill("input[name=slug]", SLUG)
    page.select_option("select[name=time_zone]", "Asia/Taipei")
    page.get_by_role("button", name="Create organisation").click()

    expect(page).to_have_url(re.compile(rf"/{SLUG}/mission/$"))
    page.fill("textarea[name=mission]", MISSION)
    page.fill("textarea[name=vision]", VISION)
    page.get_by_role("button", name="Save and invite people").click()
    expect(page).to_have_url(re.compile(rf"/{SLUG}/members/invite/$"))

    # Teams first, so the invitations can name them.
    for name in ("Engineering", "Customer Success"):
        page.goto(f"{url}/teams/")
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create team").click()
        expect(page.get_by_text(f"Team {name} created.")).to_be_visible()

    # Invitations go out through the worker; each person joins from their mail's link.
    page.goto(f"{url}/members/invite/")
    for email, role in ((MANAGER[0], "manager"), (STAFF[0], "member")):
        page.fill("input[name=email]", email)
        page.select_option("select[name=role]", role)
        page.select_option("select[name=team]", label="Engineering")
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_text(f"Invitation sent to {email}")).to_be_visible()
    invitations = {
        email: mails.wait_for(email, f"Alice Chen invited you to {ORG}")[0]
        for email in (MANAGER[0], STAFF[0])
    }
    log_out()
    for email, name, password in (MANAGER, STAFF):
        page.goto(base + mails.link(invitations[email], "/invitations/"))
        page.fill("input[name=full_name]", name)
        page.fill("input[name=password]", password)
        page.fill("input[name=password_again]", password)
        page.get_by_role("button", name=f"Join {ORG}").click()
        expect(page).to_have_url(re.compile(HOME))
        expect(page.get_by_text(MISSION)).to_be_visible()
        log_out()

    org = Organization.objects.get(slug=SLUG)
    people = {m.user.email: m for m in Membership.objects.for_org(org).select_related("user")}
    alice, bob, carol = people[ADMIN[0]], people[MANAGER[0]], people[STAFF[0]]
    assert (alice.role, bob.role, carol.role) == ("admin", "manager", "member")

    # The admin makes Bob Carol's manager and Engineering's lead, and sets the check-in
    # moment to Monday 00:00 (see the module docstring).
    log_in(ADMIN[0], password=ADMIN[2], lands_on=HOME)
    page.goto(f"{url}/members/{carol.pk}/")
    page.get_by_label("Manager").select_option(label=MANAGER[1])
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text(f"{STAFF[1]} updated.")).to_be_visible()
    page.goto(f"{url}/teams/engineering/people/")
    page.get_by_role("button", name=f"Make lead {MANAGER[1]}").click()
    expect(page.get_by_role("button", name=f"Remove as lead {MANAGER[1]}")).to_be_visible()
    page.goto(f"{url}/settings/")
    page.get_by_label("Weekly check-in day").select_option(label="Monday")
    page.get_by_label("Weekly check-in hour").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    carol.refresh_from_db()
    assert carol.manager_id == bob.pk

    # --- The quarter's cycle, then planning --------------------------------------------------
    week = cadence.current_week(org)
    starts = week - timedelta(weeks=5)
    ends = starts + timedelta(days=90)
    page.goto(f"{url}/cycles/")
    page.fill("input[name=name]", "Q-Launch")
    page.fill("input[name=start_date]", starts.isoformat())
    page.fill("input[name=end_date]", ends.isoformat())
    page.get_by_role("button", name="Create cycle").click()
    expect(page.get_by_role("heading", name=re.compile("Q-Launch"))).to_be_visible()
    cycle_url = page.url
    page.get_by_role("link", name="Open planning").click()
    page.get_by_role("button", name="Open planning").click()
    expect(page.get_by_text("Q-Launch is now planning.")).to_be_visible()

    # The company objective, with one key result.
    page.get_by_role("link", name="Company objective").click()
    page.fill("input[name=title]", COMPANY_OBJ)
    page.fill("textarea[name=mission_link]", MISSION)
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", name=COMPANY_OBJ)).to_be_visible()
    _add_key_result(page, COMPANY_KR, start="20", target="60", unit="workshops")
    log_out()

    # --- The manager writes the team's objective --------------------------------------------
    log_in(MANAGER[0], password=MANAGER[2], lands_on=HOME)
    page.goto(f"{url}/teams/engineering/okrs/")
    page.get_by_role("link", name="New team objective").click()
    page.fill("input[name=title]", TEAM_OBJ)
    page.get_by_label(f"Company · {COMPANY_OBJ}").check()
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", name=TEAM_OBJ)).to_be_visible()
    _add_key_result(page, TEAM_KR1, start="360", target="90", unit="min", direction="decrease")
    log_out()

    # --- The staff member writes an individual objective aligned to the team's --------------
    log_in(STAFF[0], password=STAFF[2], lands_on=HOME)
    page.get_by_role("link", name="My OKRs").click()
    page.get_by_role("link", name="New objective").first.click()
    page.fill("input[name=title]", STAFF_OBJ)
    page.get_by_label(f"Engineering · {TEAM_OBJ}").check()
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", name=STAFF_OBJ)).to_be_visible()
    _add_key_result(page, STAFF_KR1, start="0", target="12", unit="guides", another=True)
    _add_key_result(page, STAFF_KR2, start="30", target="10", direction="decrease")
    expect(page.get_by_role("link", name=TEAM_OBJ)).to_be_visible()
    log_out()

    # --- The OKR Master (the admin) reviews quality -----------------------------------------
    log_in(ADMIN[0], password=ADMIN[2], lands_on=HOME)
    page.goto(cycle_url)
    page.get_by_role("link", name="Review queue").first.click()
    team_card = page.locator("article.review-item", has_text=TEAM_OBJ)
    expect(team_card.get_by_text("Has 1 key results; aim for 2 to 5.")).to_be_visible()
    staff_card = page.locator("article.review-item", has_text=STAFF_OBJ)
    expect(staff_card.get_by_text("Has 1 key results")).to_have_count(0)
    screenshot(page, "review-queue")
    team_card.get_by_label("Changes requested").check()
    team_card.get_by_label("Comment for the owner").fill("Add a second KR: how many self-install?")
    team_card.get_by_role("button", name="Submit review").click()
    expect(team_card.get_by_text(f"Asked the owner of “{TEAM_OBJ}” for changes.")).to_be_visible()
    staff_card.get_by_label("Approved").check()
    staff_card.get_by_role("button", name="Submit review").click()
    expect(staff_card.get_by_text(f"Approved “{STAFF_OBJ}”.")).to_be_visible()
    log_out()

    # The manager sees the request and adds the missing key result.
    log_in(MANAGER[0], password=MANAGER[2], lands_on=HOME)
    page.get_by_role("link", name="My OKRs").click()
    expect(page.get_by_text("Add a second KR: how many self-install?")).to_be_visible()
    page.get_by_role("link", name=TEAM_OBJ).first.click()
    page.get_by_role("link", name="Key result").first.click()
    page.fill("input[name=title]", TEAM_KR2)
    page.fill("input[name=start_value]", "10")
    page.fill("input[name=target_value]", "50")
    page.fill("input[name=unit]", "%")
    page.get_by_role("button", name="Add key result").click()
    expect(page.locator(".kr-detail")).to_have_count(2)
    log_out()

    # The admin approves it and activates the cycle.
    log_in(ADMIN[0], password=ADMIN[2], lands_on=HOME)
    page.goto(cycle_url)
    page.get_by_role("link", name="Review queue").first.click()
    team_card = page.locator("article.review-item", has_text=TEAM_OBJ)
    expect(team_card.get_by_text("Has 1 key results")).to_have_count(0)
    team_card.get_by_label("Approved").check()
    team_card.get_by_role("button", name="Submit review").click()
    expect(team_card.get_by_text(f"Approved “{TEAM_OBJ}”.")).to_be_visible()
    page.goto(cycle_url)
    page.get_by_role("link", name="Activate").click()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Q-Launch is now active.")).to_be_visible()
    log_out()

    cycle = Cycle.objects.for_org(org).get(name="Q-Launch")
    objectives = {o.title: o for o in Objective.objects.for_org(org).in_cycle(cycle)}
    assert [o.title for o in objectives[TEAM_OBJ].aligned_to.all()] == [COMPANY_OBJ]
    assert [o.title for o in objectives[STAFF_OBJ].aligned_to.all()] == [TEAM_OBJ]
    assert objectives[TEAM_OBJ].review_status == ReviewStatus.APPROVED
    assert objectives[STAFF_OBJ].review_status == ReviewStatus.APPROVED
    krs = {kr.title: kr for kr in KeyResult.objects.for_org(org).in_cycle(cycle)}
    assert (krs[STAFF_KR1].owner, krs[TEAM_KR1].owner) == (carol, bob)

    # --- Three earlier weeks of check-ins (through the service: see the docstring) ----------
    history = {
        STAFF_KR1: [("2", 7), ("4", 7), ("5", 6)],
        STAFF_KR2: [("28", 6), ("25", 5), ("24", 4)],
        TEAM_KR1: [("330", 7), ("280", 7), ("240", 8)],
        TEAM_KR2: [("12", 6), ("18", 6), ("22", 6)],
    }
    for weeks_ago in (3, 2, 1):
        moment = datetime.combine(
            week - timedelta(weeks=weeks_ago, days=-2), time(12), tzinfo=org.zoneinfo
        )
        for title, values in history.items():
            value, confidence = values[3 - weeks_ago]
            kr = krs[title]
            cadence.checkin_record(
                org=org, by=kr.owner, key_result=kr, value=D(value), confidence=confidence,
                note=f"Week {weeks_ago} ago.", now=moment,
            )  # fmt: skip
    assert CheckIn.objects.for_org(org).filter(week__lt=week).count() == 12

    # --- The reminder: the beat's tick, run once by the real worker --------------------------
    cadence_tick.delay()
    reminder = mails.wait_for(STAFF[0], f"{ORG}: 2 key results to check in on this week")[0]
    assert STAFF_KR1 in reminder.body and STAFF_KR2 in reminder.body
    my_week_path = mails.link(reminder, f"/{SLUG}/my-week/")
    # The admin and the manager own key results without a check-in too.
    mails.wait_for(ADMIN[0], f"{ORG}: 1 key result to check in on this week")
    mails.wait_for(MANAGER[0], f"{ORG}: 2 key results to check in on this week")

    # --- The staff member checks in from the mail's link -----------------------------------
    log_in(STAFF[0], password=STAFF[2], lands_on=HOME)
    page.goto(base + my_week_path)
    expect(page.get_by_role("heading", name="My week")).to_be_visible()
    expect(page.get_by_text("2 key results")).to_be_visible()
    for title, value, confidence, note, need_help in (
        (STAFF_KR1, "7", "8", "Two guides this week.", False),
        (STAFF_KR2, "23", "3", "The rig keeps failing; I need a spare.", True),
    ):
        kr = krs[title]
        card = page.locator(f"#kr-{kr.pk}")
        card.locator(f"input[name=kr{kr.pk}-value]").fill(value)
        card.locator(f"input[name=kr{kr.pk}-confidence]").fill(confidence)
        card.locator(f"textarea[name=kr{kr.pk}-note]").fill(note)
        if need_help:
            card.get_by_label("I need help").check()
        card.get_by_role("button", name="Save").click()
        expect(card.get_by_text("Checked in")).to_be_visible()
        # Four weeks of check-ins: four points on the card's burn-up.
        expect(card.locator("circle.burnup-point")).to_have_count(4)
    page.reload()
    expect(page.get_by_text("Done for this week.")).to_be_visible()
    screenshot(page, "my-week")

    # The key result's page: its timeline, newest first.
    page.goto(f"{url}/key-results/{krs[STAFF_KR1].pk}/")
    expect(page.get_by_role("heading", name=STAFF_KR1)).to_be_visible()
    values = page.locator(".timeline-value")
    expect(values).to_have_count(4)
    expect(values.first).to_contain_text("7")
    expect(page.locator(".timeline-note").first).to_have_text("Two guides this week.")
    screenshot(page, "key-result")
    log_out()

    # --- The manager: dashboard, acknowledgement, 1:1, kudos --------------------------------
    log_in(MANAGER[0], password=MANAGER[2], lands_on=HOME)
    page.get_by_role("link", name="Teams", exact=True).click()
    page.get_by_role("link", name="Engineering").first.click()
    expect(page).to_have_url(re.compile(rf"/{SLUG}/teams/engineering/$"))
    table = page.locator("#dashboard-table")
    for title in (STAFF_KR1, STAFF_KR2, TEAM_KR1, TEAM_KR2):
        expect(table.get_by_role("link", name=title)).to_be_visible()
    help_row = table.locator("tr", has_text=STAFF_KR2)
    expect(help_row.get_by_text("needs help")).to_be_visible()
    screenshot(page, "team-dashboard")
    help_row.get_by_role("button", name=re.compile("Acknowledge")).click()
    expect(table.get_by_text("Acknowledged.")).to_be_visible()

    page.get_by_role("link", name="Kudos").click()
    page.get_by_label("To").select_option(label=STAFF[1])
    page.get_by_label("What are you recognising?").fill("Seven guides already!")
    page.get_by_label("For the key result").select_option(label=f"{STAFF_KR1} ({STAFF_OBJ})")
    page.get_by_role("button", name="Send kudos").click()
    expect(page.get_by_text(f"Kudos sent to {STAFF[1]}.")).to_be_visible()

    page.get_by_role("link", name="1:1s").click()
    page.get_by_role("link", name=re.compile(STAFF[1])).click()
    expect(page.get_by_role("heading", name=f"1:1 with {STAFF[1]}")).to_be_visible()
    page.get_by_role("button", name="New meeting").click()
    expect(page.get_by_text(re.compile("Meeting on .* added"))).to_be_visible()
    agenda = page.locator("article.meeting .agenda-list > li")
    expect(agenda.first).to_contain_text(STAFF_KR2)  # the need-help check-in comes first
    expect(agenda.first).to_contain_text("needs help")
    page.get_by_role("textbox", name="Action").fill("Order a spare calibration rig")
    page.get_by_role("button", name="Add action").click()
    expect(page.get_by_label("Order a spare calibration rig")).not_to_be_checked()
    screenshot(page, "one-on-one")

    # Transparency: the company view, the alignment tree and the cadence health.
    page.goto(f"{url}/")
    expect(page.get_by_role("heading", name=ORG)).to_be_visible()
    expect(page.get_by_text(MISSION)).to_be_visible()
    expect(page.get_by_role("link", name=COMPANY_OBJ)).to_be_visible()
    expect(page.get_by_text("Seven guides already!")).to_be_visible()
    screenshot(page, "company")
    page.get_by_role("link", name="Alignment", exact=True).click()
    expect(page.get_by_role("heading", name="Alignment tree")).to_be_visible()
    for title in (COMPANY_OBJ, TEAM_OBJ, STAFF_OBJ):
        expect(page.get_by_role("link", name=title)).to_be_visible()
    screenshot(page, "alignment-tree")
    log_out()

    log_in(ADMIN[0], password=ADMIN[2], lands_on=HOME)
    page.goto(f"{url}/cadence/")
    expect(page.get_by_role("heading", name=re.compile("Cadence health"))).to_be_visible()
    # Engineering: Bob and Carol, four key results, all checked in for the three weeks
    # before this one (this week, still open, does not break the streak).
    streak = page.locator(".streak-table tbody tr", has_text="Engineering").locator("td")
    expect(streak).to_have_text(["2", "4", re.compile(r"\d+ %"), "3 weeks", "3 weeks"])
    screenshot(page, "cadence-health")

    # --- Scoring: the admin opens it, owners score from the mail -----------------------------
    page.goto(cycle_url)
    page.get_by_role("link", name="Start scoring").click()
    page.get_by_role("button", name="Start scoring").click()
    expect(page.get_by_text("Q-Launch is now scoring.")).to_be_visible()
    log_out()
    asked = {
        email: mails.wait_for(email, f"{ORG}: score your key results for Q-Launch")[0]
        for email in (ADMIN[0], MANAGER[0], STAFF[0])
    }

    scores = {
        STAFF[0]: [(STAFF_KR1, "0.6"), (STAFF_KR2, "0.4")],
        MANAGER[0]: [(TEAM_KR1, "0.5"), (TEAM_KR2, "0.3")],
        ADMIN[0]: [(COMPANY_KR, "0.2")],
    }
    for email, name, password in (STAFF, MANAGER, ADMIN):
        log_in(email, password=password, lands_on=HOME)
        page.goto(base + mails.link(asked[email], f"/{SLUG}/cycles/{cycle.pk}/scoring/"))
        expect(
            page.get_by_role("heading", name=re.compile("Score your key results"))
        ).to_be_visible()
        for title, score in scores[email]:
            row = page.locator(f"#kr-{krs[title].pk}")
            row.get_by_label("Your score").fill(score)
            row.get_by_label("What worked").fill(f"{name}: the weekly rhythm helped.")
            row.get_by_label("What to change next time").fill("Start the hard part in week 1.")
            row.get_by_label("Main reason").select_option("too_ambitious")
            row.get_by_role("button", name=re.compile("^Save")).click()
            expect(row.get_by_text("Saved", exact=True)).to_be_visible()
        expect(page.get_by_text("All scored. Thank you!")).to_be_visible()
        if email == STAFF[0]:
            screenshot(page, "scoring")
        if email != ADMIN[0]:
            log_out()
    assert KeyResultScore.objects.for_org(org).count() == 5

    # --- The admin closes the cycle; the worker builds the report and mails it ---------------
    page.goto(cycle_url)
    page.get_by_role("link", name="Close cycle").click()
    page.get_by_role("button", name="Close cycle").click()
    expect(page.get_by_text("Q-Launch is now closed.")).to_be_visible()
    card = page.locator("section[aria-labelledby=report-title]")
    expect(card.get_by_text("Ready")).to_be_visible(timeout=30_000)
    ready = {
        email: mails.wait_for(email, f"{ORG}: the Q-Launch report is ready")[0]
        for email in (ADMIN[0], MANAGER[0])
    }
    assert not [m for m in mails.to(STAFF[0]) if "report is ready" in m.subject]
    report_path = mails.link(ready[ADMIN[0]], f"/{SLUG}/cycles/{cycle.pk}/report/")
    page.goto(base + report_path)
    expect(page.get_by_role("heading", name="Q-Launch: quarter report")).to_be_visible()
    status = page.locator("#report-status")
    expect(status.get_by_text("Ready")).to_be_visible()
    expect(page.get_by_text("Start the hard part in week 1.").first).to_be_visible()
    expect(page.get_by_role("img", name="Score distribution of Q-Launch")).to_be_visible()
    screenshot(page, "report")
    report = Report.objects.for_org(org).get(cycle=cycle)
    assert (report.status, report.generated_by) == (ReportStatus.READY, alice)

    with page.expect_download() as csv_download:
        status.get_by_role("link", name="Download CSV").click()
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    by_kr = {row["Key result"]: row for row in rows}
    assert set(by_kr) == {COMPANY_KR, TEAM_KR1, TEAM_KR2, STAFF_KR1, STAFF_KR2}
    assert by_kr[STAFF_KR1]["Owner"] == STAFF[1]
    assert by_kr[STAFF_KR2]["Team"] == "Engineering"
    assert "0.4" in by_kr[STAFF_KR2].values()

    with page.expect_download() as pdf_download:
        status.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / pdf_download.value.suggested_filename
    pdf_download.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = poppler("pdftotext", str(pdf_path), "-")
    if text is not None:  # poppler-utils installed
        assert ORG in text and "Q-Launch" in text
        assert STAFF_KR1 in text

    # What the quarter left behind.
    cycle.refresh_from_db()
    assert cycle.state == CycleState.CLOSED
    assert CheckIn.objects.for_org(org).count() == 14
    ack = Acknowledgement.objects.for_org(org).get()
    assert (ack.by, ack.checkin.key_result_id) == (bob, krs[STAFF_KR2].pk)
    assert Kudos.objects.for_org(org).get().key_result_id == krs[STAFF_KR1].pk
    assert Meeting.objects.for_org(org).get().action_items.get().text == (
        "Order a spare calibration rig"
    )


def _add_key_result(
    page: Page,
    title: str,
    *,
    start: str,
    target: str,
    unit: str = "",
    direction: str = "increase",
    another: bool = False,
) -> None:
    """From an objective's page (or the form after "Add and write another"), add a KR."""
    if "/key-results/new/" not in page.url:
        page.get_by_role("link", name="Key result").first.click()
    page.fill("input[name=title]", title)
    page.select_option("select[name=direction]", direction)
    page.fill("input[name=start_value]", start)
    page.fill("input[name=target_value]", target)
    page.fill("input[name=unit]", unit)
    if another:
        page.get_by_role("button", name="Add and write another").click()
        expect(page.get_by_text(f"Key result “{title[:20]}")).to_be_visible()
    else:
        page.get_by_role("button", name="Add key result").click()
        expect(page.get_by_role("link", name=title).first).to_be_visible()
