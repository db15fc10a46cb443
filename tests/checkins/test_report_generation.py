"""Producing the quarter report: the request, the build (idempotent, by generation), the
stored files, the mail to admins and managers, and the request made by closing scoring."""

import csv
import io
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import connection, connections

from checkins import report_tasks, reports
from checkins.models import Report, ReportStage, ReportStatus
from cycles import services as okr
from okrapp import rls
from tests.checkins.report_org import build_quarter, poppler

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarter(acme, alice, bob, carol, engineering):
    return build_quarter(acme, alice, bob, carol, engineering)


def _request(acme, alice, cycle, capture, *, execute=True) -> Report:
    with capture(execute=execute):
        return reports.report_request(org=acme, by=alice, cycle=cycle)


def _fresh(acme, report) -> Report:
    return Report.objects.for_org(acme).get(pk=report.pk)


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    text = poppler("pdftotext", "-layout", str(path), "-")
    if text is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return text


def pdf_fonts(report: Report, tmp_path) -> tuple:
    """The report's PDF saved under ``tmp_path``, and the fonts ``pdffonts`` lists in it."""
    path = tmp_path / "report.pdf"
    with report.pdf_file.open("rb") as stream:
        path.write_bytes(stream.read())
    fonts = poppler("pdffonts", str(path))
    if fonts is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    return path, fonts


# --- The build ---------------------------------------------------------------------------------


def test_a_request_builds_and_stores_the_report(
    acme, alice, quarter, django_capture_on_commit_callbacks, tmp_path
):
    report = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    assert (report.status, report.stage, report.progress) == ("ready", "done", 100)
    assert report.generation == 1
    assert report.generated_by == alice
    assert report.started_at <= report.finished_at
    prefix = f"reports/{acme.pk}/{quarter.cycle.pk}/"
    for stored in (report.html_file, report.csv_file, report.pdf_file, report.figures_file):
        assert stored.name.startswith(prefix)
        assert default_storage.exists(stored.name)

    with report.csv_file.open("rb") as stream:
        rows = list(csv.reader(io.StringIO(stream.read().decode("utf-8-sig"))))
    assert len(rows) == 1 + 7
    with report.html_file.open("rb") as stream:
        snapshot = stream.read().decode()
    assert snapshot.startswith("<!DOCTYPE html>")
    assert "Acme Robotics" in snapshot and "0.72" in snapshot

    with report.pdf_file.open("rb") as stream:
        pdf = stream.read()
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    assert "Acme Robotics" in text
    assert "0.72" in text  # the average score
    assert "Modules from 0 to 10" in text


def test_latin_text_prints_without_subsetting_the_cjk_font(
    acme, alice, quarter, django_capture_on_commit_callbacks, tmp_path
):
    """The CJK font is the fallback for the glyphs the Latin face lacks: subsetting one of
    its faces costs tens of MB, the most of a large report's peak memory (bench/report.py:
    299 MB with the CJK face first, 214 MB without)."""
    report = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    _path, fonts = pdf_fonts(report, tmp_path)
    assert "DejaVu-Sans" in fonts
    assert "CJK" not in fonts


def test_chinese_text_prints_with_a_cjk_font(
    acme, alice, quarter, django_capture_on_commit_callbacks, tmp_path
):
    quarter.objectives.ship.title = "發佈第二版"
    quarter.objectives.ship.save(update_fields=["title"])
    report = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    path, fonts = pdf_fonts(report, tmp_path)
    assert "Noto-Sans-CJK-TC" in fonts
    assert "發佈第二版" in pdf_text(path.read_bytes(), tmp_path)


