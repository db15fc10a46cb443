"""The company view, the alignment tree and the path to the mission, cadence health, and
private objectives blanked on each of them (and in the API's list of objectives)."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from checkins import dashboards
from checkins.dashboards.company import _weekly_rates
from checkins.models import ClaimStatus, Kudos, NotificationClaim, week_label
from checkins.selectors import weeks_of
from cycles.models import CyclePilotTeam, Level
from tests.checkins.dashboard_data import active_cycle, check_in, sub_team, this_week
from tests.cycles.factories import KeyResultFactory, ObjectiveFactory
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db


def _url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def company(acme, alice, bob, carol, engineering):
    """Two company objectives (one private), Engineering's team objective aligned to the
    public one, carol's individual objective aligned to the team's; this week's and last
    week's check-ins move two KRs, one newly asking for help."""
    cycle = active_cycle(acme)
    week = this_week(acme)
    grow_revenue = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY, title="Grow revenue",
        mission_link="Robots that pay for themselves",
    )  # fmt: skip
    board_secret = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY,
        visibility="private", title="Board-only acquisition",
    )  # fmt: skip
    secret_kr = KeyResultFactory(
        objective=board_secret, owner=alice, current_value=D(20), title="Acquire a rival"
    )
    ship = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=bob, level=Level.TEAM, team=engineering,
        title="Ship v2", aligned_to=[grow_revenue],
    )  # fmt: skip
    KeyResultFactory(objective=grow_revenue, owner=alice, current_value=D(14), title="Revenue")
    beta = KeyResultFactory(objective=ship, owner=bob, current_value=D(16), title="Beta users")
    mine = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL,
        title="Write the v2 docs", aligned_to=[ship],
    )  # fmt: skip
    docs = KeyResultFactory(objective=mine, owner=carol, current_value=D(13), title="Docs pages")
    check_in(acme, beta, week - timedelta(weeks=1), 12)
    check_in(acme, beta, week, 16)  # +40 points
    check_in(acme, docs, week - timedelta(weeks=1), 12)
    check_in(acme, docs, week, 13, need_help=True, note="Need a reviewer")  # +10 points
    check_in(acme, secret_kr, week - timedelta(weeks=1), 10)
    check_in(acme, secret_kr, week, 20, need_help=True)  # +100 points, private
    Kudos.objects.create(organization=acme, giver=bob, receiver=carol, message="Great docs!")
    return {
        "cycle": cycle,
        "grow_revenue": grow_revenue,
        "secret": board_secret,
        "ship": ship,
        "mine": mine,
    }


# --- Company view ---------------------------------------------------------------------------------


def test_company_view_for_staff(client, login, acme, carol, company):
    response = login(carol).get(_url("org_home", acme))
    assert response.status_code == 200
    body = response.content.decode()
    assert acme.mission in body and acme.vision in body
    assert "Grow revenue" in body
    assert "Private objective" in body
    assert "Board-only acquisition" not in body and "Acquire a rival" not in body
    view = response.context["view"]
    # Biggest movers: between last week's and this week's check-ins, private ones left out.
    assert [(m.kr.title, m.change) for m in view.movers] == [
        ("Beta users", D("0.4000")),
        ("Docs pages", D("0.1000")),
    ]
    assert [c.key_result.title for c in view.new_need_help] == ["Docs pages"]
    # The check-in rate of the week: 3 of 4 KRs this week, 3 of 4 last week.
    assert (view.rate.checked, view.rate.total) == (3, 4)
    assert (view.rate_last_week.checked, view.rate_last_week.total) == (3, 4)
    assert [k.message for k in view.kudos] == ["Great docs!"]
    # Each team's objectives as bars: an SVG with a title and a description.
    assert 'class="bar-chart"' in body and "<desc" in body
    assert "Engineering: 60 %" in response.context["bar_chart"]["desc"]
    assert "Get Acme Robotics ready" not in body  # the checklist is the admins'


