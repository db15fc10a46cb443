"""The quarter report of a cycle: its page (with live progress), downloads, and regeneration.

Admins read the whole organisation; managers read the company objectives and their own
teams and people (an edition rendered from the stored facts); everyone else gets 403.
"""

from __future__ import annotations

import hashlib
import io
import json

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from checkins import reports
from checkins.models import Report
from checkins.report_render import (
    CONTENT_TYPES,
    PAGE_LIMITS,
    PDF_LIMITS,
    body_context,
    filename,
    render_csv,
    render_document,
    render_pdf,
)
from checkins.report_tasks import edition_dir
from cycles.views.common import get_cycle
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required

POLL_TARGETS = ("page", "cycle")
BODY_CACHE_SECONDS = 24 * 3600


def _scope(request) -> reports.Scope:
    scope = reports.scope_for(request.org, request.membership)
    if scope is None:
        raise PermissionDenied
    return scope


def _report(request, cycle) -> Report | None:
    return (
        Report.objects.for_org(request.org)
        .select_related("generated_by__user")
        .filter(cycle=cycle)
        .first()
    )


def _facts(report: Report) -> dict:
    with report.figures_file.open("rb") as stream:
        return json.load(stream)


@require_GET
def cycle_report(request, org_slug, cycle_id):
    """The report page; for htmx, only its status (polled every second while building)."""
    cycle = get_cycle(request, cycle_id)
    scope = _scope(request)
    report = _report(request, cycle)
    poll = request.GET.get("poll")
    context = {
        "cycle": cycle,
        "report": report,
        "reportable": cycle.state in reports.REPORTABLE_STATES,
        "poll": poll if poll in POLL_TARGETS else "page",
    }
    if request.htmx:
        response = render_page(request, "checkins/report.html", context, partial="report-status")
        if report is not None and report.is_ready and poll == "page":
            response["HX-Refresh"] = "true"  # built meanwhile: reload to show it
        return response
    if report is not None and report.is_ready:
        context["report_body"] = _body(report, scope)
    return render_page(request, "checkins/report.html", context)


def _body(report: Report, scope: reports.Scope) -> str:
    """The report's figures as HTML. The organisation-wide edition is the same for every
    admin: rendered once per generation, language and time zone (at 5,000 key results it
    takes a second), then cached."""

    def render():
        figures = reports.summarize(_facts(report), scope)
        return render_to_string("checkins/report_body.html", body_context(figures, PAGE_LIMITS))

    if not scope.is_everything:
        return render()
    key = ":".join(
        [
            "report-body",
            str(report.pk),
            str(report.generation),
            translation.get_language(),
            timezone.get_current_timezone_name(),
        ]
    )
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, BODY_CACHE_SECONDS)
    return body


@admin_required
@require_POST
def cycle_report_generate(request, org_slug, cycle_id):
    cycle = get_cycle(request, cycle_id)
    try:
        reports.report_request(org=request.org, by=request.membership, cycle=cycle)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("The report of %(cycle)s is being built; this page shows its progress.")
            % {"cycle": cycle.name},
        )
    return redirect("cycle_report", org_slug=request.org.slug, cycle_id=cycle.pk)


def _ready_report(request, cycle_id) -> tuple[Report, reports.Scope]:
    cycle = get_cycle(request, cycle_id)
    scope = _scope(request)
    report = _report(request, cycle)
    if report is None or not report.is_ready:
        raise Http404("The report is not ready.")
    report.cycle = cycle
    return report, scope


def _download(data, name: str, kind: str) -> HttpResponse:
    response = FileResponse(
        data, as_attachment=True, filename=name, content_type=CONTENT_TYPES[kind]
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _name(request, report: Report, extension: str) -> str:
    return filename(request.org.slug, report.cycle.name, report.cycle_id, extension)


@require_GET
def cycle_report_csv(request, org_slug, cycle_id):
    report, scope = _ready_report(request, cycle_id)
    if scope.is_everything:  # an admin: the stored file
        return _download(report.csv_file.open("rb"), _name(request, report, "csv"), "csv")
    figures = reports.summarize(_facts(report), scope)
    return _download(io.BytesIO(render_csv(figures)), _name(request, report, "csv"), "csv")


@require_GET
def cycle_report_pdf(request, org_slug, cycle_id):
    report, scope = _ready_report(request, cycle_id)
    if scope.is_everything:
        return _download(report.pdf_file.open("rb"), _name(request, report, "pdf"), "pdf")
    # A manager's edition: typeset once per generation, viewer and language, then cached.
    viewer = [
        request.membership.pk,
        sorted(scope.team_ids),
        sorted(scope.person_ids),
        translation.get_language(),
        timezone.get_current_timezone_name(),
    ]
    key = hashlib.sha256(json.dumps(viewer).encode()).hexdigest()[:20]
    name = f"{edition_dir(request.org.pk, report.cycle_id)}/g{report.generation}-{key}.pdf"
    if not default_storage.exists(name):
        figures = reports.summarize(_facts(report), scope)
        default_storage.save(name, ContentFile(render_pdf(render_document(figures, PDF_LIMITS))))
    return _download(default_storage.open(name, "rb"), _name(request, report, "pdf"), "pdf")
