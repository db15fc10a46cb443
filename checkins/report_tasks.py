"""Celery tasks of the quarter report: build it (showing progress), store it, mail it.

``checkins.tasks`` imports this module so that Celery's autodiscovery registers the tasks.
A build takes ids and a generation number: it works only while its generation is the
report row's, so a re-request (which bumps the generation) makes an older build stop at its
next step, and a duplicate delivery of a finished build does nothing.
"""

from __future__ import annotations

import json
import logging

from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation

from checkins import notifications
from checkins.models import Report, ReportStage, ReportStatus
from checkins.report_render import render_csv, render_document, render_pdf
from checkins.reports import REPORTABLE_STATES, collect, summarize
from cycles.models import Cycle
from okrapp.models import Membership, Organization, TeamMembership

log = logging.getLogger(__name__)

ERROR_CHARS = 2000


class StaleGeneration(Exception):
    """A newer request replaced this build's generation: stop without storing anything."""


def _advance(org_id: int, report_id: int, generation: int, *, progress: int, stage: str) -> None:
    """Show progress, and stop when a newer generation has been requested meanwhile."""
    updated = (
        Report.objects.for_org(org_id)
        .filter(pk=report_id, generation=generation, status=ReportStatus.BUILDING)
        .update(progress=progress, stage=stage)
    )
    if not updated:
        raise StaleGeneration


def _delete(names) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def edition_dir(org_id: int, cycle_id: int) -> str:
    """Where per-viewer editions (a manager's PDF) are cached for the current generation."""
    return f"reports/{org_id}/{cycle_id}/editions"


def _delete_older_editions(org_id: int, cycle_id: int, generation: int) -> None:
    folder = edition_dir(org_id, cycle_id)
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    _delete(f"{folder}/{f}" for f in files if not f.startswith(f"g{generation}-"))


@shared_task(acks_late=True)
def build_report(org_id: int, cycle_id: int, report_id: int, generation: int) -> str:
    """Compute, render and store the report of one generation; then have it mailed.

    Returns what happened: "ready", "stale" (a newer generation exists), "done" (this
    generation was finished by an earlier delivery) or "failed" (the row says why).
    """
    with transaction.atomic():
        report = (
            Report.objects.for_org(org_id)
            .select_for_update()
            .filter(pk=report_id, cycle_id=cycle_id)
            .first()
        )
        if report is None or report.generation != generation:
            return "stale"
        if report.status == ReportStatus.READY:
            return "done"
        # Queued, or building when a worker died mid-build and the message came back.
        report.status = ReportStatus.BUILDING
        report.stage = ReportStage.FIGURES
        report.progress = 5
        report.started_at = timezone.now()
        report.error = ""
        report.save(update_fields=["status", "stage", "progress", "started_at", "error"])

    stored: list[str] = []
    try:
        org = Organization.objects.get(pk=org_id)
        cycle = Cycle.objects.for_org(org).get(pk=cycle_id)
        if cycle.state not in REPORTABLE_STATES:  # reopened for check-ins meanwhile
            raise RuntimeError(f"{cycle.name} is {cycle.state} again; reports need scoring.")
        step = {"org_id": org_id, "report_id": report_id, "generation": generation}
        with translation.override(org.language), timezone.override(org.zoneinfo):
            facts = collect(org, cycle)
            _advance(**step, progress=35, stage=ReportStage.HTML)
            figures = summarize(facts)
            document = render_document(figures)
            _advance(**step, progress=45, stage=ReportStage.CSV)
            csv_bytes = render_csv(figures)
            _advance(**step, progress=50, stage=ReportStage.PDF)
            pdf_bytes = render_pdf(document)
            _advance(**step, progress=90, stage=ReportStage.STORING)

        base = f"report-g{generation}"
        contents = {
            "html_file": (f"{base}.html", document.encode("utf-8")),
            "csv_file": (f"{base}.csv", csv_bytes),
            "pdf_file": (f"{base}.pdf", pdf_bytes),
            "figures_file": (f"{base}.json", json.dumps(facts, ensure_ascii=False).encode()),
        }
        for field_name, (name, data) in contents.items():
            getattr(report, field_name).save(name, ContentFile(data), save=False)
            stored.append(getattr(report, field_name).name)

        with transaction.atomic():
            current = (
                Report.objects.for_org(org_id)
                .select_for_update()
                .filter(pk=report_id, generation=generation)
                .first()
            )
            if current is None or current.status != ReportStatus.BUILDING:
                raise StaleGeneration
            previous = [getattr(current, f).name for f in contents]
            for field_name in contents:
                setattr(current, field_name, getattr(report, field_name).name)
            current.status = ReportStatus.READY
            current.stage = ReportStage.DONE
            current.progress = 100
            current.finished_at = timezone.now()
            current.language = org.language
            current.save(
                update_fields=[
                    *contents,
                    "status",
                    "stage",
                    "progress",
                    "finished_at",
                    "language",
                ]
            )
            transaction.on_commit(lambda: _delete(n for n in previous if n not in stored))
            transaction.on_commit(lambda: _delete_older_editions(org_id, cycle_id, generation))
            send_report_mail.delay_on_commit(org_id, report_id, generation)
    except StaleGeneration:
        _delete(stored)
        return "stale"
    except Exception as exc:
        _delete(stored)
        log.exception("Report %s (generation %s) failed", report_id, generation)
        Report.objects.for_org(org_id).filter(pk=report_id, generation=generation).update(
            status=ReportStatus.FAILED,
            stage=ReportStage.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
            finished_at=timezone.now(),
        )
        return "failed"
    return "ready"