def test_movers_compare_with_each_key_results_value_before_this_week(acme, alice):
    """A mover is a key result checked in this week, against its latest value before it:
    the check-in of last week, or of any week before (a week skipped), or its start value
    when this is its first check-in. Not checked in this week, or not moved: no mover."""
    cycle = active_cycle(acme)
    week = this_week(acme)
    objective = ObjectiveFactory(cycle=cycle, organization=acme, owner=alice)

    def kr(title, *checkins, **shape):
        made = KeyResultFactory(objective=objective, owner=alice, title=title, **shape)
        for weeks_ago, value in checkins:
            check_in(acme, made, week - timedelta(weeks=weeks_ago), value)
        return made

    kr("Skipped a week", (3, 11), (2, 12), (0, 16))  # 12 two weeks ago → 16: +40 points
    kr("First check-in", (0, 13))  # start 10 → 13: +30 points
    kr("Every week", (3, 19), (1, 14), (0, 15))  # last week's 14 → 15: +10 points
    kr("Inside at last", (0, 7), direction="stay_at_least", start_value=None, target_value=5)
    kr("Last week only", (1, 18))
    kr("Unmoved", (2, 12), (0, 12))
    kr("Fell back", (1, 15), (0, 11))  # 15 → 11: -40 points

    movers = dashboards.company_view(acme, alice, cycle, [], week).movers
    assert [(m.kr.title, m.before, m.after, m.change, m.since) for m in movers] == [
        ("Inside at last", D(0), D(1), D(1), None),
        ("Fell back", D("0.5"), D("0.1"), D("-0.4"), week - timedelta(weeks=1)),
        ("Skipped a week", D("0.2"), D("0.6"), D("0.4"), week - timedelta(weeks=2)),
        ("First check-in", D(0), D("0.3"), D("0.3"), None),
        ("Every week", D("0.4"), D("0.5"), D("0.1"), week - timedelta(weeks=1)),
    ]


def test_the_company_view_says_what_each_mover_is_compared_with(
    client, login, acme, carol, company
):
    week = this_week(acme)
    docs = company["mine"].key_results.get()
    docs.checkins.filter(week=week - timedelta(weeks=1)).update(week=week - timedelta(weeks=2))
    beta = company["ship"].key_results.get()
    beta.checkins.filter(week__lt=week).delete()
    body = login(carol).get(_url("org_home", acme)).content.decode()
    changes = body.split('id="changes-title"')[1]
    assert "key result\u2019s value before it" in changes
    beta_line = changes.split("Beta users")[1].split("</li>")[0]
    assert "60 %" in beta_line and "from its start" in beta_line  # 10 → 16: first check-in
    docs_line = changes.split("Docs pages")[1].split("</li>")[0]
    assert f"since {week_label(week - timedelta(weeks=2))}" in docs_line


def test_the_weekly_rates_count_each_key_result_once_per_week(acme, alice):
    """This week's and last week's rates from one join: a key result checked in both weeks
    counts once in each; older weeks and archived objectives count in neither."""
    cycle = active_cycle(acme)
    week = this_week(acme)
    live = ObjectiveFactory(cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY)
    old = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY, status="archived"
    )
    both, now_only, earlier_only, _never_checked = (
        KeyResultFactory(objective=live, owner=alice) for _ in range(4)
    )
    archived = KeyResultFactory(objective=old, owner=alice)
    for kr in (both, archived):
        check_in(acme, kr, week, 5)
        check_in(acme, kr, week - timedelta(weeks=1), 4)
    check_in(acme, now_only, week, 5)
    check_in(acme, earlier_only, week - timedelta(weeks=2), 3)
    now, before = _weekly_rates(acme, cycle, week)
    assert (now.checked, now.total) == (2, 4)
    assert (before.checked, before.total) == (1, 4)


def test_a_new_call_for_help_is_one_not_asked_the_week_before(acme, carol, company):
    week = this_week(acme)
    docs = company["mine"].key_results.get()
    docs.checkins.filter(week=week - timedelta(weeks=1)).update(need_help=True)
    view = dashboards.company_view(acme, carol, company["cycle"], [], week)
    assert view.new_need_help == []


def test_admins_see_the_private_objective_and_the_setup_checklist(
    client, login, acme, alice, company
):
    acme.mission = ""
    acme.save(update_fields=["mission"])
    body = login(alice).get(_url("org_home", acme)).content.decode()
    assert "Board-only acquisition" in body
    assert "ready for its first cycle" in body
    assert "State the mission and vision" in body