def test_the_stored_edition_is_in_the_organisations_language(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    acme.language = "zh-hant"
    acme.save(update_fields=["language"])
    report = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    assert report.language == "zh-hant"
    with report.html_file.open("rb") as stream:
        assert '<html lang="zh-hant">' in stream.read().decode()


def test_regenerating_replaces_the_files(acme, alice, quarter, django_capture_on_commit_callbacks):
    first = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    old = [first.html_file.name, first.csv_file.name, first.pdf_file.name, first.figures_file.name]
    second = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    assert second.pk == first.pk
    assert (second.generation, second.status) == (2, "ready")
    assert second.pdf_file.name != first.pdf_file.name
    assert not any(default_storage.exists(name) for name in old)
    assert default_storage.exists(second.pdf_file.name)
    assert Report.objects.for_org(acme).count() == 1


def test_two_requests_before_the_build_runs_make_one_report_and_one_build(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
        second = reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    assert first.pk == second.pk
    assert Report.objects.for_org(acme).count() == 1
    assert len(callbacks) == 1  # one build enqueued
    callbacks[0]()
    report = _fresh(acme, first)
    assert (report.generation, report.status) == (1, "ready")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_requests_make_one_report(acme, alice, quarter, monkeypatch):
    enqueued = []
    monkeypatch.setattr(
        report_tasks.build_report, "delay_on_commit", lambda *args: enqueued.append(args)
    )
    barrier = threading.Barrier(2)
    errors = []

    def ask():
        try:
            barrier.wait()
            # The organisation's scope, as the request asking for it runs in.
            with rls.org_scope(acme):
                reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Report.objects.for_org(acme).count() == 1
    assert len(enqueued) == 1
    org_id, cycle_id, report_id, generation = enqueued[0]
    assert report_tasks.build_report(org_id, cycle_id, report_id, generation) == "ready"
    assert report_tasks.build_report(org_id, cycle_id, report_id, generation) == "done"


def test_a_stale_generation_stops_and_stores_nothing(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        report = reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    # Its build started; then an admin asked again (a new generation).
    Report.objects.for_org(acme).filter(pk=report.pk).update(status=ReportStatus.BUILDING)
    with django_capture_on_commit_callbacks(execute=False) as newer:
        reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    args = (acme.pk, quarter.cycle.pk, report.pk)
    assert report_tasks.build_report(*args, 1) == "stale"
    assert _fresh(acme, report).pdf_file.name in ("", None)
    newer[0]()
    report = _fresh(acme, report)
    assert (report.generation, report.status) == (2, "ready")
    # A duplicate delivery of a finished build does nothing.
    assert report_tasks.build_report(*args, 2) == "done"


def test_a_build_overtaken_midway_stops_before_storing(
    acme, alice, quarter, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    real_collect = report_tasks.collect

    def collect_then_overtaken(org, cycle):
        facts = real_collect(org, cycle)
        Report.objects.for_org(org).filter(pk=report.pk).update(generation=2)
        return facts

    monkeypatch.setattr(report_tasks, "collect", collect_then_overtaken)
    callbacks[0]()
    report = _fresh(acme, report)
    assert report.status == ReportStatus.BUILDING  # the newer generation's build owns it
    assert report.pdf_file.name in ("", None)
    assert not default_storage.exists(f"reports/{acme.pk}/{quarter.cycle.pk}/report-g1.pdf")


def test_a_failing_build_says_why(
    acme, alice, quarter, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(document):
        raise RuntimeError("no fonts here")

    monkeypatch.setattr(report_tasks, "render_pdf", broken)
    report = _fresh(acme, _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks))
    assert (report.status, report.stage) == (ReportStatus.FAILED, ReportStage.FAILED)
    assert report.error == "RuntimeError: no fonts here"
    assert not mail.outbox


def test_a_cycle_reopened_before_the_build_gets_no_report(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as build:
        report = reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    okr.cycle_transition(org=acme, by=alice, cycle=quarter.cycle, to_state="active")
    build[0]()
    report = _fresh(acme, report)
    assert report.status == ReportStatus.FAILED
    assert "active again" in report.error


def test_progress_is_shown_stage_by_stage(
    acme, alice, quarter, django_capture_on_commit_callbacks, monkeypatch
):
    seen = []
    real_advance = report_tasks._advance

    def spy(org_id, report_id, generation, *, progress, stage):
        real_advance(org_id, report_id, generation, progress=progress, stage=stage)
        row = Report.objects.for_org(org_id).get(pk=report_id)
        seen.append((row.status, row.stage, row.progress))

    monkeypatch.setattr(report_tasks, "_advance", spy)
    _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks)
    assert [s[1] for s in seen] == ["html", "csv", "pdf", "storing"]
    assert all(status == "building" for status, _stage, _p in seen)
    assert [p for _s, _stage, p in seen] == sorted(p for _s, _stage, p in seen)


# --- Who may ask, and when -----------------------------------------------------------------------


def test_only_admins_request_a_report(acme, bob, quarter):
    with pytest.raises(PermissionDenied):
        reports.report_request(org=acme, by=bob, cycle=quarter.cycle)


def test_no_report_before_scoring(acme, alice, bob, carol, engineering):
    quarter = build_quarter(acme, alice, bob, carol, engineering, state="active")
    with pytest.raises(ValidationError) as refused:
        reports.report_request(org=acme, by=alice, cycle=quarter.cycle)
    assert refused.value.code == "not_reportable"
    assert not Report.objects.for_org(acme).exists()


def test_another_organisations_cycle_is_refused(acme, globex, mallory, quarter):
    with pytest.raises(ValidationError):
        reports.report_request(org=globex, by=mallory, cycle=quarter.cycle)


# --- Closing scoring ---------------------------------------------------------------------------


def test_closing_scoring_requests_the_report(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        okr.cycle_transition(org=acme, by=alice, cycle=quarter.cycle, to_state="closed")
    report = Report.objects.for_org(acme).get(cycle=quarter.cycle)
    assert report.status == ReportStatus.READY
    assert report.generated_by == alice
    with report.figures_file.open("rb") as stream:
        assert b'"state": "closed"' in stream.read()


def test_reopening_check_ins_requests_no_report(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        okr.cycle_transition(org=acme, by=alice, cycle=quarter.cycle, to_state="active")
    assert not Report.objects.for_org(acme).exists()


# --- Mail ----------------------------------------------------------------------------------------


def test_admins_and_managers_are_mailed_in_their_language_with_a_working_link(
    acme, alice, bob, carol, erin, quarter, django_capture_on_commit_callbacks, client
):
    quarter.dana.language = "zh-hant"
    quarter.dana.save(update_fields=["language"])
    mail.outbox.clear()
    _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks)
    by_person = {m.to[0]: m for m in mail.outbox}
    # Admins, team leads and people with reports; not carol, erin or frank.
    assert sorted(by_person) == ["alice@acme.example", "bob@acme.example", "dana@acme.example"]
    path = f"/acme/cycles/{quarter.cycle.pk}/report/"
    for message in mail.outbox:
        html = message.alternatives[0][0]
        assert settings.SITE_URL + path in message.body
        assert settings.SITE_URL + path in html
        assert "Acme Robotics" in message.subject
    assert '<html lang="zh-hant">' in by_person["dana@acme.example"].alternatives[0][0]
    assert '<html lang="en">' in by_person["alice@acme.example"].alternatives[0][0]
    assert "You see the whole organisation" in by_person["alice@acme.example"].body
    assert "teams and people you manage" in by_person["bob@acme.example"].body
    client.force_login(bob.user)
    assert client.get(path).status_code == 200


def test_the_mail_goes_once_per_generation(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    report = _request(acme, alice, quarter.cycle, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    assert sent == 3
    assert report_tasks.send_report_mail(acme.pk, report.pk, 1) == 0
    assert len(mail.outbox) == sent
