"""Progress, status and scoring math of DESIGN.md ("Scoring rules").

Pure functions on ``Decimal`` values: no Django, no database, no floats. Models, views,
services, tasks and dashboards call these so that every page, API response and report
computes the same figures the same way.

Conventions used throughout:

* Numbers are ``Decimal`` (``int`` and numeric ``str`` are accepted and converted exactly).
  ``float`` is refused with ``TypeError``: it cannot represent most decimal values, and a
  silent binary rounding error in a KR value would show up as a wrong percentage.
  NaN and infinities are refused with ``ValueError``.
* Progress is a fraction (``Decimal("0.4")`` is 40 %). Every progress figure returned here
  is quantized to :data:`PLACES` (4 decimal places, i.e. 0.01 %) with ``ROUND_HALF_UP``;
  intermediate arithmetic runs in a wide local context so that the only rounding is that
  final one.
* Raw progress may lie outside 0..1 (over-achievement, or a move the wrong way); it is what
  is stored. :func:`capped` clamps it to 0..1 for display, objective roll-up, status and
  the suggested score.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

__all__ = [
    "AT_RISK_RATIO",
    "ON_TRACK_RATIO",
    "PLACES",
    "SCORE_PLACES",
    "Direction",
    "Kind",
    "ScoreBand",
    "Status",
    "aligned_progress",
    "capped",
    "contributors",
    "expected_progress",
    "expected_score",
    "met_expectation",
    "objective_progress",
    "pace_forecast",
    "plain",
    "raw_progress",
    "score_band",
    "status",
    "suggested_score",
]

#: Quantum of every progress figure: 4 decimal places (0.01 %), ROUND_HALF_UP.
PLACES = Decimal("0.0001")
#: Quantum of end-of-quarter scores: one decimal place (0.0 … 1.0), ROUND_HALF_UP.
SCORE_PLACES = Decimal("0.1")
#: Capped progress at or above this share of expected progress is "on track".
ON_TRACK_RATIO = Decimal("0.95")
#: Capped progress at or above this share (and below on-track) is "at risk".
AT_RISK_RATIO = Decimal("0.75")

_ZERO = Decimal(0)
_ONE = Decimal(1)
# Wide enough that sums, products and quotients of KR values (28-digit DB decimals at
# most) are exact or correctly rounded far below PLACES before the final quantize.
_PRECISION = 60


class Kind(enum.StrEnum):
    """What a key result measures. Only ``MILESTONE`` changes the progress formula."""

    NUMBER = "number"
    PERCENT = "percent"
    CURRENCY = "currency"
    MILESTONE = "milestone"


class Direction(enum.StrEnum):
    """Which way a key result is meant to move (or where it must stay)."""

    INCREASE = "increase"
    DECREASE = "decrease"
    STAY_AT_LEAST = "stay_at_least"
    STAY_AT_MOST = "stay_at_most"
    STAY_BETWEEN = "stay_between"

    @property
    def is_stay(self) -> bool:
        """True for the three "stay" directions, which are met or not (1 or 0)."""
        return self in (Direction.STAY_AT_LEAST, Direction.STAY_AT_MOST, Direction.STAY_BETWEEN)


class Status(enum.StrEnum):
    """Progress compared with where the cycle's calendar says it should be."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"