def test_company_view_without_an_active_cycle(client, login, acme, carol, alice):
    body = login(carol).get(_url("org_home", acme)).content.decode()
    assert "No cycle is running" in body
    assert _url("cycle_list", acme) in body
    assert login(alice).get(_url("org_home", acme), {"cycle": "nope"}).status_code == 200


# --- Alignment ------------------------------------------------------------------------------------


def test_alignment_tree_blanks_private_objectives_and_shows_progress_everywhere(
    client, login, acme, carol, company
):
    body = login(carol).get(_url("alignment_tree", acme, cycle_id=company["cycle"].pk))
    text = body.content.decode()
    assert "Private objective" in text and "Board-only acquisition" not in text
    assert text.count('class="progress ') >= 4  # mission and each readable objective
    collapsed = login(carol).get(
        _url("alignment_tree", acme, cycle_id=company["cycle"].pk), {"collapsed": "1"}
    )
    assert '<details class="okr-branch">' in collapsed.content.decode()


def test_alignment_tree_highlights_orphans(client, login, acme, bob, carol, company):
    """A team objective aligned to nothing is listed under "Not aligned" with the "Orphan"
    badge; the aligned ones stay in the tree, unflagged."""
    orphan = ObjectiveFactory(
        cycle=company["cycle"], organization=acme, owner=bob, level=Level.TEAM,
        team=company["ship"].team, title="Refactor the build",
    )  # fmt: skip
    text = login(carol).get(_url("alignment_tree", acme, cycle_id=company["cycle"].pk))
    text = text.content.decode()
    tree, not_aligned = text.split('id="orphans-title"')
    assert "Not aligned</h2>" in not_aligned
    node = not_aligned.split(f'id="okr-{orphan.pk}"')[1].split("</li>")[0]
    assert "is-orphan" in node and ">Orphan</span>" in node and "Refactor the build" in node
    assert "Refactor the build" not in tree
    assert "1 objective contributes to nothing above it." in tree
    for aligned in (company["ship"], company["mine"]):
        branch = tree.split(f'id="okr-{aligned.pk}"')[1].split("okr-node-title")[0]
        assert "is-orphan" not in branch and "Orphan" not in branch
        assert f'id="okr-{aligned.pk}"' not in not_aligned


def test_path_to_the_mission(client, login, acme, carol, company):
    url = _url("objective_path", acme, objective_id=company["mine"].pk)
    response = login(carol).get(url)
    assert response.status_code == 200
    (route,) = response.context["routes"]
    assert [o.title for o in route["objectives"]] == [
        "Grow revenue",
        "Ship v2",
        "Write the v2 docs",
    ]
    assert route["reaches_company"]
    body = response.content.decode()
    assert acme.mission in body and "Robots that pay for themselves" in body
    detail = login(carol).get(_url("objective_detail", acme, objective_id=company["mine"].pk))
    assert url in detail.content.decode()


def test_path_blanks_a_private_ancestor_and_flags_a_broken_chain(
    client, login, acme, bob, carol, erin, company
):
    private_team = ObjectiveFactory(
        cycle=company["cycle"], organization=acme, owner=bob, level=Level.TEAM,
        team=company["ship"].team, visibility="private", title="Hidden team plan",
    )  # fmt: skip
    erins = ObjectiveFactory(
        cycle=company["cycle"], organization=acme, owner=erin, level=Level.INDIVIDUAL,
        title="Erin's quality push", aligned_to=[private_team],
    )  # fmt: skip
    response = login(erin).get(_url("objective_path", acme, objective_id=erins.pk))
    body = response.content.decode()
    assert "Hidden team plan" not in body and "Private objective" in body
    assert "Not connected" in body  # the private team objective aligns to nothing
    assert not response.context["connected"]
    # A private objective's own path is not revealed.
    other = login(carol).get(_url("objective_path", acme, objective_id=private_team.pk))
    assert other.status_code == 404


def test_the_api_lists_private_objectives_blanked(acme, carol, company):
    from rest_framework.test import APIClient

    from okrapp import services

    _token, secret = services.api_token_create(org=acme, by=carol, name="dashboards")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.get(f"/api/v1/{acme.slug}/objectives/", {"cycle": company["cycle"].pk})
    assert response.status_code == 200
    items = response.json()
    items = items["results"] if isinstance(items, dict) else items
    blanked = next(i for i in items if i["id"] == company["secret"].pk)
    assert blanked.get("private") is True
    assert "title" not in blanked
    assert "Board-only acquisition" not in response.content.decode()


