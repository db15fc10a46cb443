"""Fiscal quarters from an organisation's fiscal-year start month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Quarter:
    name: str
    start: date
    end: date


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def fiscal_year_of(day: date, start_month: int) -> int:
    """The fiscal year ``day`` falls in, named by the calendar year it starts in."""
    return day.year if day.month >= start_month else day.year - 1


def fiscal_quarters(fiscal_year: int, start_month: int) -> list[Quarter]:
    """Q1 to Q4 of the fiscal year that starts on the 1st of ``start_month`` in ``fiscal_year``.

    A calendar fiscal year (January) names quarters "2027 Q1"; any other is named by the
    year it starts in: "FY2026 Q1" runs from April 2026 when the year starts in April.
    """
    if not 1 <= start_month <= 12:
        raise ValueError("start_month must be 1..12")
    label = str(fiscal_year) if start_month == 1 else f"FY{fiscal_year}"
    quarters = []
    for q in range(4):
        y, m = _add_months(fiscal_year, start_month, 3 * q)
        ny, nm = _add_months(fiscal_year, start_month, 3 * q + 3)
        quarters.append(
            Quarter(
                name=_("%(year)s Q%(n)s") % {"year": label, "n": q + 1},
                start=date(y, m, 1),
                end=date(ny, nm, 1) - timedelta(days=1),
            )
        )
    return quarters


def quarter_containing(day: date, start_month: int) -> Quarter:
    for quarter in fiscal_quarters(fiscal_year_of(day, start_month), start_month):
        if quarter.start <= day <= quarter.end:
            return quarter
    raise AssertionError("unreachable: a fiscal year's quarters cover every day")
