"""Automatic OKR quality checks: what an OKR Master looks for first.

Pure functions over rows already loaded (no queries): callers load an objective's KRs,
its upward links and its owner's objective count in bulk, then call :func:`check_objective`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from cycles import scoring

MIN_KRS, MAX_KRS = 2, 5
MAX_OBJECTIVES_PER_OWNER = 5

# A key result that starts with one of these and has no number reads as a task
# ("Launch the new website") rather than an outcome ("Grow sign-ups from 200 to 500").
TASK_VERBS = (
    "do", "launch", "implement", "build", "create", "write", "develop", "design", "deploy",
    "release", "ship", "set up", "setup", "organise", "organize", "hold", "run", "hire",
    "migrate", "finish", "complete", "start", "make", "prepare", "update", "introduce",
    "完成", "推出", "執行", "建立", "導入", "舉辦", "開發", "設計", "上線",
)  # fmt: skip
_TASK_PATTERN = re.compile(
    r"^\s*(?:" + "|".join(re.escape(v) for v in TASK_VERBS) + r")(?:\b|(?=[^\x00-\x7f]))",
    re.IGNORECASE,
)
_HAS_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    key_result_id: int | None = None


def reads_as_task(title: str) -> bool:
    """True for a KR title that starts like a task and states no number."""
    return bool(_TASK_PATTERN.match(title)) and not _HAS_NUMBER.search(title)


def check_key_result(kr) -> list[Finding]:
    findings = []
    measurable = kr.kind == scoring.Kind.MILESTONE or (
        kr.target_value is not None or (kr.lower_bound is not None and kr.upper_bound is not None)
    )
    if not measurable:
        findings.append(Finding("not_measurable", str(_("Has no numeric target.")), kr.pk))
    if (
        kr.kind != scoring.Kind.MILESTONE
        and not scoring.Direction(kr.direction).is_stay
        and kr.start_value is not None
        and kr.start_value == kr.target_value
    ):
        findings.append(Finding("start_equals_target", str(_("Start equals target.")), kr.pk))
    if reads_as_task(kr.title):
        findings.append(
            Finding(
                "task_like",
                str(
                    _(
                        "“%(title)s” reads like a task, not an outcome: say what will be "
                        "measurably different."
                    )
                    % {"title": kr.title}
                ),
                kr.pk,
            )
        )
    return findings


def check_objective(
    objective, key_results: Sequence, *, has_upward_link: bool, owner_objective_count: int
) -> list[Finding]:
    """Every finding for one objective and its KRs; an empty list means it passes."""
    from cycles.models import Level

    findings = []
    n = len(key_results)
    if not MIN_KRS <= n <= MAX_KRS:
        findings.append(
            Finding("kr_count", str(_("Has %(n)s key results; aim for 2 to 5.") % {"n": n}))
        )
    for kr in key_results:
        findings.extend(check_key_result(kr))
    if objective.level != Level.COMPANY and not has_upward_link:
        findings.append(
            Finding("orphan", str(_("Contributes to no higher objective (an orphan).")))
        )
    if owner_objective_count > MAX_OBJECTIVES_PER_OWNER:
        findings.append(
            Finding(
                "too_many_objectives",
                str(
                    _("Its owner has %(n)s objectives in this cycle; focus on at most 5.")
                    % {"n": owner_objective_count}
                ),
            )
        )
    return findings


def initiatives_done_but_flat(
    initiative_statuses: Iterable[str], progress: Decimal, expected: Decimal
) -> bool:
    """All of a KR's initiatives are done while its progress trails what the date expects."""
    statuses = list(initiative_statuses)
    return (
        bool(statuses)
        and all(s == "done" for s in statuses)
        and scoring.capped(progress) < scoring.capped(expected)
    )


def expected_on(cycle, day: date) -> Decimal:
    return scoring.expected_progress(start=cycle.start_date, end=cycle.end_date, on=day)
