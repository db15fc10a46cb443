"""Server-rendered SVG charts: geometry computed here, drawn by templates.

No chart library and no JavaScript: each chart is a dict of plain numbers that a template
turns into ``<svg>`` with a ``<title>`` and ``<desc>`` so it prints and reads aloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cycles import scoring
from cycles.scoring import plain


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: Decimal
    label: str
    confidence: int | None = None

    @property
    def tone(self) -> str:
        """Colour class for the confidence: low, mid or high."""
        if self.confidence is None:
            return "none"
        if self.confidence <= 4:
            return "low"
        return "mid" if self.confidence <= 6 else "high"


def burnup(
    *,
    kr,
    cycle,
    checkins: list,
    width: int = 320,
    height: int = 120,
    pad: int = 8,
    today: date | None = None,
    chart_id: str = "chart",
    big: bool = False,
) -> dict:
    """Geometry of a KR's burn-up: actual values by week against the expected line.

    ``checkins`` are the KR's check-ins (any order). Increase/decrease KRs get the line
    from start to target over the cycle; "stay" KRs their bound(s); milestones 0 → 1.
    ``svg`` is the chart drawn (``chart_id`` names its title and description, ``big``
    draws larger points).
    """
    start, end = cycle.start_date, cycle.end_date
    span_days = max((end - start).days, 1)
    ordered = sorted(checkins, key=lambda c: c.week)

    if kr.is_milestone:
        start_v, target_v = Decimal(0), Decimal(1)
    else:
        start_v, target_v = kr.start_value, kr.target_value
    values = [c.value for c in ordered]
    bounds = [v for v in (start_v, target_v, kr.lower_bound, kr.upper_bound) if v is not None]
    lo = min([*bounds, *values], default=Decimal(0))
    hi = max([*bounds, *values], default=Decimal(1))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    margin = (hi - lo) * Decimal("0.08")
    lo, hi = lo - margin, hi + margin

    def x_of(day: date) -> float:
        share = min(max((day - start).days / span_days, 0.0), 1.0)
        return round(pad + share * (width - 2 * pad), 1)

    def y_of(value: Decimal) -> float:
        share = float((value - lo) / (hi - lo))
        return round(height - pad - share * (height - 2 * pad), 1)

    points = [
        Point(
            x=x_of(c.week + timedelta(days=6)),
            y=y_of(c.value),
            value=c.value,
            label=f"{c.week_label}: {plain(c.value)}{kr.unit and ' ' + kr.unit}",
            confidence=c.confidence,
        )
        for c in ordered
    ]
    expected = None
    band = None
    threshold = None
    direction = scoring.Direction(kr.direction)
    if kr.is_milestone or not direction.is_stay:
        expected = {"x1": x_of(start), "y1": y_of(start_v), "x2": x_of(end), "y2": y_of(target_v)}
    elif direction is scoring.Direction.STAY_BETWEEN:
        top, bottom = y_of(kr.upper_bound), y_of(kr.lower_bound)
        band = {"y": top, "height": round(bottom - top, 1)}
    else:
        threshold = {"y": y_of(kr.target_value)}

    today_x = x_of(today) if today and start <= today <= end else None
    if points:
        described = "; ".join(
            _("%(label)s (confidence %(c)s/10)") % {"label": p.label, "c": p.confidence}
            for p in points
        )
    else:
        described = _("No check-ins yet.")
    if expected is not None:
        goal = _("Expected to move from %(start)s to %(target)s between %(from)s and %(to)s.") % {
            "start": plain(start_v),
            "target": plain(target_v),
            "from": date_format(start, "DATE_FORMAT"),
            "to": date_format(end, "DATE_FORMAT"),
        }
    elif band is not None:
        goal = _("Should stay between %(lower)s and %(upper)s.") % {
            "lower": plain(kr.lower_bound),
            "upper": plain(kr.upper_bound),
        }
    elif direction is scoring.Direction.STAY_AT_LEAST:
        # Whole sentences: a language orders "at least" and the bound its own way.
        goal = _("Should stay at least %(bound)s.") % {"bound": plain(kr.target_value)}
    else:
        goal = _("Should stay at most %(bound)s.") % {"bound": plain(kr.target_value)}
    chart = {
        "width": width,
        "height": height,
        "points": points,
        "polyline": " ".join(f"{p.x},{p.y}" for p in points),
        "expected": expected,
        "band": band,
        "threshold": threshold,
        "today_x": today_x,
        "title": _("Burn-up of “%(title)s”") % {"title": kr.title},
        "desc": f"{goal} {described}",
    }
    chart["svg"] = burnup_svg(chart, chart_id=chart_id, big=big)
    return chart


def burnup_svg(chart: dict, *, chart_id: str, big: bool = False) -> SafeString:
    """The ``<svg>`` of a :func:`burnup` chart.

    Drawn here rather than by a template: My week shows one per key result, and a
    template's loop over the points (a translated tooltip each) cost more than the rest
    of the card.
    """
    w, h, cid = chart["width"], chart["height"], escape(chart_id)
    parts = [
        f'<svg class="burnup" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-labelledby="burnup-{cid}-title burnup-{cid}-desc" preserveAspectRatio="none">'
        f'<title id="burnup-{cid}-title">{escape(chart["title"])}</title>'
        f'<desc id="burnup-{cid}-desc">{escape(chart["desc"])}</desc>'
        f'<rect class="burnup-bg" x="0" y="0" width="{w}" height="{h}" rx="6"/>'
    ]
    if band := chart["band"]:
        parts.append(
            f'<rect class="burnup-band" x="0" y="{band["y"]}" width="{w}" '
            f'height="{band["height"]}"/>'
        )
    if threshold := chart["threshold"]:
        y = threshold["y"]
        parts.append(f'<line class="burnup-threshold" x1="0" x2="{w}" y1="{y}" y2="{y}"/>')
    if e := chart["expected"]:
        parts.append(
            f'<line class="burnup-expected" x1="{e["x1"]}" y1="{e["y1"]}" x2="{e["x2"]}" '
            f'y2="{e["y2"]}"/>'
        )
    if x := chart["today_x"]:
        parts.append(f'<line class="burnup-today" x1="{x}" x2="{x}" y1="0" y2="{h}"/>')
    if chart["polyline"]:
        parts.append(f'<polyline class="burnup-actual" points="{chart["polyline"]}"/>')
    r = "4.5" if big else "3"
    for p in chart["points"]:
        tip = escape(f"{p.label} · " + _("confidence %(c)s/10") % {"c": p.confidence})
        parts.append(
            f'<circle class="burnup-point tone-{p.tone}" cx="{p.x}" cy="{p.y}" r="{r}">'
            f"<title>{tip}</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text part is escaped above


# --- Dashboards: bars, heat maps, pace ------------------------------------------------------------


def _pct(fraction: Decimal | None) -> str:
    """``0.4237`` → ``42 %`` (whole percent, half up), as the pages print it."""
    if fraction is None:
        return "—"
    whole = (Decimal(fraction) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return _("%(value)s %%") % {"value": whole}


def bar_chart(
    *,
    bars: list[dict],
    title: str,
    expected: Decimal | None = None,
    width: int = 640,
    label_width: int = 190,
    value_width: int = 56,
    bar_height: int = 18,
    gap: int = 12,
    pad: int = 8,
) -> dict:
    """Horizontal bars of progress, one per item, with the expected-by-today line.

    Each item is ``{"label", "value" (a fraction, None when unknown), "tone", "url",
    "note"}``; values are drawn capped to 0..1. The description lists every bar.
    """
    track = width - label_width - value_width - 2 * pad
    x0 = pad + label_width
    shaped = []
    for i, bar in enumerate(bars):
        value = bar.get("value")
        share = float(scoring.capped(value)) if value is not None else 0.0
        y = pad + i * (bar_height + gap)
        shaped.append(
            {
                **bar,
                "y": y,
                "text_y": round(y + bar_height / 2 + 4, 1),
                "x": x0,
                "width": round(share * track, 1),
                "track": track,
                "height": bar_height,
                "value_x": x0 + track + 8,
                "value_text": _pct(value),
                "empty": value is None,
            }
        )
    height = 2 * pad + len(bars) * (bar_height + gap) - (gap if bars else 0)
    expected_x = None
    if expected is not None:
        expected_x = round(x0 + float(scoring.capped(expected)) * track, 1)
    described = "; ".join(
        f"{b['label']}: {_pct(b.get('value'))}" + (f" ({b['note']})" if b.get("note") else "")
        for b in bars
    )
    if expected is not None:
        described += ". " + _("Expected by today: %(value)s.") % {"value": _pct(expected)}
    return {
        "width": width,
        "height": max(height, 2 * pad),
        "label_x": x0 - 10,
        "x0": x0,
        "track": track,
        "bars": shaped,
        "expected_x": expected_x,
        "title": title,
        "desc": described or _("No bars."),
    }


def rate_tone(rate: Decimal | None) -> str:
    """Colour class of a check-in rate: none, zero, low (< 50 %), mid (< 80 %), high, full."""
    if rate is None:
        return "none"
    if rate >= 1:
        return "full"
    if rate >= Decimal("0.8"):
        return "high"
    if rate >= Decimal("0.5"):
        return "mid"
    return "low" if rate > 0 else "zero"


def heat_map(
    *,
    rows: list[dict],
    columns: list[str],
    title: str,
    cell: int = 26,
    gap: int = 3,
    label_width: int = 190,
    header: int = 34,
    pad: int = 6,
    indent: int = 12,
) -> dict:
    """A grid of rates: one row per item (``{"label", "depth", "values", "future",
    "current_index"}``), one column per week. Weeks still to come are drawn hollow, the week
    still open is outlined; every cell has a title."""
    x0 = pad + label_width
    shaped_rows = []
    for r, row in enumerate(rows):
        y = pad + header + r * (cell + gap)
        cells = []
        future = row.get("future") or [False] * len(columns)
        for c, (column, value) in enumerate(zip(columns, row["values"], strict=True)):
            if future[c]:
                text = _("%(row)s, %(week)s: still to come") % {"row": row["label"], "week": column}
                tone = "future"
            elif value is None:
                text = _("%(row)s, %(week)s: no key results") % {
                    "row": row["label"],
                    "week": column,
                }
                tone = "none"
            else:
                text = _("%(row)s, %(week)s: %(rate)s") % {
                    "row": row["label"],
                    "week": column,
                    "rate": _pct(value),
                }
                tone = rate_tone(value)
            current = c == row.get("current_index")
            if current and tone not in ("future", "none"):
                text = _("%(cell)s (this week, still open)") % {"cell": text}
            cells.append(
                {
                    "x": x0 + c * (cell + gap),
                    "y": y,
                    "tone": tone,
                    "current": current,
                    "title": text,
                    "text": "" if tone in ("future", "none") else _short_pct(value),
                    "text_x": x0 + c * (cell + gap) + cell / 2,
                    "text_y": y + cell / 2 + 3.5,
                }
            )
        shaped_rows.append(
            {
                "label": row["label"],
                "label_x": pad + indent * row.get("depth", 0),
                "label_y": y + cell / 2 + 4,
                "cells": cells,
            }
        )
    shaped_columns = [
        {
            "label": column.split("-W")[-1] if "-W" in column else column,
            "full": column,
            "x": x0 + c * (cell + gap) + cell / 2,
            "y": pad + header - 8,
        }
        for c, column in enumerate(columns)
    ]
    width = x0 + len(columns) * (cell + gap) + pad
    height = pad * 2 + header + len(rows) * (cell + gap)
    described = []
    for row in rows:
        future = row.get("future") or [False] * len(columns)
        parts = [
            f"{column} {_pct(value)}"
            for column, value, later in zip(columns, row["values"], future, strict=True)
            if not later and value is not None
        ]
        described.append(f"{row['label']}: " + (", ".join(parts) or _("no weeks yet")))
    return {
        "width": width,
        "height": height,
        "cell": cell,
        "rows": shaped_rows,
        "columns": shaped_columns,
        "week_label_y": pad + 10,
        "title": title,
        "desc": "; ".join(described) + ".",
    }


def _short_pct(value: Decimal | None) -> str:
    if value is None:
        return ""
    return str((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pace_chart(
    *,
    points: list[tuple[date, Decimal]],
    forecast: Decimal | None,
    start: date,
    end: date,
    today: date,
    title: str,
    width: int = 240,
    height: int = 72,
    pad: int = 6,
) -> dict:
    """An objective's weekly progress, the line the calendar expects (0 → 100 % over the
    cycle) and, dashed, where the trend lands at the end of the cycle."""
    span = max((end - start).days, 1)

    def x_of(day: date) -> float:
        share = min(max((day - start).days / span, 0.0), 1.0)
        return round(pad + share * (width - 2 * pad), 1)

    def y_of(value: Decimal) -> float:
        share = float(scoring.capped(value))
        return round(height - pad - share * (height - 2 * pad), 1)

    dots = [{"x": x_of(day), "y": y_of(value),
             "label": f"{date_format(day, 'DATE_FORMAT')}: {_pct(value)}"}
            for day, value in points]  # fmt: skip
    trend = None
    if forecast is not None and dots:
        trend = {"x1": dots[-1]["x"], "y1": dots[-1]["y"], "x2": x_of(end), "y2": y_of(forecast)}
    described = "; ".join(d["label"] for d in dots) or _("No check-ins yet.")
    if forecast is not None:
        described += ". " + _("At this pace it reaches %(value)s by %(end)s.") % {
            "value": _pct(scoring.capped(forecast)),
            "end": date_format(end, "DATE_FORMAT"),
        }
    return {
        "width": width,
        "height": height,
        "dots": dots,
        "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "expected": {
            "x1": x_of(start),
            "y1": y_of(Decimal(0)),
            "x2": x_of(end),
            "y2": y_of(Decimal(1)),
        },
        "trend": trend,
        "today_x": x_of(today) if start <= today <= end else None,
        "title": _("Pace of “%(title)s”") % {"title": title},
        "desc": described,
    }
