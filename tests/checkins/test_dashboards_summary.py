"""The collapsed team dashboard counts its people in SQL (``team_dashboard(rows=False)`` and
``summarise``): the same lines, figures, order and roll-ups as the person x key result rows
worked out in Python (``load_rows``, ``apply_filters``, ``person_lines``), on varied data."""

from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_UP
from decimal import Decimal as D
from itertools import product

import pytest
from django.urls import reverse
from django.utils import timezone

from checkins import dashboards
from checkins.models import Acknowledgement
from cycles import scoring
from cycles.models import KeyResult, Level
from tests.checkins.dashboard_data import active_cycle, check_in, sub_team, this_week
from tests.cycles.factories import KeyResultFactory, ObjectiveFactory
from tests.factories import MembershipFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SHAPES = [
    {"kind": "number", "direction": "increase", "start_value": D(0), "target_value": D(8)},
    {"kind": "percent", "direction": "decrease", "start_value": D(90), "target_value": D(30)},
    {"kind": "milestone", "direction": "increase", "start_value": D(0), "target_value": D(1)},
    {"kind": "number", "direction": "stay_at_least", "target_value": D(5)},
    {"kind": "number", "direction": "stay_at_most", "target_value": D(5)},
    {
        "kind": "number",
        "direction": "stay_between",
        "lower_bound": D(3),
        "upper_bound": D(6),
        "target_value": D(6),
    },
]
VALUES = [D(-5), D(0), D(1), D(2), D(3), D("4.5"), D(5), D(6), D(7), D(95), None]


def _member(org, name, *, manager=None, team=None):
    email = f"{name.lower()}@acme.example"
    person = MembershipFactory(
        organization=org, user=UserFactory(email=email, full_name=name), manager=manager
    )
    if team is not None:
        TeamMembershipFactory(organization=org, team=team, membership=person)
    return person


