"""Automatic quality checks an OKR Master relies on."""

from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from cycles.quality import check_objective, initiatives_done_but_flat, reads_as_task


@dataclass
class KR:
    title: str
    kind: str = "number"
    direction: str = "increase"
    start_value: D | None = D(0)
    target_value: D | None = D(10)
    lower_bound: D | None = None
    upper_bound: D | None = None
    pk: int = 1


@dataclass
class Obj:
    level: int = 2


@pytest.mark.parametrize(
    "title,task",
    [
        ("Launch the new website", True),
        ("Implement SSO", True),
        ("do customer interviews", True),
        ("Set up the CI pipeline", True),
        ("Launch 3 pilot sites", False),  # states a number
        ("Grow weekly active workshops from 40 to 90", False),
        ("Downtime below 2 hours a month", False),
        ("Launchpad sign-ups from 10 to 40", False),
        ("完成新網站", True),
        ("Doubled revenue", False),
    ],
)
def test_task_like_titles(title, task):
    assert reads_as_task(title) is task


def codes(findings):
    return sorted({f.code for f in findings})


def test_a_good_objective_passes():
    krs = [KR("Grow NPS from 20 to 50"), KR("Cut churn from 8 % to 4 %", pk=2)]
    assert check_objective(Obj(), krs, has_upward_link=True, owner_objective_count=3) == []


def test_every_check_flags_its_problem():
    krs = [KR("Launch the app", start_value=D(5), target_value=D(5))]
    findings = check_objective(Obj(), krs, has_upward_link=False, owner_objective_count=6)
    assert codes(findings) == [
        "kr_count",
        "orphan",
        "start_equals_target",
        "task_like",
        "too_many_objectives",
    ]
    assert next(f for f in findings if f.code == "task_like").key_result_id == 1


def test_too_many_key_results_and_unmeasurable_ones():
    krs = [KR(f"Metric {i} up to 10", pk=i) for i in range(6)]
    krs[0].target_value = None
    assert codes(
        check_objective(Obj(level=1), krs, has_upward_link=False, owner_objective_count=1)
    ) == ["kr_count", "not_measurable"]


def test_company_objectives_are_never_orphans_and_milestones_are_measurable():
    krs = [KR("CE certificate", kind="milestone", target_value=None), KR("Revenue 1 to 2 M")]
    assert check_objective(Obj(level=1), krs, has_upward_link=False, owner_objective_count=1) == []


def test_initiatives_done_but_key_result_flat():
    assert initiatives_done_but_flat(["done", "done"], D("0.2"), D("0.5"))
    assert not initiatives_done_but_flat(["done", "in_progress"], D("0.2"), D("0.5"))
    assert not initiatives_done_but_flat(["done"], D("0.6"), D("0.5"))
    assert not initiatives_done_but_flat([], D("0"), D("0.5"))
