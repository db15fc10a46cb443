"""Accessibility: axe-core, the engine behind most accessibility audits, run in Chromium on the
main pages as each persona who uses them. A violation of impact "serious" or "critical" fails
the test, with the rule, its help text and the selectors of the failing elements.

axe-core comes from the npm registry, pinned, installed into var/npm by ``make test-deps``.
It is evaluated through the DevTools protocol (``page.evaluate``), which the pages' Content
Security Policy (scripts from 'self' only) does not apply to, so the pages are audited with
the very headers they are served with.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from checkins import reports
from checkins import services as cadence
from checkins.models import Report, ReportStatus
from cycles import services as okr
from cycles.models import Level
from tests.checkins.report_org import build_quarter
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_DIR = Path(settings.VAR_DIR) / "npm" / "node_modules" / "axe-core"  # make test-deps
FAILING_IMPACTS = {"serious", "critical"}
# The WCAG 2.0/2.1/2.2 A and AA rules plus axe's best practices (landmarks, heading order,
# one main landmark, …): what an audit of a web application is held to.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    script = AXE_DIR / "axe.min.js"
    if not script.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so axe-core cannot be: `make test-deps` needs npm")
        pytest.fail(f"{script} is missing: run `make test-deps` (it installs axe-core with npm)")
    return script.read_text(encoding="utf-8")


def audit(page: Page, axe_source: str, label: str) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per node."""
    page.wait_for_load_state("networkidle")  # htmx partials loaded on page load are in
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        found.append(
            f"{label} ({page.url}): [{violation['impact']}] {violation['id']}: "
            f"{violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            target = " ".join(
                json.dumps(t) if not isinstance(t, str) else t for t in node["target"]
            )
            summary = node.get("failureSummary", "").replace("\n", " ")
            found.append(f"    {target}: {summary}")
    return found


def assert_accessible(page: Page, axe_source: str, pages: list[tuple[str, str]]) -> None:
    """Audit each (label, url) and fail once, listing every page's violations."""
    problems = []
    for label, url in pages:
        response = page.goto(url)
        assert response is not None and response.ok, f"{label}: {url} answered {response.status}"
        problems += audit(page, axe_source, label)
    assert not problems, "serious/critical accessibility violations:\n" + "\n".join(problems)


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/acme/$"))


@pytest.fixture
def organisation(acme, alice, bob, carol, erin, engineering):
    """A closed quarter with its report built, and the active quarter after it: company,
    team and individual objectives, check-ins (one asking for help), a comment, kudos and
    a 1:1 between bob and carol."""
    acme.mission = "Robots that pay for themselves"
    acme.vision = "Every workshop runs a robot"
    acme.save(update_fields=["mission", "vision"])
    past = build_quarter(acme, alice, bob, carol, engineering)
    reports.report_request(org=acme, by=alice, cycle=past.cycle)
    report = Report.objects.for_org(acme).get(cycle=past.cycle)
    assert report.status == ReportStatus.READY

    week = cadence.current_week(acme)
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="This quarter",
        start_date=week - timedelta(weeks=3),
        end_date=week - timedelta(weeks=3) + timedelta(days=90),
    )
    for state in ("planning", "active"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    company = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice,
        title="Grow revenue", mission_link="Robots that pay for themselves",
        status="published",
    )  # fmt: skip
    team = okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.TEAM, team=engineering, owner=bob,
        title="Ship the gripper", aligned_to=[company], status="published",
    )  # fmt: skip
    mine = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Make calibration self-explanatory", aligned_to=[team],
    )  # fmt: skip
    okr.key_result_create(
        org=acme, by=bob, objective=team, owner=bob, title="Ship 3 gripper releases",
        start_value=D(0), target_value=D(3),
    )  # fmt: skip
    help_kr = okr.key_result_create(
        org=acme, by=carol, objective=mine, owner=carol, title="Cut help requests from 30 to 10",
        start_value=D(30), target_value=D(10), direction="decrease",
    )  # fmt: skip
    guides_kr = okr.key_result_create(
        org=acme, by=carol, objective=mine, owner=carol, title="Publish 12 calibration guides",
        start_value=D(0), target_value=D(12), unit="guides",
    )  # fmt: skip
    checkin = cadence.checkin_record(
        org=acme, by=carol, key_result=help_kr, value=D(24), confidence=4,
        note="The new firmware doubled the questions", need_help=True,
    )  # fmt: skip
    cadence.checkin_record(org=acme, by=carol, key_result=guides_kr, value=D(5), confidence=8)
    cadence.comment_create(org=acme, by=bob, body="Let's pair on it @carol", checkin=checkin)
    cadence.kudos_give(
        org=acme, by=bob, receiver=carol, message="Great guides", key_result=guides_kr
    )
    cadence.one_on_one_get_or_create(org=acme, by=bob, manager=bob, report=carol)
    return cycle, past.cycle, help_kr, mine


