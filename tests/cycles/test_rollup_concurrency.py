"""Check-ins on many objectives under one parent at once: the parent's aligned progress
counts every one of them (none written from another's old figures), and no two writers wait
for each other in a circle, whatever level they check in at. Threads with their own
connections, as in ``test_concurrency`` (PostgreSQL only, for the same reason)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection

from checkins import services as checkin_services
from cycles import services
from cycles.models import Level, Objective
from tests.cycles.test_aligned_progress import expected_figures, figures_of
from tests.cycles.test_concurrency import _split, in_parallel
from tests.factories import TeamFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the in-memory SQLite test database refuses a second "
        "writer at once instead of queueing it",
    ),
]


@pytest.fixture
def cycle(acme, alice):
    cycle = services.cycle_create(
        org=acme, by=alice, name="2026 Q4", start_date=date(2026, 1, 1), end_date=date(2030, 12, 31)
    )
    for state in ("planning", "active"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


def _objective(org, by, cycle, title, level, **extra):
    if level == Level.COMPANY:
        extra.setdefault("mission_link", "a helpful robot")
    return services.objective_create(
        org=org, by=by, cycle=cycle, title=title, level=level, owner=by, **extra
    )


def _kr(org, by, objective):
    return services.key_result_create(
        org=org,
        by=by,
        objective=objective,
        owner=by,
        title=f"{objective.title}: from 0 to 100",
        start_value=D(0),
        target_value=D(100),
    )


def _check_in(acme, alice, kr, value):
    return checkin_services.checkin_record(
        org=acme, by=alice, key_result=kr, value=D(value), confidence=7
    )


def test_check_ins_on_the_children_of_one_parent_at_once_all_count(acme, alice, cycle):
    team = TeamFactory(organization=acme)
    company = _objective(acme, alice, cycle, "Company", Level.COMPANY)
    parent = _objective(acme, alice, cycle, "Team", Level.TEAM, team=team, aligned_to=[company])
    children = [
        _objective(acme, alice, cycle, f"Child {i}", Level.INDIVIDUAL, aligned_to=[parent])
        for i in range(12)
    ]
    krs = [_kr(acme, alice, child) for child in children]

    for round_ in range(3):
        wins, losses = _split(
            in_parallel(lambda i, r=round_: _check_in(acme, alice, krs[i], 10 * r + i), n=len(krs))
        )
        assert len(wins) == len(krs), [repr(e) for _, e in losses][:3]
        stored = Objective.objects.for_org(acme).get(pk=parent.pk)
        mean = sum(D(10 * round_ + i) / 100 for i in range(len(krs))) / len(krs)
        assert stored.aligned_progress == mean.quantize(D("0.0001"))
        assert stored.aligned_count == len(krs)
        assert figures_of(acme) == expected_figures(acme)


def test_check_ins_at_every_level_of_a_chain_at_once_neither_wait_in_a_circle(acme, alice, cycle):
    """company ← team objective ← sub-team objective ← individual objectives, the team
    objective made first (the lower id): check-ins on the sub-team objective and on the
    objectives under it at once. Locking the rows above in order of id would have the
    individual check-ins hold the team objective while waiting for the sub-team one, which
    a check-in on the sub-team objective holds while waiting for the team one."""
    upper = TeamFactory(organization=acme)
    lower = TeamFactory(organization=acme, parent=upper)
    company = _objective(acme, alice, cycle, "Company", Level.COMPANY)
    team = _objective(acme, alice, cycle, "Team", Level.TEAM, team=upper, aligned_to=[company])
    sub_team = _objective(acme, alice, cycle, "Sub-team", Level.TEAM, team=lower, aligned_to=[team])
    assert team.pk < sub_team.pk
    individual = [
        _objective(acme, alice, cycle, f"Person {i}", Level.INDIVIDUAL, aligned_to=[sub_team])
        for i in range(6)
    ]
    # Two key results on each of the upper objectives: writers on each level at once.
    krs = [_kr(acme, alice, o) for o in (sub_team, sub_team, team, team)]
    krs += [_kr(acme, alice, o) for o in individual]

    for round_ in range(3):
        wins, losses = _split(
            in_parallel(
                lambda i, r=round_: _check_in(acme, alice, krs[i], 7 * r + 3 * i), n=len(krs)
            )
        )
        assert len(wins) == len(krs), [repr(e) for _, e in losses][:3]
        assert figures_of(acme) == expected_figures(acme)


def test_check_ins_while_an_objective_moves_between_parents(acme, alice, cycle):
    """An objective is moved from one team objective to another while the objectives under
    it check in: both parents (and the company objective) end with the right figures."""
    first_team, second_team = TeamFactory(organization=acme), TeamFactory(organization=acme)
    company = _objective(acme, alice, cycle, "Company", Level.COMPANY)
    first = _objective(
        acme, alice, cycle, "First", Level.TEAM, team=first_team, aligned_to=[company]
    )
    second = _objective(acme, alice, cycle, "Second", Level.TEAM, team=second_team)
    moving = [
        _objective(acme, alice, cycle, f"Moving {i}", Level.INDIVIDUAL, aligned_to=[first])
        for i in range(4)
    ]
    krs = [_kr(acme, alice, o) for o in moving]

    def work(i):
        if i < len(krs):
            return _check_in(acme, alice, krs[i], 20 + i)
        return services.objective_update(
            org=acme,
            by=alice,
            objective=moving[i - len(krs)],
            expected_version=None,
            aligned_to=[second],
        )

    wins, losses = _split(in_parallel(work, n=2 * len(krs)))
    assert len(wins) == 2 * len(krs), [repr(e) for _, e in losses][:3]
    assert figures_of(acme) == expected_figures(acme)
    stored = Objective.objects.for_org(acme).get(pk=second.pk)
    assert stored.aligned_count == len(krs)