# --- Cadence health -------------------------------------------------------------------------------


@pytest.fixture
def cadence(acme, alice, bob, carol, engineering):
    """A pilot cycle: Engineering (pilot) and Platform below it; Sales not in the pilot.
    Engineering checks in every week so far; Sales' frank never checks in."""
    cycle = active_cycle(acme, is_pilot=True)
    CyclePilotTeam.objects.create(organization=acme, cycle=cycle, team=engineering)
    platform = sub_team(acme, engineering)
    sales = TeamFactory(organization=acme, name="Sales", slug="sales")
    frank = MembershipFactory(organization=acme, user__full_name="Frank Never")
    TeamMembershipFactory(organization=acme, team=sales, membership=frank)
    dave = MembershipFactory(organization=acme, user__full_name="Dave Sometimes")
    TeamMembershipFactory(organization=acme, team=platform, membership=dave)
    weeks = weeks_of(cycle)
    now = this_week(acme)
    objective = ObjectiveFactory(cycle=cycle, organization=acme, owner=carol)
    carol_kr = KeyResultFactory(objective=objective, owner=carol)
    dave_kr = KeyResultFactory(
        objective=ObjectiveFactory(cycle=cycle, organization=acme, owner=dave)
    )
    KeyResultFactory(objective=ObjectiveFactory(cycle=cycle, organization=acme, owner=frank))
    for week in weeks:
        if week <= now - timedelta(weeks=1):
            check_in(acme, carol_kr, week, 15)
        if week == now - timedelta(weeks=1):
            check_in(acme, dave_kr, week, 15)
    return {"cycle": cycle, "weeks": weeks, "frank": frank, "sales": sales, "platform": platform}


def test_cadence_health_is_for_okr_masters_and_admins(
    client, login, acme, carol, bob, erin, alice, cadence
):
    url = _url("cadence_health", acme, cycle_id=cadence["cycle"].pk)
    for person in (carol, bob):
        assert login(person).get(url).status_code == 403
        assert login(person).get(_url("cadence_current", acme)).status_code == 403
    for person in (erin, alice):
        assert login(person).get(url).status_code == 200
    response = login(erin).get(_url("cadence_current", acme))
    assert response.status_code == 302 and response.url == url


def test_cadence_health_figures(client, login, acme, erin, cadence):
    response = login(erin).get(_url("cadence_health", acme, cycle_id=cadence["cycle"].pk))
    health = response.context["health"]
    rows = {row.name: row for row in health.teams}
    # Engineering rolls Platform up: carol every week so far, dave only last week.
    engineering = rows["Engineering"]
    assert engineering.key_results == 2
    past = [w for w in engineering.weeks if not w.future]
    assert [w.checked for w in past[:-2]] == [1] * (len(past) - 2)
    assert past[-2].checked == 2 and past[-2].value == 1  # last week: both
    assert (engineering.streak, engineering.longest_streak) == (1, 1)
    carol_only = dashboards.streaks(
        [dashboards.WeekRate(w.week, 1, 1, w.future) for w in past[:-1]] + [past[-1]],
        health.this_week,
    )
    assert carol_only == (len(past) - 1, len(past) - 1)  # this week is still open
    assert rows["Sales"].rate == 0
    assert [p.display_name for p in health.never] == ["Frank Never"]
    # Pilot teams (Engineering's own members) against the rest (Platform's dave, Sales).
    pilot, rest = health.pilot
    assert (pilot.name, pilot.people, rest.people) == ("Pilot teams", 1, 2)
    body = response.content.decode()
    assert 'class="heat-map"' in body and "<desc" in body and "<table" in body
    assert "Pilot teams against the rest" in body


