"""Server-rendered SVG charts: geometry computed here, drawn by templates.

No chart library and no JavaScript: each chart is a dict of plain numbers that a template
turns into ``<svg>`` with a ``<title>`` and ``<desc>`` so it prints and reads aloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from cycles import scoring


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


def _fmt(value: Decimal) -> str:
    normal = value.normalize()
    return f"{normal:f}" if normal == normal.to_integral() else f"{normal:f}".rstrip("0")


def burnup(
    *,
    kr,
    cycle,
    checkins: list,
    width: int = 320,
    height: int = 120,
    pad: int = 8,
    today: date | None = None,
) -> dict:
    """Geometry of a KR's burn-up: actual values by week against the expected line.

    ``checkins`` are the KR's check-ins (any order). Increase/decrease KRs get the line
    from start to target over the cycle; "stay" KRs their bound(s); milestones 0 → 1.
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
            label=f"{c.week_label}: {_fmt(c.value)}{kr.unit and ' ' + kr.unit}",
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
            "start": _fmt(start_v),
            "target": _fmt(target_v),
            "from": start.isoformat(),
            "to": end.isoformat(),
        }
    elif band is not None:
        goal = _("Should stay between %(lower)s and %(upper)s.") % {
            "lower": _fmt(kr.lower_bound),
            "upper": _fmt(kr.upper_bound),
        }
    else:
        goal = _("Should stay at %(kind)s %(bound)s.") % {
            "kind": _("least") if direction is scoring.Direction.STAY_AT_LEAST else _("most"),
            "bound": _fmt(kr.target_value),
        }
    return {
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
