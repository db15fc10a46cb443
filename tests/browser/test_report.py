"""Journey on the demo data (``manage.py seed_demo``): the admin moves the demo's active cycle
to scoring, an owner self-scores with a reflection, the admin closes scoring and watches a
real Celery worker build the report, then downloads its PDF and CSV.

The worker runs in a thread on the configured broker (Redis when ``REDIS_URL`` is set, as in
CI; Kombu's in-memory broker otherwise: see ``celery_worker`` in ``conftest.py``). So that the
page is seen before the report is ready, and not by luck, the worker is held at two gates the
test opens: before it starts the build (the report is "Waiting for a worker") and before it
typesets the PDF (building, "Typesetting the PDF"). The page shows each state through htmx
polling, then "Ready" once both gates are open.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from io import StringIO
from types import SimpleNamespace

import pytest
from celery.signals import task_prerun
from django.core.management import call_command
from playwright.sync_api import Page, expect

from checkins import report_tasks
from checkins.models import Report, ReportStage, ReportStatus
from cycles.models import Cycle, CycleState, KeyResult, KeyResultScore
from okrapp.demo import DEMO_PASSWORD
from okrapp.models import Membership, Organization
from tests.checkins.report_org import poppler

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GATE_TIMEOUT = 60  # seconds a gate holds the worker at most (a failed test must not hang)
HOME = r"/acme/$"
# Carol's demo objective (committed) and her two key results, with the scores she gives.
CAROL_SCORES = {
    "Cut calibration help requests from 30 to 10 a month": "0.7",
    "Raise first-try calibration success from 50 % to 90 %": "0.4",
}


@pytest.fixture
def demo():
    """The demo organisations, seeded as ``make run`` users get them; Acme's active cycle."""
    call_command("seed_demo", "--force", stdout=StringIO())
    org = Organization.objects.get(slug="acme")
    people = {m.user.email: m for m in Membership.objects.for_org(org).select_related("user")}
    return SimpleNamespace(
        org=org,
        cycle=Cycle.objects.for_org(org).get(state=CycleState.ACTIVE),
        alice=people["alice@acme.example"],
        carol=people["carol@acme.example"],
    )


class BuildGates:
    """Holds the worker's report build where the test wants to look at the page.

    ``start``: before ``build_report`` runs (the report row stays queued); ``pdf``: inside
    the build, before the PDF is typeset (building, at the PDF stage). ``reached(name)``
    waits until the worker is held there; ``open(name)`` lets it go on.
    """

    def __init__(self) -> None:
        self._held = {name: threading.Event() for name in ("start", "pdf")}
        self._open = {name: threading.Event() for name in ("start", "pdf")}

    def hold(self, name: str) -> None:
        self._held[name].set()
        self._open[name].wait(GATE_TIMEOUT)

    def reached(self, name: str) -> bool:
        return self._held[name].wait(GATE_TIMEOUT)

    def open(self, name: str) -> None:
        self._open[name].set()

    def open_all(self) -> None:
        for gate in self._open.values():
            gate.set()


@pytest.fixture
def build_gates(celery_worker, monkeypatch):
    """Gates in the worker's path (the worker is a thread of this process): a ``task_prerun``
    receiver for ``build_report`` and a wrapper round the PDF step. Opened at teardown,
    before the worker stops."""
    gates = BuildGates()

    def before_build(sender=None, task=None, **kwargs):
        if (task or sender).name == report_tasks.build_report.name:
            gates.hold("start")

    typeset = report_tasks.render_pdf

    def held_render_pdf(document: str) -> bytes:
        gates.hold("pdf")
        return typeset(document)

    task_prerun.connect(before_build, weak=False, dispatch_uid="tests.report_gate")
    monkeypatch.setattr(report_tasks, "render_pdf", held_render_pdf)
    try:
        yield gates
    finally:
        gates.open_all()
        task_prerun.disconnect(dispatch_uid="tests.report_gate")


def pdf_text(path) -> str:
    """The PDF's text (pdftotext). Missing poppler-utils fails the test in CI, where
    ``make test-deps`` installs it; elsewhere the test is skipped with the reason."""
    text = poppler("pdftotext", "-layout", str(path), "-")
    if text is None:
        message = "pdftotext (poppler-utils) is not installed; `make test-deps` installs it"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return text