def test_cadence_health_counts_quality_reviews_per_team(
    client, login, acme, bob, erin, engineering, cadence
):
    """The OKR Master approves one objective and asks for changes on another: cadence
    health counts them per team (objectives of no team together)."""
    cycle = cadence["cycle"]
    team_objective = {"cycle": cycle, "organization": acme, "owner": bob, "level": Level.TEAM}
    ship = ObjectiveFactory(team=engineering, title="Ship v2", **team_objective)
    ObjectiveFactory(team=engineering, title="Docs for v2", **team_objective)
    deals = ObjectiveFactory(team=cadence["sales"], title="Close deals", **team_objective)
    client = login(erin)
    for objective, decision in ((ship, "approved"), (deals, "changes_requested")):
        response = client.post(
            _url("objective_review", acme, objective_id=objective.pk),
            {"decision": decision, "comment": "Name the customers."},
        )
        assert response.status_code == 302

    body = client.get(_url("cadence_health", acme, cycle_id=cycle.pk)).content.decode()
    table = body.split('id="review-counts"')[1].split("</table>")[0]

    def counts(name):
        row = table.split(f">{name}</")[1].split("</tr>")[0]
        cells = [cell.split("</td>")[0] for cell in row.split('<td class="num">')[1:]]
        return [int(cell.rsplit(">", 2)[-2].split("<")[0]) for cell in cells]

    # approved, changes requested, not reviewed
    assert counts("Engineering") == [1, 0, 1]
    assert counts("Sales") == [0, 1, 0]
    assert counts("Company and people without a team") == [0, 0, 3]  # carol, dave, frank


def test_admins_see_stuck_notifications(client, login, acme, alice, erin, carol, cadence):
    NotificationClaim.objects.create(
        organization=acme,
        membership=carol,
        week=this_week(acme),
        kind="checkin_reminder",
        status=ClaimStatus.SENDING,
        batch="x",
        sending_at=timezone.now() - timedelta(days=1),
    )
    url = _url("cadence_health", acme, cycle_id=cadence["cycle"].pk)
    assert "stuck in “sending”" in login(alice).get(url).content.decode()
    assert "stuck in “sending”" not in login(erin).get(url).content.decode()


def test_streaks_run_over_complete_weeks():
    from datetime import date

    monday = date(2026, 1, 5)

    def rates(*values, future=0):
        weeks = [
            dashboards.WeekRate(monday + timedelta(weeks=i), int(v), 1, False)
            for i, v in enumerate(values)
        ]
        weeks += [
            dashboards.WeekRate(monday + timedelta(weeks=len(values) + i), 0, 1, True)
            for i in range(future)
        ]
        return weeks

    this = monday + timedelta(weeks=4)
    assert dashboards.streaks(rates(1, 1, 0, 1, 0, future=3), this) == (1, 2)
    assert dashboards.streaks(rates(1, 1, 0, 1, 1, future=3), this) == (2, 2)
    # A closed cycle: its last week is not "this week" and breaks the run.
    assert dashboards.streaks(rates(1, 1, 0, 1, 0), monday + timedelta(weeks=20)) == (0, 2)


@pytest.mark.django_db
def test_movers_rank_in_sql_with_the_python_progress_rules(acme, alice):
    """The SQL ranking of "biggest movers" agrees with ``progress_at`` for every kind and
    direction, including where Python says the key result cannot tell (NULL)."""
    from django.db.models import Value

    from cycles.models import KeyResult

    objective = ObjectiveFactory(organization=acme, owner=alice, cycle=active_cycle(acme))
    shapes = [
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
    krs = [KeyResultFactory(objective=objective, current_value=None, **s) for s in shapes]
    for value in (D(-5), D(0), D(1), D(3), D("4.5"), D(6), D(7), D(95)):
        rows = dict(
            KeyResult.objects.for_org(acme)
            .filter(pk__in=[kr.pk for kr in krs])
            .annotate(sql=dashboards.capped_progress_sql(Value(value), ""))
            .values_list("pk", "sql")
        )
        for kr in krs:
            python = dashboards.progress_at(kr, value)
            expected = None if python is None else float(scoring_capped(python))
            assert rows[kr.pk] == pytest.approx(expected, abs=1e-4), (kr.direction, value)
    # A key result whose start equals its target (refused by the forms) cannot say.
    KeyResult.objects.for_org(acme).filter(pk=krs[0].pk).update(target_value=D(0))
    assert (
        KeyResult.objects.for_org(acme)
        .filter(pk=krs[0].pk)
        .annotate(sql=dashboards.capped_progress_sql(Value(D(4)), ""))
        .values_list("sql", flat=True)
        .get()
        is None
    )


def scoring_capped(value):
    from cycles import scoring

    return scoring.capped(value)
