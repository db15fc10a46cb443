"""The report page, its htmx status partial, the downloads and the regenerate button."""

import csv
import io
from decimal import Decimal as D

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from checkins import reports
from checkins.models import Report, ReportStatus
from cycles.models import KeyResult
from tests.checkins.report_org import build_quarter
from tests.factories import MembershipFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def quarter(acme, alice, bob, carol, engineering):
    return build_quarter(acme, alice, bob, carol, engineering)


@pytest.fixture
def carol_reports_to_alice(alice, carol):
    """Carol stays on bob's team, so her private objective (no team) is not his to read."""
    carol.manager = alice
    carol.save(update_fields=["manager"])


@pytest.fixture
def built(acme, alice, quarter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    return Report.objects.for_org(acme).get(cycle=quarter.cycle)


def _url(name, quarter):
    return reverse(name, kwargs={"org_slug": "acme", "cycle_id": quarter.cycle.pk})


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


# --- Who may read it -----------------------------------------------------------------------------


def test_an_admin_reads_the_whole_report(client, login, alice, quarter, built):
    response = login(alice).get(_url("cycle_report", quarter))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ready" in page
    assert "0.72" in page  # the average score
    assert "Engineering" in page and "Sales" in page
    assert "Learn Rust" in page  # admins read private objectives
    assert 'role="img"' in page and '<title id="report-chart-title">' in page
    assert "hx-trigger" not in page  # nothing to poll
    assert _url("cycle_report_pdf", quarter) in page
    assert _url("cycle_report_csv", quarter) in page
    assert _url("cycle_report_generate", quarter) in page


def test_a_manager_reads_their_teams_only(
    client, login, bob, quarter, carol_reports_to_alice, built
):
    response = login(bob).get(_url("cycle_report", quarter))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your edition" in page
    assert "Ship v2" in page and "Grow revenue" in page
    assert "Open Asia" not in page and "Frank Lee" not in page  # Sales is not bob's
    assert "Learn Rust" not in page and "Pairing" not in page  # private, not his to read
    assert "Private objective" in page
    assert _url("cycle_report_generate", quarter) not in page  # admins regenerate


def test_a_member_gets_403_and_an_outsider_404(client, login, carol, mallory, quarter, built):
    for name in ("cycle_report", "cycle_report_csv", "cycle_report_pdf"):
        assert login(carol).get(_url(name, quarter)).status_code == 403
        assert login(mallory).get(_url(name, quarter)).status_code == 404
    assert login(carol).post(_url("cycle_report_generate", quarter)).status_code == 403
    assert login(mallory).post(_url("cycle_report_generate", quarter)).status_code == 404


def test_no_report_yet(client, login, alice, bob, quarter):
    page = login(alice).get(_url("cycle_report", quarter)).content.decode()
    assert "No report yet" in page
    assert "Generate the report" in page
    assert login(bob).get(_url("cycle_report_pdf", quarter)).status_code == 404


def test_before_scoring_there_is_nothing_to_generate(
    client, login, acme, alice, bob, carol, engineering
):
    quarter = build_quarter(acme, alice, bob, carol, engineering, state="active")
    page = login(alice).get(_url("cycle_report", quarter)).content.decode()
    assert "once the cycle is in scoring" in page
    assert "Generate the report" not in page


# --- Generation and its live status --------------------------------------------------------------


def test_the_generate_button(
    client, login, acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(alice).post(_url("cycle_report_generate", quarter))
    assert response.status_code == 302
    assert response.url == _url("cycle_report", quarter)
    assert Report.objects.for_org(acme).get(cycle=quarter.cycle).status == ReportStatus.READY
    assert login(alice).get(_url("cycle_report_generate", quarter)).status_code == 405


def test_the_status_partial_polls_while_building_and_stops_when_ready(
    client, login, acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as build:
        login(alice).post(_url("cycle_report_generate", quarter))
    report = Report.objects.for_org(acme).get(cycle=quarter.cycle)
    Report.objects.for_org(acme).filter(pk=report.pk).update(
        status=ReportStatus.BUILDING, stage="pdf", progress=50
    )
    page = client.get(_url("cycle_report", quarter)).content.decode()
    assert 'hx-trigger="every 1s"' in page
    partial = client.get(_url("cycle_report", quarter) + "?poll=page", **HTMX)
    body = partial.content.decode()
    assert body.lstrip().startswith('<div id="report-status"')
    assert "<html" not in body
    assert 'hx-trigger="every 1s"' in body
    assert 'value="50"' in body and "Typesetting the PDF" in body

    Report.objects.for_org(acme).filter(pk=report.pk).update(status=ReportStatus.QUEUED)
    build[0]()  # the worker finishes
    done = client.get(_url("cycle_report", quarter) + "?poll=page", **HTMX)
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"  # the page reloads to show the report
    # Polled from the cycle page: the links, no reload.
    on_cycle = client.get(_url("cycle_report", quarter) + "?poll=cycle", **HTMX)
    assert "HX-Refresh" not in on_cycle
    assert "Download PDF" in on_cycle.content.decode()


def test_a_failed_build_stops_polling_and_shows_the_error_to_admins(
    client, login, acme, alice, bob, quarter, built
):
    Report.objects.for_org(acme).filter(pk=built.pk).update(
        status=ReportStatus.FAILED, error="RuntimeError: boom"
    )
    body = login(alice).get(_url("cycle_report", quarter) + "?poll=page", **HTMX)
    assert "hx-trigger" not in body.content.decode()
    assert "RuntimeError: boom" in body.content.decode()
    assert "RuntimeError" not in login(bob).get(_url("cycle_report", quarter)).content.decode()


def test_the_cycle_page_loads_the_report_status(client, login, alice, carol, quarter, built):
    page = login(alice).get(reverse("cycle_detail", args=["acme", quarter.cycle.pk]))
    assert f'hx-get="{_url("cycle_report", quarter)}?poll=cycle"' in page.content.decode()
    page = login(carol).get(reverse("cycle_detail", args=["acme", quarter.cycle.pk]))
    assert _url("cycle_report", quarter) not in page.content.decode()


# --- Downloads -----------------------------------------------------------------------------------


def test_an_admin_downloads_the_stored_csv_and_pdf(client, login, alice, quarter, built):
    response = login(alice).get(_url("cycle_report_csv", quarter))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-2026-q4-report.csv"'
    rows = _csv(response)
    assert len(rows) == 8
    assert "Learn Rust" in {row[2] for row in rows}

    response = client.get(_url("cycle_report_pdf", quarter))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="acme-2026-q4-report.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_managers_csv_is_their_edition(
    client, login, bob, quarter, carol_reports_to_alice, built
):
    rows = _csv(login(bob).get(_url("cycle_report_csv", quarter)))
    assert [row[4] for row in rows[1:]] == [
        "Modules from 0 to 10",
        "Releases from 0 to 10",
        "(private objective)",
    ]
    assert rows[3][2] == "(private objective)"
    assert rows[3][6] == "0.7"  # the score is still there


def test_a_managers_pdf_is_typeset_once_and_cached(client, login, acme, bob, quarter, built):
    first = login(bob).get(_url("cycle_report_pdf", quarter))
    assert first["Content-Type"] == "application/pdf"
    assert b"".join(first.streaming_content).startswith(b"%PDF")
    folder = f"reports/{acme.pk}/{quarter.cycle.pk}/editions"
    _dirs, cached = default_storage.listdir(folder)
    assert len(cached) == 1 and cached[0].startswith("g1-")
    client.get(_url("cycle_report_pdf", quarter))
    assert default_storage.listdir(folder)[1] == cached


@pytest.mark.parametrize("people", [5, 50])
def test_the_page_takes_the_same_queries_whatever_the_size(
    client,
    login,
    acme,
    alice,
    bob,
    engineering,
    quarter,
    people,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    for n in range(people):
        person = MembershipFactory(organization=acme, manager=bob)
        TeamMembershipFactory(organization=acme, team=engineering, membership=person)
        KeyResult.objects.create(
            organization=acme,
            objective=quarter.objectives.ship,
            owner=person,
            title=f"KR {n}",
            start_value=D(0),
            target_value=D(1),
        )
    with django_capture_on_commit_callbacks(execute=True):
        reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    for viewer in (alice, bob):
        login(viewer)
        with django_assert_max_num_queries(10):
            response = client.get(_url("cycle_report", quarter))
        assert f"KR {people - 1}" in response.content.decode()
