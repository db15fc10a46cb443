"""Journey: an admin moves the cycle to scoring, the owner self-scores with a reflection, the
admin closes scoring, watches the report get built, and downloads its PDF and CSV."""

import re

import pytest
from playwright.sync_api import Page, expect

from checkins.models import Report, ReportStatus
from tests.checkins.report_org import poppler

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_close_scoring_watch_the_report_and_download_it(
    live_server,
    page: Page,
    log_in,
    log_out,
    acme,
    alice,
    bob,
    carol,
    engineering,
    ending_quarter,
    tmp_path,
):
    cycle, kr = ending_quarter
    base = live_server.url
    cycle_url = f"{base}/acme/cycles/{cycle.pk}/"

    # The admin starts scoring.
    log_in(alice)
    page.goto(cycle_url)
    page.get_by_role("link", name="Start scoring").click()
    page.get_by_role("button", name="Start scoring").click()
    expect(page.get_by_text("Ending quarter is now scoring.")).to_be_visible()
    # No report yet: the cycle page's report card says so (loaded by htmx).
    expect(page.get_by_text("No report yet")).to_be_visible()
    log_out()

    # The owner self-scores with a reflection.
    log_in(carol)
    page.goto(f"{base}/acme/cycles/{cycle.pk}/scoring/")
    row = page.locator(f"#kr-{kr.pk}")
    row.get_by_label("Your score").fill("0.5")
    row.get_by_label("What worked").fill("Demo days brought the first five.")
    row.get_by_label("What to change next time").fill("Book the workshops before the quarter.")
    row.get_by_label("Main reason").select_option("too_ambitious")
    row.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_text("All scored. Thank you!")).to_be_visible()
    log_out()

    # The admin closes scoring: the report is requested and built.
    log_in(alice)
    page.goto(cycle_url)
    page.get_by_role("link", name="Close cycle").click()
    page.get_by_role("button", name="Close cycle").click()
    expect(page.get_by_text("Ending quarter is now closed.")).to_be_visible()
    card = page.locator("section[aria-labelledby=report-title]")
    expect(card.get_by_text("Ready")).to_be_visible()  # the status partial, swapped in
    card.get_by_role("link", name="Open the report").click()

    expect(page.get_by_role("heading", name="Ending quarter: quarter report")).to_be_visible()
    status = page.locator("#report-status")
    expect(status.get_by_text("Ready")).to_be_visible()
    expect(status).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.get_by_role("heading", name="Reflections by reason")).to_be_visible()
    expect(page.get_by_text("Book the workshops before the quarter.")).to_be_visible()
    expect(page.get_by_role("img", name="Score distribution of Ending quarter")).to_be_visible()
    report = Report.objects.for_org(acme).get(cycle=cycle)
    assert (report.status, report.generated_by) == (ReportStatus.READY, alice)

    # Downloads.
    with page.expect_download() as pdf_download:
        status.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / pdf_download.value.suggested_filename
    pdf_download.value.save_as(pdf_path)
    assert pdf_path.name == "acme-ending-quarter-report.pdf"
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = poppler("pdftotext", str(pdf_path), "-")
    if text is not None:  # poppler-utils installed
        assert "Acme Robotics" in text
        assert "0.5" in text
        assert "Sign 10 pilot workshops" in text

    with page.expect_download() as csv_download:
        status.get_by_role("link", name="Download CSV").click()
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    assert csv_path.name == "acme-ending-quarter-report.csv"
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Team,Owner,Objective,Type,Key result")
    assert "Sign 10 pilot workshops,0.6,0.5,yellow,Target too ambitious,no" in lines[1]
