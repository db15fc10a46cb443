"""The report's outputs: the HTML body (page and snapshot), the CSV and the PDF.

Every output renders :class:`checkins.reports.ReportFigures`, so the page, the stored files
and a manager's edition show the same numbers. The PDF is the HTML snapshot typeset by
WeasyPrint with a CJK font, so Chinese names and titles print. Long lists are bounded in
the PDF (:data:`PDF_LIMITS`): every key result is in the CSV and on the page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils.text import slugify
from django.utils.translation import gettext as _

from checkins.reports import ReportFigures
from cycles.scoring import plain

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class Limits:
    """How much of each long list an edition shows (None: all of it)."""

    carry_over: int | None = None
    reflections_per_reason: int | None = None
    objectives: int | None = None  # "objectives by team" only up to this many objectives
    people_key_results: int | None = None  # the per-person lists only up to this many KRs


#: The page shows everything (long sections fold away).
PAGE_LIMITS = Limits()
#: The PDF stays a readable document at 5,000 key results and typesets in seconds.
PDF_LIMITS = Limits(
    carry_over=100, reflections_per_reason=8, objectives=300, people_key_results=400
)


def filename(org_slug: str, cycle_name: str, cycle_id: int, extension: str) -> str:
    """``acme-2026-q4-report.pdf`` (ASCII; the cycle id when the name has no Latin letters)."""
    cycle = slugify(cycle_name) or f"cycle-{cycle_id}"
    return f"{org_slug}-{cycle}-report.{extension}"


# --- The chart ----------------------------------------------------------------------------------

BAND_COLOURS = {"red": "#b3261e", "yellow": "#b26b00", "green": "#146c43", "unscored": "#8a93a3"}


def distribution_chart(figures: ReportFigures, *, width: int = 560, height: int = 220) -> dict:
    """Geometry of the score distribution's bar chart: one bar per score, then unscored."""
    left, right, top, bottom = 34, 8, 14, 34
    dist = figures.distribution
    bars_in = [(b.label, b.count, b.band) for b in dist.buckets]
    bars_in.append((_("none"), dist.unscored, "unscored"))
    largest = max(dist.largest, 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(bars_in)
    bar_w = round(slot * 0.72, 1)
    bars = []
    for i, (label, count, band) in enumerate(bars_in):
        h = round(plot_h * count / largest, 1)
        x = round(left + i * slot + (slot - bar_w) / 2, 1)
        bars.append(
            {
                "x": x,
                "y": round(top + plot_h - h, 1),
                "width": bar_w,
                "height": h,
                "count": count,
                "label": label,
                "band": band,
                "colour": BAND_COLOURS[band],
                "label_x": round(x + bar_w / 2, 1),
                "label_y": height - bottom + 16,
                "count_y": round(top + plot_h - h - 4, 1),
            }
        )
    ticks = sorted({0, largest // 2, largest}) if largest > 1 else [0, 1]
    described = "; ".join(f"{b['label']}: {b['count']}" for b in bars)
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "axis_y": top + plot_h,
        "left": left,
        "right": width - right,
        "ticks": [{"value": t, "y": round(top + plot_h - plot_h * t / largest, 1)} for t in ticks],
        "title": _("Score distribution of %(cycle)s") % {"cycle": figures.cycle_name},
        "desc": _("Key results per score from 0.0 to 1.0, then unscored: %(bars)s.")
        % {"bars": described},
    }


# --- HTML ---------------------------------------------------------------------------------------


def _bounded(items: list, limit: int | None) -> tuple[list, int]:
    if limit is None or len(items) <= limit:
        return items, 0
    return items[:limit], len(items) - limit


def _within(count: int, limit: int | None) -> bool:
    return limit is None or count <= limit


def body_context(figures: ReportFigures, limits: Limits = PAGE_LIMITS) -> dict:
    carry_over, carry_over_more = _bounded(figures.carry_over, limits.carry_over)
    reflections = []
    for group in figures.reflections:
        shown, more = _bounded(group.key_results, limits.reflections_per_reason)
        reflections.append({"group": group, "shown": shown, "more": more})
    objectives = sum(len(t.objectives) for t in figures.teams)
    return {
        "figures": figures,
        "chart": distribution_chart(figures),
        "carry_over": carry_over,
        "carry_over_more": carry_over_more,
        "reflections": reflections,
        # Short lists of reflections open at once; long ones fold by reason.
        "reflections_open": sum(len(g.key_results) for g in figures.reflections) <= 60,
        "show_objectives": _within(objectives, limits.objectives),
        "show_people": _within(len(figures.key_results), limits.people_key_results),
    }


def render_document(figures: ReportFigures, limits: Limits = PDF_LIMITS) -> str:
    """A standalone HTML document (no external files): the snapshot and the PDF's source."""
    return render_to_string("checkins/report_document.html", body_context(figures, limits))


# --- CSV ----------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else plain(value)


def csv_rows(figures: ReportFigures) -> list[list[str]]:
    """One row per key result the edition covers (private ones the viewer may not read
    keep their figures, with the titles left out)."""
    private = _("(private objective)")
    rows = [
        [
            _("Team"),
            _("Owner"),
            _("Objective"),
            _("Type"),
            _("Key result"),
            _("Progress"),
            _("Score"),
            _("Band"),
            _("Reason"),
            _("Expectation met"),
            _("Carry-over candidate"),
        ]
    ]
    for kr in figures.key_results:
        rows.append(
            [
                _cell(kr.team_name),
                _cell(kr.owner_name),
                _cell(kr.objective.title if kr.readable else private),
                str(kr.objective.type_label),
                _cell(kr.title if kr.readable else private),
                _decimal(kr.progress),
                "" if kr.score is None else f"{kr.score:.1f}",
                kr.band or "",
                _cell(kr.reason_label),
                "" if kr.met is None else (_("yes") if kr.met else _("no")),
                _("yes") if kr.carry_over_because else "",
            ]
        )
    return rows


def render_csv(figures: ReportFigures) -> bytes:
    out = io.StringIO()
    # A byte-order mark: spreadsheet programs then read the UTF-8 (Chinese names) correctly.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(csv_rows(figures))
    return out.getvalue().encode("utf-8")


# --- PDF ----------------------------------------------------------------------------------------


def render_pdf(document: str) -> bytes:
    """Typeset the standalone HTML document (WeasyPrint is imported only where PDFs are made)."""
    from weasyprint import HTML

    return HTML(string=document).write_pdf()