@pytest.fixture
def varied(acme, alice, bob, carol, engineering):
    """Engineering (bob leads; carol, gus who reports to alice, hank without key results)
    and Platform (dave and ivy, bob's reports), every kind and direction of key result at
    values inside, outside and on the edges, private objectives (an individual one of
    bob's report, one of alice's report, a team one), calls for help now and in the past,
    check-ins acknowledged or not, inside and outside the acknowledgement window, over six
    weeks, key results created in different weeks, and key results the dashboard must not
    count (an archived objective, a team key result owned by someone off the team)."""
    cycle = active_cycle(acme)
    platform = sub_team(acme, engineering)
    gus = _member(acme, "Gus", manager=alice, team=engineering)
    _member(acme, "Hank", manager=bob, team=engineering)
    dave = _member(acme, "Dave", manager=bob, team=platform)
    ivy = _member(acme, "Ivy", manager=bob, team=platform)
    outsider = _member(acme, "Olga", manager=alice)
    week = this_week(acme)
    objectives = [
        ObjectiveFactory(cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL),
        ObjectiveFactory(
            cycle=cycle,
            organization=acme,
            owner=dave,
            level=Level.INDIVIDUAL,
            visibility="private",
        ),
        ObjectiveFactory(
            cycle=cycle, organization=acme, owner=gus, level=Level.INDIVIDUAL, visibility="private"
        ),
        ObjectiveFactory(
            cycle=cycle,
            organization=acme,
            owner=bob,
            level=Level.TEAM,
            team=platform,
            visibility="private",
        ),
        ObjectiveFactory(
            cycle=cycle, organization=acme, owner=bob, level=Level.TEAM, team=engineering
        ),
    ]
    owners = [carol, dave, gus, ivy, bob]
    krs = []
    n = 0
    for shape, value in product(SHAPES, VALUES):
        objective = objectives[n % len(objectives)]
        owner = owners[(n // 2) % len(owners)]
        kr = KeyResultFactory(
            objective=objective,
            owner=owner,
            current_value=value,
            title=f"KR {n:02d}",
            position=n,
            **shape,
        )
        krs.append(kr)
        # Created 0 to 6 weeks ago; checked in on some of the last six weeks.
        KeyResult.objects.for_org(acme).filter(pk=kr.pk).update(
            created_at=timezone.now() - timedelta(weeks=n % 7, hours=n)
        )
        for weeks_ago in range(6):
            if (n + weeks_ago) % 3 == 0 or n % 9 == 4:  # a few are never checked in
                continue
            on = week - timedelta(weeks=weeks_ago)
            made = check_in(
                acme,
                kr,
                on,
                value if value is not None else D(0),
                confidence=1 + (n + weeks_ago) % 10,
                need_help=(n + weeks_ago) % 4 == 0,
            )
            if (n * weeks_ago) % 5 == 1:
                Acknowledgement.objects.create(organization=acme, checkin=made, by=bob)
        n += 1
    # Progress just over and just under the thresholds of today's status.
    expected = scoring.capped(cycle.expected_progress(cycle.today()))
    for i, (ratio, rounding) in enumerate(
        product((scoring.ON_TRACK_RATIO, scoring.AT_RISK_RATIO), (ROUND_UP, ROUND_DOWN))
    ):
        edge = (ratio * expected).quantize(D("0.0001"), rounding=rounding)
        KeyResult.objects.for_org(acme).filter(pk=krs[i].pk).update(progress=edge)
    archived = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL, status="archived"
    )
    KeyResultFactory(objective=archived, owner=carol, title="Archived KR")
    KeyResultFactory(objective=objectives[-1], owner=outsider, title="Off the team")
    return {"cycle": cycle, "objectives": objectives, "people": [carol, dave, gus, ivy, bob]}


def _python_board(acme, viewer, team, cycle):
    teams = dashboards.load_teams(acme)
    node = dashboards.find_node(dashboards.team_forest(teams), team.pk)
    return dashboards.team_dashboard(acme, viewer, node, cycle)


def _sql_board(acme, viewer, team, cycle, sort):
    teams = dashboards.load_teams(acme)
    node = dashboards.find_node(dashboards.team_forest(teams), team.pk)
    return dashboards.team_dashboard(acme, viewer, node, cycle, rows=False, sort=sort)


def _lines(board):
    return [
        [
            (line.person.pk, line.key_results, line.worst, line.need_help, line.unacknowledged)
            for line in group.shown_people
        ]
        for group in board.groups
    ]


def _rollups(board):
    return [(g.counts, g.need_help, g.unacknowledged, g.rollup_people) for g in board.groups]


@pytest.mark.parametrize("who", ["bob", "carol", "alice"])
def test_the_sql_summary_agrees_with_the_python_rows(request, acme, engineering, varied, who):
    viewer = request.getfixturevalue(who)
    cycle = varied["cycle"]
    python = _python_board(acme, viewer, engineering, cycle)
    boards = {
        sort: _sql_board(acme, viewer, engineering, cycle, sort) for sort in ("person", "missed")
    }
    sql = boards["person"]
    assert sql.rows == [] and not sql.rows_loaded  # nothing materialised
    assert _rollups(sql) == _rollups(python)
    assert [o.pk for o in sql.objective_choices] == [o.pk for o in python.objective_choices]
    # The data covers what it should: every status, calls for help, waiting check-ins,
    # private rows (for all but the admin) and a person without key results.
    top = python.top
    assert all(top.counts.values()) and top.need_help and top.unacknowledged
    assert any(r.kr and not r.readable for r in python.rows) == (who != "alice")
    assert any(r.kr is None for r in python.rows)

    objective = varied["objectives"][0].pk
    person = varied["people"][1].pk
    checked = 0
    for status, need_help, objective_id, person_id, sort in product(
        ("", "on_track", "at_risk", "behind"),
        (False, True),
        (None, objective),
        (None, person),
        list(dashboards.SORTS),
    ):
        filters = dashboards.Filters(
            status=status, need_help=need_help, objective=objective_id, person=person_id, sort=sort
        )
        rows = dashboards.apply_filters(python, filters)
        board = boards["missed" if sort == "missed" else "person"]
        count = dashboards.summarise(board, filters)
        assert count == len(rows), filters
        assert _lines(board) == _lines(python), filters
        checked += bool(rows)
    assert checked > 80  # many combinations show something


def test_the_collapsed_page_reads_no_key_result_row(client, login, acme, bob, engineering, varied):
    """Above ``EXPANDED_ROWS`` lines the page shows the SQL summary (one line per person,
    no key result title), a filter leaving few lines lists the rows themselves."""
    client = login(bob)
    url = reverse("team_dashboard", kwargs={"org_slug": acme.slug, "team_slug": engineering.slug})
    body = client.get(url).content.decode()
    python = _python_board(acme, bob, engineering, varied["cycle"])
    assert len(python.rows) > dashboards.EXPANDED_ROWS
    assert f"{len(python.rows)} lines shown" in body
    assert "KR 01" not in body and 'class="dash-people"' in body
    dave = varied["people"][1]
    line = body.split(f'id="dash-person-{dave.pk}"')[1].split("</li>")[0]
    dave_rows = [r for r in python.rows if r.person.pk == dave.pk]
    assert f"{len(dave_rows)} key results" in line
    few = client.get(url, {"person": dave.pk, "status": "behind"}).content.decode()
    shown = [r for r in dave_rows if r.status == scoring.Status.BEHIND]
    assert shown and all(r.kr.title in few for r in shown)
    assert 'class="dash-people"' not in few