def test_close_scoring_watch_the_report_build_and_download_it(
    live_server, page: Page, demo, celery_worker, build_gates, log_in, log_out, mails, tmp_path
):
    broker = celery_worker.app.conf.broker_url
    assert broker.startswith("redis://") if os.environ.get("REDIS_URL") else broker == "memory://"
    org, cycle = demo.org, demo.cycle
    base = live_server.url
    cycle_url = f"{base}/acme/cycles/{cycle.pk}/"
    krs = {
        kr.title: kr
        for kr in KeyResult.objects.for_org(org).in_cycle(cycle).filter(owner=demo.carol)
    }
    assert set(krs) == set(CAROL_SCORES)

    # The admin moves the demo's active cycle to scoring.
    log_in(demo.alice.user.email, password=DEMO_PASSWORD, lands_on=HOME)
    page.goto(cycle_url)
    page.get_by_role("link", name="Start scoring").click()
    page.get_by_role("button", name="Start scoring").click()
    expect(page.get_by_text(f"{cycle.name} is now scoring.")).to_be_visible()
    expect(page.get_by_text("No report yet")).to_be_visible()  # the report card, via htmx
    log_out()

    # The owner self-scores with a reflection (committed, below 1.0: the reflection is due).
    log_in(demo.carol.user.email, password=DEMO_PASSWORD, lands_on=HOME)
    page.goto(cycle_url)
    page.get_by_role("link", name="Score your key results").click()
    for title, score in CAROL_SCORES.items():
        row = page.locator(f"#kr-{krs[title].pk}")
        row.get_by_label("Your score").fill(score)
        row.get_by_label("What worked").fill("The weekly calibration clinic.")
        row.get_by_label("What to change next time").fill("Start the guides in week one.")
        row.get_by_label("Main reason").select_option("blocked")
        row.get_by_role("button", name=re.compile("^Save")).click()
        expect(row.get_by_text("Saved", exact=True)).to_be_visible()
    expect(page.get_by_text("All scored. Thank you!")).to_be_visible()
    assert KeyResultScore.objects.for_org(org).filter(scored_by=demo.carol).count() == 2
    log_out()

    # The admin closes scoring; the worker takes the build and is held before starting it.
    log_in(demo.alice.user.email, password=DEMO_PASSWORD, lands_on=HOME)
    page.goto(cycle_url)
    page.get_by_role("link", name="Close cycle").click()
    page.get_by_role("button", name="Close cycle").click()
    expect(page.get_by_text(f"{cycle.name} is now closed.")).to_be_visible()
    assert build_gates.reached("start"), "the worker never took the report build"
    card = page.locator("section[aria-labelledby=report-title]")
    expect(card.get_by_text("Waiting for a worker…")).to_be_visible()
    assert Report.objects.for_org(org).get(cycle=cycle).status == ReportStatus.QUEUED

    # The report page: its status polls while the worker builds (held before the PDF).
    card.get_by_role("link", name="Open", exact=True).click()
    expect(page.get_by_role("heading", name=f"{cycle.name}: quarter report")).to_be_visible()
    status = page.locator("#report-status")
    expect(status).to_have_attribute("hx-trigger", "every 1s")
    expect(status.get_by_text("Waiting for a worker…")).to_be_visible()
    build_gates.open("start")
    assert build_gates.reached("pdf"), "the build never reached the PDF"
    progress = status.get_by_role("progressbar", name="Typesetting the PDF…")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "50")
    building = Report.objects.for_org(org).get(cycle=cycle)
    assert (building.status, building.stage) == (ReportStatus.BUILDING, ReportStage.PDF)
    expect(page.get_by_role("link", name="Download PDF")).to_have_count(0)

    # Let it finish: the polling page reloads itself with the report.
    build_gates.open("pdf")
    expect(status.get_by_text("Ready")).to_be_visible(timeout=30_000)
    expect(status).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.get_by_role("heading", name="Reflections by reason")).to_be_visible()
    expect(page.get_by_text("Start the guides in week one.").first).to_be_visible()
    report = Report.objects.for_org(org).get(cycle=cycle)
    assert (report.status, report.generation, report.generated_by) == (
        ReportStatus.READY,
        1,
        demo.alice,
    )
    mails.wait_for("alice@acme.example", f"{org.name}: the {cycle.name} report is ready")

    # Downloads: the PDF names the organisation and carries carol's scores.
    with page.expect_download() as pdf_download:
        status.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / pdf_download.value.suggested_filename
    pdf_download.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = pdf_text(pdf_path)
    assert "Acme Robotics" in text
    for title, score in CAROL_SCORES.items():
        line = next((line for line in text.splitlines() if title[:30] in line), "")
        assert re.search(rf"(?<![\d.]){re.escape(score)}(?![\d])", line), (
            f"no score {score} on the PDF's line for {title!r}: {line!r}"
        )

    with page.expect_download() as csv_download:
        status.get_by_role("link", name="Download CSV").click()
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    rows = {
        row["Key result"]: row
        for row in csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig")))
    }
    for title, score in CAROL_SCORES.items():
        assert (rows[title]["Owner"], rows[title]["Score"]) == ("Carol Tsai", score)
        assert rows[title]["Reason"] == "Blocked by a dependency"