def test_sign_in_and_sign_up_pages(live_server, page: Page, axe_source):
    base = live_server.url
    assert_accessible(
        page,
        axe_source,
        [("login", f"{base}/accounts/login/"), ("sign-up", f"{base}/accounts/signup/")],
    )


def test_staff_pages(live_server, page: Page, axe_source, organisation, carol):
    cycle, _past, kr, objective = organisation
    base = live_server.url
    _log_in(page, base, carol.email)
    assert_accessible(
        page,
        axe_source,
        [
            ("company view", f"{base}/acme/"),
            ("My week", f"{base}/acme/my-week/"),
            ("key result page", f"{base}/acme/key-results/{kr.pk}/"),
            ("objective page", f"{base}/acme/objectives/{objective.pk}/"),
            ("alignment tree", f"{base}/acme/cycles/{cycle.pk}/tree/"),
            ("profile", f"{base}/acme/profile/"),
        ],
    )


def test_staff_page_after_an_htmx_check_in(
    live_server, page: Page, axe_source, organisation, carol
):
    """The swapped-in card (saved note, status) is audited too, and so is a form with errors."""
    _cycle, _past, kr, _objective = organisation
    base = live_server.url
    _log_in(page, base, carol.email)
    page.goto(f"{base}/acme/my-week/")
    card = page.locator(f"#kr-{kr.pk}")
    card.get_by_label(re.compile("^Value")).fill("21")
    card.get_by_role("button", name="Save", exact=True).click()
    expect(card.get_by_text("Saved", exact=True)).to_be_visible()
    problems = audit(page, axe_source, "My week after saving")
    card = page.locator(f"#kr-{kr.pk}")
    card.get_by_label(re.compile("^Value")).fill("lots")
    card.get_by_role("button", name="Save", exact=True).click()
    expect(card.locator(".errorlist")).to_be_visible()
    problems += audit(page, axe_source, "My week with an error")
    assert not problems, "serious/critical accessibility violations:\n" + "\n".join(problems)


def test_manager_pages(live_server, page: Page, axe_source, organisation, bob, carol):
    _cycle, past, _kr, _objective = organisation
    base = live_server.url
    _log_in(page, base, bob.email)
    assert_accessible(
        page,
        axe_source,
        [
            ("team dashboard", f"{base}/acme/teams/engineering/"),
            ("1:1 page", f"{base}/acme/one-on-ones/{carol.pk}/"),
            ("acknowledgement queue", f"{base}/acme/check-ins/to-acknowledge/"),
            ("report page (manager)", f"{base}/acme/cycles/{past.pk}/report/"),
        ],
    )


def test_okr_master_pages(live_server, page: Page, axe_source, organisation, erin):
    cycle, _past, _kr, _objective = organisation
    base = live_server.url
    _log_in(page, base, erin.email)
    assert_accessible(
        page,
        axe_source,
        [
            ("review queue", f"{base}/acme/cycles/{cycle.pk}/review/"),
            ("cadence health", f"{base}/acme/cycles/{cycle.pk}/cadence/"),
        ],
    )


def test_admin_pages(live_server, page: Page, axe_source, organisation, alice):
    cycle, past, _kr, _objective = organisation
    base = live_server.url
    _log_in(page, base, alice.email)
    assert_accessible(
        page,
        axe_source,
        [
            ("cycles", f"{base}/acme/cycles/"),
            ("cycle admin", f"{base}/acme/cycles/{cycle.pk}/"),
            ("cycle settings", f"{base}/acme/cycles/{cycle.pk}/settings/"),
            ("members", f"{base}/acme/members/"),
            ("invite a member", f"{base}/acme/members/invite/"),
            ("organisation settings", f"{base}/acme/settings/"),
            ("cadence health", f"{base}/acme/cycles/{cycle.pk}/cadence/"),
            ("report page", f"{base}/acme/cycles/{past.pk}/report/"),
        ],
    )


def test_pages_in_dark_mode(live_server, page: Page, axe_source, organisation, carol):
    """The stylesheet follows the system's dark scheme: its contrast is audited too."""
    cycle, _past, kr, _objective = organisation
    base = live_server.url
    page.emulate_media(color_scheme="dark")
    _log_in(page, base, carol.email)
    assert_accessible(
        page,
        axe_source,
        [
            ("company view, dark", f"{base}/acme/"),
            ("My week, dark", f"{base}/acme/my-week/"),
            ("key result page, dark", f"{base}/acme/key-results/{kr.pk}/"),
            ("alignment tree, dark", f"{base}/acme/cycles/{cycle.pk}/tree/"),
        ],
    )
