"""The team dashboard: people x key results of a team and its sub-teams, roll-ups, the pace
forecast, filters and sorting, the CSV export, acknowledging from the dashboard and the
blanking of private objectives."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.urls import reverse

from checkins import dashboards
from checkins.models import Acknowledgement
from cycles import scoring
from cycles.models import Cycle, KeyResult, Level
from tests.checkins.dashboard_data import active_cycle, check_in, sub_team, this_week
from tests.cycles.factories import KeyResultFactory, ObjectiveFactory
from tests.factories import MembershipFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def team(acme, alice, bob, carol, engineering):
    """Engineering (bob leads; carol) with Platform below it (dave), in an active cycle.

    Team objectives: "Ship v2" of Engineering with KRs at 20 % (weight 1) and 60 %
    (weight 3): weighted 50 %; "Fast builds" of Platform with one KR at 150 % (capped 100 %).
    carol: a public KR at 80 %; gus (Engineering, alice's report): a private KR at 10 %
    (individual objective, no team) that bob may not read;
    dave: a KR at 10 % (behind) whose latest check-in asks for help. bob's "Beta users" KR
    (20 %) is behind too.
    """
    cycle = active_cycle(acme)
    platform = sub_team(acme, engineering)
    dave = MembershipFactory(
        organization=acme,
        user=UserFactory(email="dave@acme.example", full_name="Dave Wu"),
        manager=bob,
    )
    TeamMembershipFactory(organization=acme, team=platform, membership=dave)
    week = this_week(acme)

    ship = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=bob, level=Level.TEAM, team=engineering,
        title="Ship v2",
    )  # fmt: skip
    ship_a = KeyResultFactory(
        objective=ship, owner=bob, current_value=D(12), weight=D(1), title="Beta users 10 to 20"
    )
    ship_b = KeyResultFactory(
        objective=ship, owner=carol, current_value=D(16), weight=D(3), title="Docs 10 to 20"
    )
    builds = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=dave, level=Level.TEAM, team=platform,
        title="Fast builds",
    )  # fmt: skip
    fast = KeyResultFactory(
        objective=builds, owner=dave, current_value=D(25), title="Build minutes 10 to 20"
    )
    mine = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL,
        title="Grow as a reviewer",
    )  # fmt: skip
    carol_kr = KeyResultFactory(
        objective=mine, owner=carol, current_value=D(18), title="Reviews 10 to 20"
    )
    gus = MembershipFactory(
        organization=acme,
        user=UserFactory(email="gus@acme.example", full_name="Gus Private"),
        manager=alice,
    )
    TeamMembershipFactory(organization=acme, team=engineering, membership=gus)
    secret = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=gus, level=Level.INDIVIDUAL,
        visibility="private", title="Secret career plan",
    )  # fmt: skip
    secret_kr = KeyResultFactory(
        objective=secret, owner=gus, current_value=D(11), title="Secret interviews"
    )
    dave_obj = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=dave, level=Level.INDIVIDUAL, team=platform,
        title="Learn the build system",
    )  # fmt: skip
    dave_kr = KeyResultFactory(
        objective=dave_obj, owner=dave, current_value=D(11), title="Modules learnt 10 to 20"
    )
    ship_checkins = []
    for weeks_ago, a, b in ((2, 11, 12), (1, 11.5, 14), (0, 12, 16)):
        on = week - timedelta(weeks=weeks_ago)
        ship_checkins.append(check_in(acme, ship_a, on, D(str(a))))
        check_in(acme, ship_b, on, D(str(b)), confidence=8 - weeks_ago)
    check_in(acme, carol_kr, week - timedelta(weeks=1), 18, confidence=6)
    check_in(acme, secret_kr, week, 11, confidence=3, need_help=True, note="secret note")
    dave_help = check_in(acme, dave_kr, week, 11, confidence=4, need_help=True)
    check_in(acme, fast, week - timedelta(weeks=3), 22)
    check_in(acme, fast, week, 25)
    return {
        "cycle": cycle,
        "platform": platform,
        "dave": dave,
        "ship": ship,
        "builds": builds,
        "carol_kr": carol_kr,
        "ship_b": ship_b,
        "secret_kr": secret_kr,
        "gus": gus,
        "dave_kr": dave_kr,
        "dave_help": dave_help,
        "ship_checkins": ship_checkins,
    }


def _board(acme, viewer, team_obj, cycle):
    teams = dashboards.load_teams(acme)
    node = dashboards.find_node(dashboards.team_forest(teams), team_obj.pk)
    return dashboards.team_dashboard(acme, viewer, node, cycle)


# --- Figures --------------------------------------------------------------------------------------


def test_team_objective_progress_is_weighted_and_rolls_up_sub_teams(acme, bob, engineering, team):
    board = _board(acme, bob, engineering, team["cycle"])
    top, platform = board.groups
    assert platform.team == team["platform"]
    (ship,) = top.objectives
    assert ship.progress == D("0.5000")  # (0.2 x 1 + 0.6 x 3) / 4
    (builds,) = platform.objectives
    assert builds.progress == D("1.0000")  # 150 % is capped before the mean
    assert platform.rollup_progress == D("1.0000")
    assert top.rollup_progress == D("0.7500")  # Engineering's and Platform's objectives
    # Sub-team people are in the roll-up: dave (Platform) is counted on Engineering's line.
    assert {p.display_name for p in board.people} == {
        "Bob Lin",
        "Carol Tsai",
        "Dave Wu",
        "Gus Private",
    }
    assert [p.display_name for p in platform.people] == ["Dave Wu"]
    assert top.need_help == 1  # dave's; gus's private one is blanked for bob
    assert platform.need_help == 1


def test_rows_carry_status_confidence_trend_and_weeks_missed(acme, bob, engineering, team):
    board = _board(acme, bob, engineering, team["cycle"])
    rows = {row.kr.title: row for row in board.rows if row.kr}
    expected = team["cycle"].expected_progress(team["cycle"].today())
    docs = rows["Docs 10 to 20"]
    assert docs.expected == expected
    assert docs.status == scoring.status(D("0.6"), expected)
    assert (docs.confidence, docs.confidence_change) == (8, 1)
    assert docs.last_checkin.week == this_week(acme)
    reviews = rows["Reviews 10 to 20"]
    assert reviews.last_checkin.week == this_week(acme) - timedelta(weeks=1)
    assert reviews.confidence_change is None  # a first check-in has no trend
    # KRs are created today: only last week counts, and it was checked in.
    assert (reviews.weeks_counted, reviews.weeks_missed) == (1, 0)
    modules = rows["Modules learnt 10 to 20"]
    assert modules.status == scoring.Status.BEHIND
    assert modules.need_help
    assert modules.weeks_missed == 0  # created this week
    builds = rows["Build minutes 10 to 20"]
    assert (builds.weeks_counted, builds.weeks_missed) == (3, 2)  # checked in 3 weeks ago
    assert modules.unacknowledged == 1
    assert modules.acknowledge.id == team["dave_help"].pk  # bob manages dave


def test_progress_history_replays_check_ins_week_by_week():
    """One KR 0 → 10 checked in at 1, 2, 3 in the cycle's first three weeks, and one KR
    never checked in: the objective's weekly progress is their weighted mean."""
    start = date(2026, 1, 5)  # a Monday
    cycle = Cycle(start_date=start, end_date=start + timedelta(days=90))
    moving = KeyResult(pk=1, kind="number", direction="increase", start_value=0, target_value=10)
    idle = KeyResult(pk=2, kind="number", direction="increase", start_value=0, target_value=10)
    facts = {
        1: [
            dashboards.CheckInFact(i, 1, start + timedelta(weeks=i), D(i + 1), 7, False, False)
            for i in range(3)
        ]
    }
    points = dashboards.progress_history(
        [moving], facts, cycle=cycle, today=start + timedelta(days=30)
    )
    # Weeks 1-3 have check-ins; weeks 4 and 5 (up to today) carry the last value forward.
    assert points[:3] == [
        (start + timedelta(days=6), D("0.1000")),
        (start + timedelta(days=13), D("0.2000")),
        (start + timedelta(days=20), D("0.3000")),
    ]
    assert points[3:] == [
        (start + timedelta(days=27), D("0.3000")),
        (start + timedelta(days=30), D("0.3000")),  # this week: dated today
    ]
    moving.weight = idle.weight = D(1)
    both = dashboards.progress_history(
        [moving, idle], facts, cycle=cycle, today=start + timedelta(days=20)
    )
    assert [p for _d, p in both] == [D("0.0500"), D("0.1000"), D("0.1500")]


def test_pace_forecast_extends_the_weekly_trend_to_the_end_of_the_cycle():
    start = date(2026, 1, 5)
    cycle = Cycle(start_date=start, end_date=start + timedelta(days=90))
    points = [(start + timedelta(days=6 + 7 * i), D(i + 1) / 10) for i in range(3)]
    # 0.1 a week from 0.1 on day 6: day 90 lands at 0.1 + 84 / 7 x 0.1 = 1.3 (raw).
    assert dashboards.forecast(points, cycle) == D("1.3000")
    assert dashboards.forecast(points[:1], cycle) is None  # one week: no trend yet


def test_the_dashboard_shows_the_forecast(client, login, acme, bob, engineering, team):
    body = login(bob).get(_url("team_dashboard", acme, team_slug="engineering")).content.decode()
    assert "At this pace:" in body
    assert "pace-chart" in body and "<desc" in body
    assert "missed 2 of 3 weeks" in body


# --- Page, filters, sorting -----------------------------------------------------------------------


def test_every_member_reads_the_dashboard_with_private_objectives_blanked(
    client, login, acme, erin, engineering, team
):
    response = login(erin).get(_url("team_dashboard", acme, team_slug="engineering"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ship v2" in body and "Docs 10 to 20" in body and "Dave Wu" in body
    assert "Private objective" in body
    for secret in ("Secret career plan", "Secret interviews", "secret note"):
        assert secret not in body
    assert 'name="next"' not in body  # erin manages nobody: no acknowledge forms


def test_the_owner_and_admins_read_the_private_row(client, login, acme, alice, team):
    for person in (team["gus"], alice):
        body = login(person).get(_url("team_dashboard", acme, team_slug="engineering"))
        assert "Secret interviews" in body.content.decode()


def test_a_private_objective_is_read_by_its_teams_managers_not_the_owners_manager(
    client, login, acme, alice, bob, carol, engineering, team
):
    """The OKR core issue: private objectives are for their owner, the team's managers and
    admins. Bob manages carol and leads Engineering: he reads her private objective of
    Engineering, not the one without a team; dave reads neither."""
    alone = ObjectiveFactory(
        cycle=team["cycle"], organization=acme, owner=carol, level=Level.INDIVIDUAL,
        visibility="private", title="Carol's private plan",
    )  # fmt: skip
    KeyResultFactory(objective=alone, owner=carol, title="Carol's private KR")
    in_team = ObjectiveFactory(
        cycle=team["cycle"], organization=acme, owner=carol, level=Level.INDIVIDUAL,
        team=engineering,
        visibility="private", title="Carol's team plan",
    )  # fmt: skip
    KeyResultFactory(objective=in_team, owner=carol, title="Carol's team KR")
    page = _url("team_dashboard", acme, team_slug="engineering")
    body = login(bob).get(page).content.decode()
    assert "Carol&#x27;s private" not in body
    assert "Carol&#x27;s team KR" in body
    blank = login(team["dave"]).get(page).content.decode()
    assert "Carol&#x27;s private" not in blank and "Carol&#x27;s team" not in blank
    assert "Carol&#x27;s private KR" in login(alice).get(page).content.decode()


def test_filter_by_status_person_objective_and_need_help(client, login, acme, bob, team):
    client = login(bob)
    url = _url("team_dashboard", acme, team_slug="engineering")

    def rows(**params):
        cache.clear()  # the page is kept per viewer: render it afresh to read its rows
        response = client.get(url, params)
        assert response.status_code == 200
        return response.context["rows"]

    def titles(**params):
        return {row.kr.title if row.kr else f"none:{row.person.pk}" for row in rows(**params)}

    behind = titles(status="behind")
    assert "Modules learnt 10 to 20" in behind
    assert all(row.status == scoring.Status.BEHIND for row in rows(status="behind"))
    assert "Secret interviews" not in titles(status="behind")  # blanked rows match no filter
    assert titles(person=team["dave"].pk) == {"Build minutes 10 to 20", "Modules learnt 10 to 20"}
    assert titles(objective=team["ship"].pk) == {"Beta users 10 to 20", "Docs 10 to 20"}
    assert titles(need_help="1") == {"Modules learnt 10 to 20"}


def test_bad_parameters_are_dropped_with_a_notice(client, login, acme, bob, team):
    client = login(bob)
    url = _url("team_dashboard", acme, team_slug="engineering")
    response = client.get(
        url,
        {"status": "sideways", "person": "abc", "objective": "99999", "sort": "x", "cycle": "q"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "“sideways” is not a status" in body
    assert "That person is not on this team" in body
    assert "That objective has no key results on this team" in body
    assert "is not a way to sort" in body
    assert "There is no such cycle" in body
    assert len(response.context["rows"]) == len(client.get(url).context["rows"])
    assert client.get(url, {"need_help": "maybe"}).status_code == 200


def test_sorting_by_progress(client, login, acme, bob, team):
    rows = (
        login(bob)
        .get(_url("team_dashboard", acme, team_slug="engineering"), {"sort": "progress"})
        .context["rows"]
    )
    # Sorted within each team's section; blanked rows last.
    top = [r for r in rows if r.group.team.slug == "engineering"]
    progress = [r.capped for r in top if r.kr is not None and r.readable]
    assert progress == sorted(progress)
    assert top[-1].kr.title == "Secret interviews" and not top[-1].readable
    highest = (
        login(bob)
        .get(_url("team_dashboard", acme, team_slug="engineering"), {"sort": "-progress"})
        .context["rows"]
    )
    assert highest[0].capped == max(r.capped for r in top if r.readable and r.kr)


@pytest.fixture
def sortable(acme, alice, bob, carol, engineering):
    """Engineering with one key result per person, each first in a different sort:

    ========  ========  ==========  ==========  ==============  ======  =====================
    person    status    progress    confidence  last check-in   missed  objective
    ========  ========  ==========  ==========  ==============  ======  =====================
    Ann       at risk   85 % of exp 6           3 weeks ago     3       individual "Alpha plan"
    Bob Lin   on track  90 %        8, needs    this week       0       team "Zeta team goal"
                                    help
    Carol     behind    10 %        3           last week       2       company "Mid company"
    Yan       (a private key result bob may not read: last in every sort but by person)
    Zed       behind    0 %         —           never           0       team "Alpha team goal"
    ========  ========  ==========  ==========  ==============  ======  =====================
    """
    cycle = active_cycle(acme)
    week = this_week(acme)
    expected = scoring.capped(cycle.expected_progress(cycle.today()))

    def person(name, manager):
        member = MembershipFactory(
            organization=acme,
            user=UserFactory(email=f"{name.lower()}@acme.example", full_name=name),
            manager=manager,
        )
        TeamMembershipFactory(organization=acme, team=engineering, membership=member)
        return member

    ann, yan, zed = person("Ann", bob), person("Yan", alice), person("Zed", bob)

    def key_result(owner, level, title, progress, checkins=(), **extra):
        objective = ObjectiveFactory(
            cycle=cycle, organization=acme, owner=owner, level=level, title=title,
            team=engineering if level == Level.TEAM else None, **extra,
        )  # fmt: skip
        kr = KeyResultFactory(
            objective=objective, owner=owner, title=f"KR of {owner.user.full_name}",
            current_value=D(10) + D(10) * progress,
        )  # fmt: skip
        for weeks_ago, confidence, need_help in checkins:
            check_in(acme, kr, week - timedelta(weeks=weeks_ago), 11, confidence=confidence,
                     need_help=need_help)  # fmt: skip
        return kr

    key_result(ann, Level.INDIVIDUAL, "Alpha plan", expected * D("0.85"), [(5, 7, 0), (3, 6, 0)])
    key_result(bob, Level.TEAM, "Zeta team goal", D("0.9"), [(1, 9, 0), (0, 8, 1)])
    key_result(carol, Level.COMPANY, "Mid company goal", D("0.1"), [(4, 4, 0), (1, 3, 0)])
    key_result(yan, Level.INDIVIDUAL, "Yan's secret", D("0.5"), [(0, 2, 1)], visibility="private")
    key_result(zed, Level.TEAM, "Alpha team goal", D(0))
    return cycle


SORTED = {
    "person": ["Ann", "Bob Lin", "Carol Tsai", "Yan", "Zed"],
    "progress": ["Zed", "Carol Tsai", "Ann", "Bob Lin", "Yan"],
    "-progress": ["Bob Lin", "Ann", "Carol Tsai", "Zed", "Yan"],
    "status": ["Carol Tsai", "Zed", "Ann", "Bob Lin", "Yan"],
    "confidence": ["Carol Tsai", "Ann", "Bob Lin", "Zed", "Yan"],
    "checkin": ["Zed", "Ann", "Carol Tsai", "Bob Lin", "Yan"],
    "missed": ["Ann", "Carol Tsai", "Bob Lin", "Zed", "Yan"],
    "objective": ["Carol Tsai", "Zed", "Bob Lin", "Ann", "Yan"],
    "need_help": ["Bob Lin", "Ann", "Carol Tsai", "Zed", "Yan"],
}


@pytest.mark.parametrize("collapsed", [False, True], ids=["rows", "summary"])
def test_each_sort_orders_the_key_results_and_the_people(
    client, login, acme, bob, sortable, collapsed, monkeypatch
):
    """The order each sort promises (blanked rows last), as the page lists the key results
    and, on a dashboard too long for that, the people (counted in SQL)."""
    assert set(SORTED) == set(dashboards.SORTS)
    if collapsed:
        monkeypatch.setattr(dashboards, "EXPANDED_ROWS", 1)
    client = login(bob)
    url = _url("team_dashboard", acme, team_slug="engineering")
    for sort, names in SORTED.items():
        response = client.get(url, {"sort": sort})
        assert response.status_code == 200
        assert f'<option value="{sort}" selected>' in response.content.decode()
        if collapsed:
            assert response.context["rows"] is None
            lines = response.context["board"].top.shown_people
            assert [line.person.display_name for line in lines] == names, sort
        else:
            rows = response.context["rows"]
            assert [row.person.display_name for row in rows] == names, sort


def test_htmx_gets_only_the_table(client, login, acme, bob, team):
    response = login(bob).get(
        _url("team_dashboard", acme, team_slug="engineering"),
        {"status": "behind"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'id="dashboard-table"' in body
    assert "<html" not in body and "dash-filters" not in body
    assert "Modules learnt 10 to 20" in body
    assert "HX-Request" in response["Vary"]  # going back must not show the cached table


def test_a_large_dashboard_lists_one_line_per_person(
    client, login, acme, bob, carol, team, monkeypatch
):
    """Beyond ``EXPANDED_ROWS`` lines each person is one collapsed summary; their key results
    load when it is opened (htmx) or through the link to the dashboard filtered to them."""
    monkeypatch.setattr(dashboards, "EXPANDED_ROWS", 2)
    url = _url("team_dashboard", acme, team_slug="engineering")
    client = login(bob)
    body = client.get(url).content.decode()
    assert "Docs 10 to 20" not in body and "Reviews 10 to 20" not in body
    carol_line = body.split(f'id="dash-person-{carol.pk}"')[1].split("</li>")[0]
    assert "2 key results" in carol_line
    assert f'href="{url}?person={carol.pk}"' in carol_line
    assert f'hx-get="{url}?person={carol.pk}&amp;part=person"' in carol_line
    dave_line = body.split(f'id="dash-person-{team["dave"].pk}"')[1].split("</li>")[0]
    assert "worst: Behind" in dave_line and "1 needs help" in dave_line
    # gus's key result is private: his line says it is there, nothing about it.
    gus_line = body.split(f'id="dash-person-{team["gus"].pk}"')[1].split("</li>")[0]
    assert "1 key result" in gus_line and "needs help" not in gus_line and "worst" not in gus_line

    # Opened with htmx: that person's key results alone.
    opened = client.get(url, {"person": carol.pk, "part": "person"}, HTTP_HX_REQUEST="true")
    rows = opened.content.decode()
    assert opened.status_code == 200 and "<html" not in rows
    assert "Docs 10 to 20" in rows and "Reviews 10 to 20" in rows
    assert "Modules learnt 10 to 20" not in rows
    # Without JavaScript: the page filtered to them, their key results listed.
    page = client.get(url, {"person": carol.pk}).content.decode()
    assert "Docs 10 to 20" in page and "Reviews 10 to 20" in page and "dash-filters" in page
    # A filter with few matches lists the key results themselves.
    behind = client.get(url, {"status": "behind", "need_help": "1"}).content.decode()
    assert "Modules learnt 10 to 20" in behind and "Docs 10 to 20" not in behind


def _form_of(body, ack_url):
    """The acknowledge form posting to ``ack_url``: its hx-target and its ``next``."""
    form = body.split(f'action="{ack_url}"')[1].split("</form>")[0]
    target = form.split('hx-target="')[1].split('"')[0]
    nxt = form.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    return target, nxt


def test_acknowledging_in_an_opened_person_keeps_the_large_dashboard(
    client, login, acme, bob, team, monkeypatch
):
    """On the collapsed dashboard an opened person's Acknowledge swaps that person's rows
    alone (and their line's figures), never the whole table for one person's while the
    filter form still says "Everyone"; without JavaScript it lands on the page filtered to
    that person, the form saying so."""
    monkeypatch.setattr(dashboards, "EXPANDED_ROWS", 2)
    dave = team["dave"]
    url = _url("team_dashboard", acme, team_slug="engineering")
    client = login(bob)
    page = client.get(url).content.decode()
    line = page.split(f'id="dash-person-{dave.pk}"')[1].split("</li>")[0]
    assert f'id="dash-person-figures-{dave.pk}"' in line
    assert "3 check-ins not acknowledged" in line

    opened = client.get(url, {"person": dave.pk, "part": "person"}, HTTP_HX_REQUEST="true")
    rows = opened.content.decode()
    assert f'id="dash-person-rows-{dave.pk}"' in rows
    ack_url = _url("checkin_acknowledge", acme, checkin_id=team["dave_help"].pk)
    target, nxt = _form_of(rows, ack_url)
    assert target == f"#dash-person-rows-{dave.pk}"
    assert nxt == f"{url}?person={dave.pk}&part=person"

    answer = client.post(ack_url, {"next": nxt}, HTTP_HX_REQUEST="true", follow=True)
    body = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in body
    assert 'id="dashboard-table"' not in body  # the table (and its other people) stay
    assert f'id="dash-person-rows-{dave.pk}"' in body and "Acknowledged." in body
    assert "Modules learnt 10 to 20" in body and "Docs 10 to 20" not in body
    # The person's line says what is left to acknowledge (out of band).
    figures = body.split(f'id="dash-person-figures-{dave.pk}" hx-swap-oob="true"')[1]
    assert "2 check-ins not acknowledged" in figures
    assert Acknowledgement.objects.for_org(acme).filter(checkin=team["dave_help"]).exists()
    # The flash was said in the rows: it does not greet the next page.
    assert "Acknowledged." not in client.get(url).content.decode()

    # Without JavaScript the same address is the page filtered to dave, the form saying so.
    fast = team["builds"].key_results.get()
    fast_ack = _url("checkin_acknowledge", acme, checkin_id=fast.checkins.latest("week").pk)
    landed = client.post(fast_ack, {"next": nxt}, follow=True)
    page = landed.content.decode()
    assert "dash-filters" in page and "Acknowledged." in page
    assert f'<option value="{dave.pk}" selected>' in page
    assert "Build minutes 10 to 20" in page and "Docs 10 to 20" not in page


def test_sub_team_groups_roll_up_and_people_drill_down(client, login, acme, bob, team):
    """Each team of the tree is a group (<details>, open) whose head rolls up its teams
    below (Engineering counts Platform's key results) and links to its own dashboard; each
    person's name opens their OKRs in the cycle."""
    client = login(bob)
    cycle, dave = team["cycle"], team["dave"]
    body = client.get(_url("team_dashboard", acme, team_slug="engineering")).content.decode()
    table = body.split('id="dashboard-table"')[1]
    groups = table.split('<details class="dash-group card ')[1:]
    assert [g.split('"')[0] for g in groups] == ["depth-0", "depth-1"]
    engineering, platform = (g.split("</summary>")[0] for g in groups)
    assert "open>" in groups[0][:20] and "open>" in groups[1][:20]

    def head(summary):
        return " ".join(summary.split('<span class="muted small">')[1].split())

    # Engineering's own people (bob, carol, gus), its and Platform's key results: bob's and
    # dave's are behind, dave's asks for help (gus's private one counts in nothing).
    assert ">Engineering</span>" in engineering and "dash-group-link" not in engineering
    assert head(engineering).startswith("3 people")
    assert "2 behind" in head(engineering) and "1 asks for help" in head(engineering)
    assert ">Platform</span>" in platform
    assert head(platform).startswith("1 person")
    assert "1 behind" in head(platform) and "1 asks for help" in head(platform)
    platform_url = _url("team_dashboard", acme, team_slug="platform")
    assert f'class="small dash-group-link" href="{platform_url}"' in platform
    assert "Open Platform" in platform
    # Platform's rows sit in its group, not in Engineering's.
    assert "Modules learnt 10 to 20" in groups[1] and "Modules learnt" not in groups[0]

    person_url = _url("person_okrs", acme, membership_id=dave.pk) + f"?cycle={cycle.pk}"
    row = groups[1].split(f'id="dash-row-{team["dave_kr"].pk}"')[1].split("</tr>")[0]
    assert f'<a href="{person_url}">Dave Wu</a>' in row
    page = client.get(person_url)
    assert page.status_code == 200 and "Modules learnt 10 to 20" in page.content.decode()


def test_sub_team_dashboard_and_the_people_page_moved(client, login, acme, bob, engineering, team):
    client = login(bob)
    body = client.get(_url("team_dashboard", acme, team_slug="platform")).content.decode()
    assert "Fast builds" in body and "Dave Wu" in body and "Carol Tsai" not in body
    people = client.get(_url("team_detail", acme, team_slug="engineering"))
    assert people.status_code == 200
    assert _url("team_detail", acme, team_slug="engineering").endswith("/teams/engineering/people/")
    assert engineering.get_absolute_url() == "/acme/teams/engineering/"
    assert client.get("/acme/teams/nope/").status_code == 404


def test_a_team_without_a_cycle(client, login, acme, bob, engineering):
    response = login(bob).get(_url("team_dashboard", acme, team_slug="engineering"))
    assert response.status_code == 200
    assert "No cycle yet" in response.content.decode()


# --- Acknowledging --------------------------------------------------------------------------------


def test_acknowledge_from_the_dashboard_comes_back_to_it(client, login, acme, bob, team):
    client = login(bob)
    url = _url("team_dashboard", acme, team_slug="engineering") + "?status=behind"
    page = client.get(url).content.decode()
    ack_url = _url("checkin_acknowledge", acme, checkin_id=team["dave_help"].pk)
    assert f'action="{ack_url}"' in page
    response = client.post(ack_url, {"next": url})
    assert response.status_code == 302 and response.url == url
    assert Acknowledgement.objects.for_org(acme).filter(checkin=team["dave_help"]).exists()
    row = next(r for r in client.get(url).context["rows"] if r.kr == team["dave_kr"])
    assert row.unacknowledged == 0 and row.acknowledge is None


def test_acknowledge_with_htmx_answers_with_the_table(client, login, acme, bob, team):
    client = login(bob)
    url = _url("team_dashboard", acme, team_slug="engineering")
    ack_url = _url("checkin_acknowledge", acme, checkin_id=team["dave_help"].pk)
    response = client.post(ack_url, {"next": url}, HTTP_HX_REQUEST="true", follow=True)
    body = response.content.decode()
    assert 'id="dashboard-table"' in body and "Acknowledged." in body
    assert "<html" not in body


# --- CSV ------------------------------------------------------------------------------------------


def _csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_exports_the_filtered_view(client, login, acme, bob, team):
    client = login(bob)
    url = _url("team_dashboard_csv", acme, team_slug="engineering")
    header, *lines = _csv(client.get(url))
    assert header[:5] == ["Team", "Person", "Objective", "Key result", "Progress %"]
    by_kr = {line[3]: dict(zip(header, line, strict=True)) for line in lines}
    docs = by_kr["Docs 10 to 20"]
    assert docs["Team"] == "Engineering" and docs["Person"] == "Carol Tsai"
    assert docs["Objective"] == "Ship v2"
    assert (docs["Progress %"], docs["Confidence"], docs["Confidence change"]) == ("60.0", "8", "1")
    assert by_kr["Build minutes 10 to 20"]["Raw progress %"] == "150.0"
    assert by_kr["Build minutes 10 to 20"]["Progress %"] == "100.0"
    assert by_kr["Modules learnt 10 to 20"]["Needs help"] == "yes"
    assert by_kr["Modules learnt 10 to 20"]["Team"] == "Platform"
    # Private: the place is kept, the content is not.
    blank = by_kr["Private key result"]
    assert blank["Objective"] == "Private objective" and blank["Progress %"] == ""
    assert "Secret" not in client.get(url).content.decode()

    _header, *behind = _csv(client.get(url, {"status": "behind"}))
    assert {line[3] for line in behind} == {"Beta users 10 to 20", "Modules learnt 10 to 20"}


def test_csv_cells_cannot_start_a_formula(client, login, acme, bob, team):
    kr = team["carol_kr"]
    kr.title = "=HYPERLINK(1)"
    kr.save(update_fields=["title"])
    _header, *lines = _csv(
        login(bob).get(_url("team_dashboard_csv", acme, team_slug="engineering"))
    )
    assert "'=HYPERLINK(1)" in [line[3] for line in lines]