# --- Mail -----------------------------------------------------------------------------------------


def report_recipients(org: Organization):
    """Active admins and managers: people who lead a team or manage someone active."""
    leads = TeamMembership.objects.for_org(org).filter(membership=OuterRef("pk"), is_lead=True)
    reports = Membership.objects.for_org(org).active().filter(manager=OuterRef("pk"))
    return (
        Membership.objects.for_org(org)
        .active()
        .filter(Q(role=Membership.Role.ADMIN) | Exists(leads) | Exists(reports))
        .select_related("user")
        .order_by("id")
    )


@shared_task(acks_late=True)
def send_report_mail(org_id: int, report_id: int, generation: int) -> int:
    """Claim the generation's mail-out (once), then one mail task per recipient."""
    claimed = (
        Report.objects.for_org(org_id)
        .filter(
            pk=report_id,
            generation=generation,
            status=ReportStatus.READY,
            mailed_generation__lt=generation,
        )
        .update(mailed_generation=generation)
    )
    if not claimed:
        return 0
    org = Organization.objects.get(pk=org_id)
    people = list(report_recipients(org).values_list("id", flat=True))
    for membership_id in people:
        send_report_ready_mail.delay(org_id, report_id, generation, membership_id)
    return len(people)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_report_ready_mail(
    org_id: int, report_id: int, generation: int, membership_id: int
) -> bool:
    """Tell one admin or manager, in their language, that the report is ready (once)."""
    report = (
        Report.objects.for_org(org_id)
        .select_related("cycle", "organization")
        .filter(pk=report_id, generation=generation, status=ReportStatus.READY)
        .first()
    )
    person = (
        Membership.objects.for_org(org_id)
        .active()
        .select_related("user")
        .filter(pk=membership_id)
        .first()
    )
    if report is None or person is None:
        return False
    org, cycle = report.organization, report.cycle
    site = settings.SITE_URL
    # Once per generation and person, however often this task is delivered.
    return notifications.send_once(
        org_id=org_id,
        key=f"report_ready.{report_id}.{generation}.{membership_id}",
        to=[person.user.email],
        template="checkins/mail/report_ready",
        context={
            "org": org,
            "cycle": cycle,
            "person": person,
            "whole_org": person.is_admin,
            "url": site
            + reverse("cycle_report", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk}),
            "preferences_url": site
            + reverse("notification_settings", kwargs={"org_slug": org.slug}),
        },
        language=person.language,
    )
