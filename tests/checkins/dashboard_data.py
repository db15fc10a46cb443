"""Data for the dashboard tests: an active cycle around today (the suite runs on the real
clock), Engineering (the conftest team: bob leads, carol is on it) with a sub-team, and a
way to grow the team by any number of people for the query-count tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from checkins import services as cadence
from checkins.models import CheckIn, Kudos
from cycles.models import Level
from tests.cycles.factories import CycleFactory, KeyResultFactory, ObjectiveFactory
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory

WEEKS_BEFORE = 5  # the cycle started five weeks before this one


def this_week(org) -> date:
    return cadence.current_week(org)


def active_cycle(org, **extra):
    """An active 13-week cycle whose sixth week is this one."""
    start = this_week(org) - timedelta(weeks=WEEKS_BEFORE)
    return CycleFactory(
        organization=org,
        name=extra.pop("name", "This quarter"),
        state="active",
        start_date=start,
        end_date=start + timedelta(days=90),
        **extra,
    )


def check_in(org, kr, week: date, value, *, confidence=7, need_help=False, note=""):
    return CheckIn.objects.create(
        organization=org,
        key_result=kr,
        week=week,
        value=D(value),
        confidence=confidence,
        need_help=need_help,
        note=note,
        recorded_by=kr.owner,
        owner=kr.owner,
    )


def grow(org, cycle, team, viewer, count: int, *, start: int = 0, sub_team=None) -> list:
    """``count`` more people on ``team`` (every other one on ``sub_team``), each with an
    individual objective (every fourth private) of two key results checked in over the last
    two weeks, a team objective per team, and kudos. Returns the new people."""
    week = this_week(org)
    people = []
    for i in range(start, start + count):
        on = sub_team if sub_team is not None and i % 2 else team
        person = MembershipFactory(organization=org, manager=viewer if i % 3 else None)
        TeamMembershipFactory(organization=org, team=on, membership=person)
        objective = ObjectiveFactory(
            cycle=cycle,
            organization=org,
            owner=person,
            level=Level.INDIVIDUAL,
            team=on if i % 2 else None,
            visibility="private" if i % 4 == 0 else "public",
        )
        for n, current in enumerate(("12", "19")):
            kr = KeyResultFactory(
                objective=objective,
                owner=person,
                current_value=D(current),
                weight=D(1 + n),
                title=f"KR {i}.{n} of person {i}",
            )
            check_in(org, kr, week - timedelta(weeks=1), D(current) - 1, confidence=6)
            if i % 5:
                check_in(org, kr, week, current, confidence=5 + n, need_help=bool(n == 1 and i % 2))
        if i:
            Kudos.objects.create(
                organization=org, giver=viewer, receiver=person, message=f"Thanks {i}"
            )
        people.append(person)
    return people


def sub_team(org, parent, name="Platform"):
    return TeamFactory(organization=org, name=name, slug=name.lower(), parent=parent)