class ScoreBand(enum.StrEnum):
    """Colour band of an end-of-quarter score."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


# --- helpers ----------------------------------------------------------------------------------


def _dec(value: Decimal | int | str, name: str) -> Decimal:
    """``value`` as a finite Decimal; floats, bools and non-numbers are refused."""
    if isinstance(value, bool | float):
        raise TypeError(f"{name} must be a Decimal (or int/str), not {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"{name} is not a number: {value!r}") from None
    else:
        raise TypeError(f"{name} must be a Decimal (or int/str), not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return result


def _required(value: Decimal | int | str | None, name: str, why: str) -> Decimal:
    if value is None:
        raise ValueError(f"{name} is required {why}")
    return _dec(value, name)


def _q(value: Decimal) -> Decimal:
    """Quantize a progress figure to PLACES, ROUND_HALF_UP (in a wide context)."""
    with localcontext(prec=_PRECISION):
        return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def _flag(condition: bool) -> Decimal:
    return _q(_ONE if condition else _ZERO)


def _plain_date(value: date, name: str) -> date:
    if isinstance(value, datetime):
        raise TypeError(
            f"{name} must be a date, not a datetime: convert it to the organisation's "
            "local date first"
        )
    if not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
    return value


def _cycle_bounds(start: date, end: date) -> tuple[date, date]:
    start = _plain_date(start, "start")
    end = _plain_date(end, "end")
    if end < start:
        raise ValueError(f"a cycle cannot end ({end}) before it starts ({start})")
    return start, end


def plain(value: Decimal) -> str:
    """A stored decimal as people write it: ``Decimal("30.0000")`` → ``"30"``,
    ``Decimal("100")`` → ``"100"`` (never ``1E+2``), ``Decimal("0.50")`` → ``"0.5"``."""
    return f"{value.normalize():f}"


# --- key result progress ----------------------------------------------------------------------


def raw_progress(
    *,
    kind: Kind | str,
    direction: Direction | str,
    start: Decimal | int | str | None,
    target: Decimal | int | str | None,
    current: Decimal | int | str | None,
    lower: Decimal | int | str | None = None,
    upper: Decimal | int | str | None = None,
) -> Decimal:
    """Raw (uncapped) progress of one key result, quantized to 4 places (ROUND_HALF_UP).

    * ``Kind.MILESTONE`` (any direction): 1 when done, else 0. ``current`` is read as a
      0/1 flag: ``current >= 1`` is done. ``start``/``target`` are not used (target is 1).
    * ``INCREASE`` / ``DECREASE``: ``(current - start) / (target - start)``. The formula is
      the same for both; the direction states the intent (whether ``target`` lies above or
      below ``start`` is for the KR form / quality check to enforce). The result is *raw*:
      above 1 when over-achieved, negative when the value moved away from the target.
      ``start == target`` is refused with ``ValueError`` (progress would be undefined).
    * ``STAY_AT_LEAST`` X (``target`` is X): 1 if ``current >= X`` else 0.
    * ``STAY_AT_MOST`` X (``target`` is X): 1 if ``current <= X`` else 0.
    * ``STAY_BETWEEN`` A and B (``lower`` = A, ``upper`` = B, both inclusive): 1 inside,
      0 outside. ``lower > upper`` is refused.

    ``current is None`` means there is no check-in yet: progress is 0 for every kind and
    direction (a "stay" KR that has not been measured is not yet known to be inside).
    The KR definition is still validated in that case.
    """
    kind = Kind(kind)
    direction = Direction(direction)

    if kind is Kind.MILESTONE:
        if current is None:
            return _flag(False)
        return _flag(_dec(current, "current") >= _ONE)

    if direction in (Direction.INCREASE, Direction.DECREASE):
        why = f"for a {direction.value} key result"
        start_d = _required(start, "start", why)
        target_d = _required(target, "target", why)
        if start_d == target_d:
            raise ValueError(
                f"start and target are both {start_d}: progress of a {direction.value} "
                "key result needs a target different from its start"
            )
        if current is None:
            return _flag(False)
        current_d = _dec(current, "current")
        with localcontext(prec=_PRECISION):
            return _q((current_d - start_d) / (target_d - start_d))

    if direction is Direction.STAY_BETWEEN:
        why = "for a stay-between key result"
        lower_d = _required(lower, "lower", why)
        upper_d = _required(upper, "upper", why)
        if lower_d > upper_d:
            raise ValueError(f"lower bound {lower_d} is above upper bound {upper_d}")
        if current is None:
            return _flag(False)
        current_d = _dec(current, "current")
        return _flag(lower_d <= current_d <= upper_d)

    # STAY_AT_LEAST / STAY_AT_MOST: the bound is the target.
    bound = _required(target, "target", f"for a {direction.value} key result")
    if current is None:
        return _flag(False)
    current_d = _dec(current, "current")
    if direction is Direction.STAY_AT_LEAST:
        return _flag(current_d >= bound)
    return _flag(current_d <= bound)


def capped(progress: Decimal | int | str) -> Decimal:
    """``progress`` clamped to 0..1 (quantized to 4 places) — the figure shown to people."""
    value = _dec(progress, "progress")
    return _q(min(max(value, _ZERO), _ONE))


def objective_progress(
    items: Iterable[tuple[Decimal | None, Decimal | int | str | None] | Decimal | None],
) -> Decimal | None:
    """Weighted mean of the objective's key results' *capped* progress (4 places).

    Each item is ``(progress, weight)``; a bare ``progress`` or a ``weight`` of ``None``
    means weight 1. A ``progress`` of ``None`` (KR without a check-in) counts as 0, as in
    :func:`raw_progress`. Weights must be > 0 (``ValueError`` otherwise).

    The mean is taken over *capped* progress on purpose: a KR at 300 % must not hide a KR
    that has not moved, so an objective is at 100 % only when every KR is.

    Returns ``None`` for an objective without key results (no progress to speak of,
    which is different from 0 %).
    """
    total_weight = _ZERO
    weighted_sum = _ZERO
    seen = False
    with localcontext(prec=_PRECISION):
        for item in items:
            if isinstance(item, tuple):
                if len(item) != 2:
                    raise ValueError(f"expected (progress, weight), got {item!r}")
                progress, weight = item
            else:
                progress, weight = item, None
            weight_d = _ONE if weight is None else _dec(weight, "weight")
            if weight_d <= 0:
                raise ValueError(f"a key result's weight must be greater than 0, not {weight_d}")
            progress_d = _ZERO if progress is None else capped(progress)
            weighted_sum += progress_d * weight_d
            total_weight += weight_d
            seen = True
        if not seen:
            return None
        return _q(weighted_sum / total_weight)


# --- alignment roll-up ------------------------------------------------------------------------


def contributors(objective_id: int, links: Iterable[tuple[int, int]]) -> frozenset[int]:
    """Every objective that contributes to ``objective_id``, directly or through others.

    ``links`` are the alignment links as ``(child, parent)`` pairs ("child contributes to
    parent"). The result is every objective reached downward from ``objective_id``, each
    once however many paths lead to it (an individual objective aligned to two team
    objectives of one company objective counts once for the company objective), and never
    ``objective_id`` itself (the services refuse loops; one in the data is cut where it
    closes).
    """
    below: dict[int, list[int]] = {}
    for child, parent in links:
        below.setdefault(parent, []).append(child)
    seen: set[int] = set()
    stack = [objective_id]
    while stack:
        for child in below.get(stack.pop(), ()):
            if child not in seen and child != objective_id:
                seen.add(child)
                stack.append(child)
    return frozenset(seen)


def aligned_progress(
    objective_id: int,
    links: Iterable[tuple[int, int]],
    progress: Mapping[int, Decimal | int | str | None],
    archived: Collection[int] = frozenset(),
) -> Decimal | None:
    """Mean progress of the objectives aligned to ``objective_id``, at every level below it.

    A figure of its own beside the objective's progress (which stays the weighted mean of
    its *own* key results, :func:`objective_progress`): how the objectives that contribute
    to it are doing. It is the plain mean of the stored progress of each of its
    :func:`contributors` (each counted once; ``links`` as there) that is

    * not archived (``archived`` holds their ids; what lies below an archived objective
      still counts, through it), and
    * has progress: ``progress`` maps an objective's id to its stored progress; ``None``
      or no entry (an objective without key results: no progress to speak of) is left out
      rather than counted as 0, as SQL's ``AVG`` leaves out NULL.

    Quantized to 4 places (ROUND_HALF_UP). ``None`` when nothing is counted: nothing
    aligns to the objective, or only archived objectives and ones without key results do.
    Each figure is an objective's progress, a mean of capped key result progress, so it
    lies in 0..1 and so does the result. The services keep ``Objective.aligned_progress``
    equal to this with one SQL statement (``cycles.services.objective_rollup_ancestors``).
    """
    figures = []
    for contributor in contributors(objective_id, links):
        value = progress.get(contributor)
        if value is not None and contributor not in archived:
            figures.append(_dec(value, "progress"))
    if not figures:
        return None
    with localcontext(prec=_PRECISION):
        return _q(sum(figures, _ZERO) / len(figures))


# --- calendar ---------------------------------------------------------------------------------


def expected_progress(*, start: date, end: date, on: date) -> Decimal:
    """Elapsed share of the cycle ``start``..``end`` (both inclusive) on day ``on``.

    Day ``on`` counts as elapsed (progress is expected by the end of that day), so::

        (on - start + 1 day) / (end - start + 1 day)     clamped to 0..1

    i.e. 0 before ``start``, ``1/length`` on the first day, 1 on the last day and after.
    A one-day cycle is 0 before and 1 on/after that day. Quantized to 4 places.

    Arguments are plain ``date``s — pass the organisation's *local* date; a ``datetime``
    is refused (``TypeError``) so that no caller silently uses the server's UTC date.
    ``end < start`` is refused (``ValueError``).
    """
    start, end = _cycle_bounds(start, end)
    on = _plain_date(on, "on")
    if on < start:
        return _q(_ZERO)
    if on >= end:
        return _q(_ONE)
    elapsed = (on - start).days + 1
    length = (end - start).days + 1
    with localcontext(prec=_PRECISION):
        return _q(Decimal(elapsed) / Decimal(length))


def status(progress: Decimal | int | str, expected: Decimal | int | str) -> Status:
    """On track / at risk / behind, comparing *capped* progress with expected progress.

    * on track: ``capped(progress) >= 0.95 * expected``
    * at risk:  ``capped(progress) >= 0.75 * expected``
    * behind:   below that.

    Both thresholds are inclusive and compared exactly (no rounding of the ratio).
    ``expected`` is clamped to 0..1; when it is 0 (cycle not started) everything is on track.
    """
    progress_d = capped(progress)
    expected_d = capped(expected)
    if expected_d == 0:
        return Status.ON_TRACK
    with localcontext(prec=_PRECISION):
        if progress_d >= ON_TRACK_RATIO * expected_d:
            return Status.ON_TRACK
        if progress_d >= AT_RISK_RATIO * expected_d:
            return Status.AT_RISK
    return Status.BEHIND


def progress_status(
    progress: Decimal | int | str | None, expected: Decimal | int | str
) -> Status | None:
    """:func:`status` of an objective or key result, None while it has no progress (an
    objective without key results). The calendar alone decides, whatever state the cycle
    is in: before it starts nothing is expected (0), so anything is on track. The pages and
    the API both ask this."""
    return None if progress is None else status(progress, expected)


# --- end-of-quarter scoring -------------------------------------------------------------------


def _score(score: Decimal | int | str) -> Decimal:
    """A score rounded to one decimal (ROUND_HALF_UP); must lie in 0..1."""
    value = _dec(score, "score")
    if not _ZERO <= value <= _ONE:
        raise ValueError(f"a score lies between 0.0 and 1.0, not {value}")
    with localcontext(prec=_PRECISION):
        return value.quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def suggested_score(progress: Decimal | int | str) -> Decimal:
    """Suggested end-of-quarter score: capped progress rounded to one decimal (HALF_UP).

    ``0.45`` → ``0.5``, ``0.44`` → ``0.4``, ``1.3`` → ``1.0``, ``-0.2`` → ``0.0``.
    """
    return _score(capped(progress))


def score_band(score: Decimal | int | str) -> ScoreBand:
    """Colour band of a score: 0.0-0.3 red, 0.4-0.6 yellow, 0.7-1.0 green.

    The band is that of the score rounded to one decimal (ROUND_HALF_UP), so the gaps
    between bands close at the half-way points: below 0.35 is red, 0.35 up to (not
    including) 0.65 is yellow, 0.65 and above is green. Scores outside 0..1 are refused.
    """
    rounded = _score(score)
    if rounded <= Decimal("0.3"):
        return ScoreBand.RED
    if rounded <= Decimal("0.6"):
        return ScoreBand.YELLOW
    return ScoreBand.GREEN


def expected_score(committed: bool) -> Decimal:
    """Score an OKR is expected to reach: 1.0 when committed, 0.7 when aspirational."""
    return Decimal("1.0") if committed else Decimal("0.7")


def met_expectation(score: Decimal | int | str, committed: bool) -> bool:
    """Whether ``score`` (rounded to one decimal, as for bands) reaches :func:`expected_score`.

    So an aspirational OKR meets expectation exactly when its score is in the green band.
    """
    return _score(score) >= expected_score(committed)


# --- forecasting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Point:
    x: Decimal  # days since the cycle's start
    y: Decimal  # progress


def pace_forecast(
    points: Iterable[tuple[date, Decimal | int | str]],
    *,
    start: date,
    end: date,
) -> Decimal | None:
    """Progress projected to the cycle's ``end`` by a least-squares line through ``points``.

    ``points`` are ``(date, progress)`` pairs (typically each check-in's raw progress).
    Dates are measured in days from ``start``; the ordinary least-squares line of progress
    over those days is evaluated at ``end``. Every point counts (several on one date are
    all fitted); no implicit "0 at start" point is added — include one if wanted.

    Returns the *raw* projection (may be below 0 or above 1; apply :func:`capped` for
    display), quantized to 4 places, or ``None`` when the points span fewer than two
    distinct dates (no trend can be drawn). ``end < start`` is refused.
    """
    start, end = _cycle_bounds(start, end)
    parsed: list[_Point] = []
    for item in points:
        day, progress = item
        day = _plain_date(day, "point date")
        parsed.append(_Point(Decimal((day - start).days), _dec(progress, "progress")))
    if len({p.x for p in parsed}) < 2:
        return None
    with localcontext(prec=_PRECISION):
        n = Decimal(len(parsed))
        mean_x = sum((p.x for p in parsed), _ZERO) / n
        mean_y = sum((p.y for p in parsed), _ZERO) / n
        sxx = sum(((p.x - mean_x) ** 2 for p in parsed), _ZERO)
        sxy = sum(((p.x - mean_x) * (p.y - mean_y) for p in parsed), _ZERO)
        slope = sxy / sxx
        x_end = Decimal((end - start).days)
        return _q(mean_y + slope * (x_end - mean_x))
