"""Aligned progress: the mean progress of every objective that contributes to an objective,
through any number of alignment levels (``cycles.scoring.aligned_progress``), kept current
by the services in the transaction that changes a contributor, and shown on the pages and
in the API."""

from __future__ import annotations

import importlib
import random
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from checkins import services as checkins
from cycles import rollup, services
from cycles.models import Alignment, Level, Objective, ObjectiveStatus
from cycles.scoring import aligned_progress, contributors
from okrapp.models import Membership
from tests.cycles.factories import CycleFactory, ObjectiveFactory
from tests.factories import TeamFactory

THURSDAY = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # in the active cycle below

# --- The rule, as a pure function ---------------------------------------------------------------


def test_contributors_are_every_objective_below_each_counted_once():
    # company 1 ← teams 2, 3 ← individual 4 (aligned to both teams: a diamond) ← nothing
    links = [(2, 1), (3, 1), (4, 2), (4, 3), (5, 3)]
    assert contributors(1, links) == {2, 3, 4, 5}
    assert contributors(3, links) == {4, 5}
    assert contributors(4, links) == frozenset()


def test_a_diamond_counts_the_objective_once():
    links = [(2, 1), (3, 1), (4, 2), (4, 3)]
    progress = {2: D("0.2"), 3: D("0.4"), 4: D("0.9")}
    # (0.2 + 0.4 + 0.9) / 3, not (0.2 + 0.4 + 0.9 + 0.9) / 4
    assert aligned_progress(1, links, progress) == D("0.5000")


def test_archived_objectives_are_left_out_but_what_is_under_them_counts():
    links = [(2, 1), (3, 2)]
    progress = {2: D("0.9"), 3: D("0.3")}
    assert aligned_progress(1, links, progress, archived={2}) == D("0.3000")
    assert aligned_progress(1, links, progress, archived={2, 3}) is None


def test_nothing_aligned_is_none_not_zero():
    assert aligned_progress(1, [], {1: D("0.5")}) is None
    assert aligned_progress(1, [(2, 3)], {2: D("0.5")}) is None


def test_objectives_without_key_results_are_not_counted_as_zero():
    links = [(2, 1), (3, 1)]
    assert aligned_progress(1, links, {2: D("0.6"), 3: None}) == D("0.6000")
    assert aligned_progress(1, links, {2: None}) is None


def test_the_objective_itself_never_counts_even_in_a_loop():
    # The services refuse loops; one in the data is cut where it closes.
    links = [(2, 1), (1, 2)]
    assert contributors(1, links) == {2}
    assert aligned_progress(1, links, {1: D(1), 2: D(0)}) == D("0.0000")


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (["0.0001", "0.0002"], "0.0002"),  # 0.00015: half rounds up
        (["0.0001", "0.0001", "0.0002"], "0.0001"),  # 0.000133…
        (["1", "0", "0"], "0.3333"),
        (["1", "1", "0"], "0.6667"),
        (["0.5432"], "0.5432"),
    ],
)
def test_the_mean_is_rounded_half_up_to_four_places(figures, expected):
    links = [(i, 0) for i in range(1, len(figures) + 1)]
    progress = {i: D(f) for i, f in enumerate(figures, start=1)}
    assert aligned_progress(0, links, progress) == D(expected)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        aligned_progress(1, [(2, 1)], {2: 0.5})


progress_figures = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False),
)


@st.composite
def alignment_dags(draw):
    """A random DAG over objectives 1..n: each links up only to lower numbers."""
    n = draw(st.integers(min_value=1, max_value=12))
    links = set()
    for child in range(2, n + 1):
        for parent in draw(st.sets(st.integers(min_value=1, max_value=child - 1), max_size=3)):
            links.add((child, parent))
    progress = {i: draw(progress_figures) for i in range(1, n + 1)}
    archived = draw(st.sets(st.integers(min_value=1, max_value=n)))
    return n, sorted(links), progress, archived


def _paths_below(top, links):
    """Every objective below ``top``, with repeats for each path (the naive walk)."""
    below = []
    for child, parent in links:
        if parent == top:
            below.append(child)
            below.extend(_paths_below(child, links))
    return below


@given(alignment_dags())
def test_aligned_progress_is_the_mean_over_the_distinct_contributors(dag):
    n, links, progress, archived = dag
    for top in range(1, n + 1):
        distinct = set(_paths_below(top, links))
        assert contributors(top, links) == distinct
        counted = [progress[i] for i in distinct if i not in archived and progress[i] is not None]
        result = aligned_progress(top, links, progress, archived=archived)
        if not counted:
            assert result is None
        else:
            assert min(counted) <= result <= max(counted)
            exact = sum(counted) / len(counted)
            assert abs(result - exact) <= D("0.00005")


@given(alignment_dags())
def test_a_parent_covers_what_its_contributors_cover(dag):
    """Above: a parent's contributors include each contributor's own."""
    _n, links, _progress, _archived = dag
    for child, parent in links:
        assert contributors(child, links) | {child} <= contributors(parent, links)


# --- Kept current by the services ---------------------------------------------------------------


def figures_of(org) -> dict[int, tuple]:
    """``(aligned_progress, aligned_count, aligned_total)`` of each objective, as stored."""
    return {
        pk: (value, count, total)
        for pk, value, count, total in Objective.objects.for_org(org).values_list(
            "pk", "aligned_progress", "aligned_count", "aligned_total"
        )
    }


def expected_figures(org) -> dict[int, tuple]:
    """The same, by the pure rule over the stored progress, status and links."""
    links = list(Alignment.objects.for_org(org).values_list("child_id", "parent_id"))
    rows = list(Objective.objects.for_org(org).values_list("pk", "progress", "status"))
    progress = {pk: value for pk, value, _status in rows}
    archived = {pk for pk, _value, status in rows if status == ObjectiveStatus.ARCHIVED}
    expected = {}
    for pk, _value, _status in rows:
        counted = [
            progress[c]
            for c in contributors(pk, links)
            if c not in archived and progress.get(c) is not None
        ]
        expected[pk] = (
            aligned_progress(pk, links, progress, archived),
            len(counted),
            int(sum(counted, D(0)) * 10000),
        )
    return expected


def assert_current(org) -> None:
    assert figures_of(org) == expected_figures(org)


@pytest.fixture
def cycle(acme, alice):
    cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="2026 Q4",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
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


def _kr(org, by, objective, *, current=None, **extra):
    fields = {"title": f"{objective.title}: from 0 to 100", "owner": objective.owner}
    fields |= {"start_value": D(0), "target_value": D(100), "current_value": current, **extra}
    return services.key_result_create(org=org, by=by, objective=objective, **fields)


@pytest.fixture
def tree(acme, alice, bob, carol, engineering, cycle):
    """company ← team (engineering) ← carol's individual objective; each with a key result
    at 60 %, 40 % and 10 %."""
    company = _objective(acme, alice, cycle, "Delight workshop owners", Level.COMPANY)
    team = _objective(
        acme,
        bob,
        cycle,
        "Ship the calibration wizard",
        Level.TEAM,
        team=engineering,
        aligned_to=[company],
    )
    mine = _objective(
        acme,
        carol,
        cycle,
        "Make calibration self-explanatory",
        Level.INDIVIDUAL,
        aligned_to=[team],
    )
    krs = {
        "company": _kr(acme, alice, company, current=D(60)),
        "team": _kr(acme, bob, team, current=D(40)),
        "mine": _kr(acme, carol, mine, current=D(10)),
    }
    return {"company": company, "team": team, "mine": mine, "krs": krs}


def _fresh(objective):
    return Objective.objects.for_org(objective.organization_id).get(pk=objective.pk)


def test_key_results_created_roll_up_to_every_level_above(acme, tree):
    company, team, mine = _fresh(tree["company"]), _fresh(tree["team"]), _fresh(tree["mine"])
    # Each objective's own progress stays the mean of its own key results.
    assert (company.progress, team.progress, mine.progress) == (D("0.6"), D("0.4"), D("0.1"))
    assert (team.aligned_progress, team.aligned_count) == (D("0.1"), 1)
    assert (company.aligned_progress, company.aligned_count) == (D("0.25"), 2)
    assert mine.aligned_progress is None and mine.aligned_count == 0
    assert_current(acme)


def test_a_check_in_updates_its_objective_the_team_and_the_company_at_once(acme, carol, tree):
    checkins.checkin_record(
        org=acme, by=carol, key_result=tree["krs"]["mine"], value=D(90), confidence=8
    )
    company, team, mine = _fresh(tree["company"]), _fresh(tree["team"]), _fresh(tree["mine"])
    assert mine.progress == D("0.9")
    assert team.aligned_progress == D("0.9")
    assert company.aligned_progress == D("0.65")  # (0.4 + 0.9) / 2
    assert company.progress == D("0.6")  # its own key results only
    assert_current(acme)


def test_the_roll_up_is_part_of_the_check_ins_transaction(acme, carol, tree):
    before = figures_of(acme)
    with pytest.raises(RuntimeError), transaction.atomic():
        checkins.checkin_record(
            org=acme, by=carol, key_result=tree["krs"]["mine"], value=D(90), confidence=8
        )
        assert _fresh(tree["company"]).aligned_progress == D("0.65")  # written inside it
        raise RuntimeError("the request failed after the check-in")
    assert figures_of(acme) == before
    # A refused check-in writes nothing either.
    with pytest.raises(ValidationError):
        checkins.checkin_record(
            org=acme, by=carol, key_result=tree["krs"]["mine"], value=D(90), confidence=11
        )
    assert figures_of(acme) == before


def test_a_check_in_on_an_aligned_objective_costs_one_statement_more(acme, carol, tree):
    """The rows above are found (and on PostgreSQL locked) by the statement that writes the
    objective's progress, then written by one more; none more for an objective aligned to
    nothing, or when progress did not move."""
    unaligned = _objective(acme, carol, tree["mine"].cycle, "Learn Rust", Level.INDIVIDUAL)
    alone = _kr(acme, carol, unaligned)

    def statements(kr, value):
        with CaptureQueriesContext(connection) as queries:
            checkins.checkin_record(org=acme, by=carol, key_result=kr, value=value, confidence=7)
        return [q["sql"] for q in queries]

    plain = statements(alone, D(20))
    aligned = statements(tree["krs"]["mine"], D(20))
    assert len(aligned) == len(plain) + 1
    assert sum("cycles_alignment" in sql for sql in plain) == 1  # asked in the progress write
    # The same value again: the objective's progress did not move, nothing above is written.
    again = statements(tree["krs"]["mine"], D(20))
    assert len(again) == len(plain)
    assert_current(acme)


def test_key_result_edits_weights_and_deletes_roll_up(acme, alice, bob, tree):
    team_kr = tree["krs"]["team"]
    second = _kr(acme, bob, tree["team"], current=D(100))
    assert _fresh(tree["company"]).aligned_progress == D("0.4")  # team 0.7, mine 0.1
    services.key_result_update(
        org=acme, by=bob, key_result=second, expected_version=second.version, weight=D(3)
    )
    assert _fresh(tree["team"]).progress == D("0.85")  # (0.4 + 3 * 1) / 4
    assert _fresh(tree["company"]).aligned_progress == D("0.475")
    services.key_result_delete(org=acme, by=bob, key_result=team_kr)
    assert _fresh(tree["company"]).aligned_progress == D("0.55")  # (1.0 + 0.1) / 2
    services.key_result_delete(org=acme, by=bob, key_result=second)
    # The team objective has no key results left: no progress, not counted as 0.
    company = _fresh(tree["company"])
    assert (company.aligned_progress, company.aligned_count) == (D("0.1"), 1)
    assert_current(acme)


def test_archiving_an_objective_takes_it_out_and_restoring_puts_it_back(acme, bob, tree):
    team = tree["team"]
    team = services.objective_update(
        org=acme, by=bob, objective=team, expected_version=team.version, status="archived"
    )
    company = _fresh(tree["company"])
    # What lies under the archived objective still counts, through it.
    assert (company.aligned_progress, company.aligned_count) == (D("0.1"), 1)
    assert _fresh(team).aligned_progress == D("0.1")
    assert_current(acme)
    services.objective_update(
        org=acme, by=bob, objective=team, expected_version=team.version, status="published"
    )
    assert _fresh(tree["company"]).aligned_progress == D("0.25")
    assert_current(acme)


def test_moving_an_objective_recomputes_the_old_and_the_new_parents(
    acme, alice, bob, carol, engineering, tree
):
    cycle = tree["company"].cycle
    platform = TeamFactory(organization=acme, name="Platform", slug="platform")
    other_company = _objective(acme, alice, cycle, "Grow in Asia", Level.COMPANY)
    other_team = _objective(
        acme,
        alice,
        cycle,
        "Scale the platform",
        Level.TEAM,
        team=platform,
        aligned_to=[other_company],
    )
    _kr(acme, alice, other_team, current=D(80))
    mine = tree["mine"]
    mine = services.objective_update(
        org=acme,
        by=carol,
        objective=mine,
        expected_version=mine.version,
        aligned_to=[other_team],
    )
    assert _fresh(tree["team"]).aligned_progress is None  # nothing aligned to it any more
    assert _fresh(tree["company"]).aligned_progress == D("0.4")  # the team alone
    assert _fresh(other_team).aligned_progress == D("0.1")
    assert _fresh(other_company).aligned_progress == D("0.45")  # (0.8 + 0.1) / 2
    assert_current(acme)
    # Aligned to both teams (a diamond under no common parent), then to nothing.
    mine = services.objective_update(
        org=acme,
        by=carol,
        objective=mine,
        expected_version=mine.version,
        aligned_to=[other_team, tree["team"]],
    )
    assert_current(acme)
    services.objective_update(
        org=acme, by=carol, objective=mine, expected_version=mine.version, aligned_to=[]
    )
    assert _fresh(other_company).aligned_progress == D("0.8")
    assert_current(acme)


def test_an_objective_reaching_a_parent_by_two_paths_counts_once(acme, alice, bob, carol, tree):
    """carol's objective contributes to the team objective and, directly, to the company
    objective too: the company objective counts it once."""
    mine = tree["mine"]
    services.objective_update(
        org=acme,
        by=alice,
        objective=mine,
        expected_version=mine.version,
        aligned_to=[tree["team"], tree["company"]],
    )
    company = _fresh(tree["company"])
    assert (company.aligned_progress, company.aligned_count) == (D("0.25"), 2)
    checkins.checkin_record(
        org=acme, by=carol, key_result=tree["krs"]["mine"], value=D(30), confidence=6
    )
    company = _fresh(tree["company"])
    assert (company.aligned_progress, company.aligned_count) == (D("0.35"), 2)
    assert_current(acme)


def test_deleting_an_objective_recomputes_what_it_contributed_to(acme, alice, bob, carol):
    draft = CycleFactory(organization=acme, name="2027 Q1", state="planning")
    company = _objective(acme, alice, draft, "Company", Level.COMPANY)
    first = _objective(acme, carol, draft, "First", Level.INDIVIDUAL, aligned_to=[company])
    second = _objective(acme, carol, draft, "Second", Level.INDIVIDUAL, aligned_to=[company])
    _kr(acme, carol, first, current=D(20))
    _kr(acme, carol, second, current=D(80))
    assert _fresh(company).aligned_progress == D("0.5")
    services.objective_delete(org=acme, by=carol, objective=second)
    assert _fresh(company).aligned_progress == D("0.2")
    assert_current(acme)


def test_carry_over_and_import_leave_the_figures_right(acme, alice, bob, carol, tree):
    from cycles import importer

    cycle = tree["company"].cycle
    services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    following = services.cycle_create(
        org=acme, by=alice, name="2027 Q1", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    services.cycle_carry_over(org=acme, by=alice, from_cycle=cycle, to_cycle=following)
    assert_current(acme)
    csv = (
        "objective_title,level,objective_owner,mission_link,aligned_to,kr_title,start,target\n"
        "Win Asia,company,alice@acme.example,a helpful robot,,Partners from 0 to 10,0,10\n"
        "Win Taiwan,individual,carol@acme.example,,Win Asia,Shops from 0 to 4,0,4\n"
    )
    lines = importer.parse(csv.encode())
    result = importer.run(org=acme, by=alice, cycle=following, lines=lines, commit=True)
    assert result.committed, result.errors
    assert_current(acme)


# --- The SQL agrees with the rule ---------------------------------------------------------------


def test_the_archived_status_in_the_sql_is_the_models():
    assert rollup.ARCHIVED == ObjectiveStatus.ARCHIVED


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_computes_what_the_rule_says_over_a_random_tree(acme, alice, seed):
    rng = random.Random(seed)
    cycle = CycleFactory(organization=acme, state="active")
    team = TeamFactory(organization=acme)
    levels = [Level.COMPANY] * 3 + [Level.TEAM] * 8 + [Level.INDIVIDUAL] * 20
    objectives = []
    for level in levels:
        ups = [o for o in objectives if o.level < level]
        objectives.append(
            ObjectiveFactory(
                cycle=cycle,
                organization=acme,
                owner=alice,
                level=level,
                team=team if level == Level.TEAM else None,
                status=rng.choice(["published"] * 5 + ["archived", "draft"]),
                progress=rng.choice([None, D(0), D(1)] + [D(rng.randint(0, 10000)) / 10000] * 6),
                aligned_to=rng.sample(ups, k=min(len(ups), rng.choice([0, 1, 1, 1, 2, 3]))),
            )
        )
    assert services.objectives_rollup_organisation(acme.pk) == len(objectives)
    assert_current(acme)
    # Then the services move it, one change at a time, and it stays equal to the rule.
    for _ in range(12):
        objective = _fresh(rng.choice(objectives))
        move = rng.choice(["progress", "archive", "align"])
        if move == "progress":
            services.objective_recompute_progress(objective)  # no key results: None
        elif move == "archive":
            status = "published" if objective.status == "archived" else "archived"
            services.objective_update(
                org=acme, by=alice, objective=objective, expected_version=None, status=status
            )
        else:
            ups = [o for o in objectives if o.level < objective.level]
            services.objective_update(
                org=acme,
                by=alice,
                objective=objective,
                expected_version=None,
                aligned_to=rng.sample(ups, k=min(len(ups), rng.choice([0, 1, 2]))),
            )
        assert_current(acme)


def test_the_migration_fills_in_the_figures_of_existing_objectives(acme, globex, tree):
    Objective.objects.for_org(acme).update(aligned_progress=None, aligned_count=0, aligned_total=0)
    migration = importlib.import_module("cycles.migrations.0006_objective_aligned_progress")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.fill_in(apps, editor)
    assert _fresh(tree["company"]).aligned_progress == D("0.25")
    assert_current(acme)


@pytest.mark.django_db
def test_seed_demo_shows_the_right_figures(settings):
    from io import StringIO

    from django.core.management import call_command

    from okrapp.models import Organization

    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    org = Organization.objects.get(slug="acme")
    figures = figures_of(org)
    assert figures == expected_figures(org)
    assert any(value is not None for value, _count, _total in figures.values())


def test_data_written_in_bulk_gets_its_figures(acme, alice, globex, tree):
    """The scale data (bulk inserts) and an organisation restored from an export."""
    from checkins import portability, scale
    from okrapp import services as core

    result = scale.build(slug="tiny", people=24, teams=3, krs=40, weeks=2)
    assert_current(result.org)
    assert Objective.objects.for_org(result.org).filter(aligned_count__gt=0).exists()

    archive = portability.build_archive(acme)
    assert "aligned_progress" not in archive["objectives"][0]  # worked out again on import
    copy = core.organization_create(user=alice.user, name="Acme Two", slug="acme-two")
    admin = Membership.objects.for_org(copy).get(user=alice.user)
    portability.import_archive(org=copy, by=admin, archive=archive)
    assert_current(copy)
    restored = Objective.objects.for_org(copy).get(title=tree["company"].title)
    assert (restored.aligned_progress, restored.aligned_count) == (D("0.25"), 2)


# --- Shown on the pages and in the API ------------------------------------------------------------


def test_the_objective_page_shows_the_aligned_figure_beside_its_own(client, login, acme, tree):
    login(tree["mine"].owner)
    page = client.get(
        reverse("objective_detail", args=[acme.slug, tree["company"].pk])
    ).content.decode()
    assert "Aligned objectives: 25 % (2 contributing)" in page
    # Nothing aligned to carol's own objective: no figure at all (not "0 %").
    page = client.get(reverse("objective_detail", args=[acme.slug, tree["mine"].pk]))
    assert "Aligned objectives" not in page.content.decode()


def test_the_tree_shows_it_on_readable_nodes_only(client, login, acme, bob, erin, tree):
    """A private team objective is blanked for erin: its node shows nothing of it, this
    figure included; the company objective's figure counts it all the same (a number)."""
    team = tree["team"]
    services.objective_update(
        org=acme, by=bob, objective=team, expected_version=team.version, visibility="private"
    )
    url = reverse("alignment_tree", args=[acme.slug, team.cycle_id])
    team_figure = "Aligned objectives: 10 % (1 contributing)"
    company_figure = "Aligned objectives: 25 % (2 contributing)"
    login(erin)
    page = client.get(url).content.decode()
    assert company_figure in page
    assert team_figure not in page
    assert "Ship the calibration wizard" not in page
    login(bob)
    page = client.get(url).content.decode()
    assert company_figure in page and team_figure in page


def test_the_api_gives_the_figure_read_only(acme, alice, carol, erin, tree):
    from rest_framework.test import APIClient

    from okrapp import services as core

    def client_of(membership):
        _token, secret = core.api_token_create(org=acme, by=membership, name="script")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    company = tree["company"]
    path = f"/api/v1/{acme.slug}/objectives/{company.pk}/"
    data = client_of(carol).get(path).json()
    assert (data["aligned_progress"], data["aligned_count"]) == ("0.2500", 2)
    assert data["progress"] == "0.6000"
    mine = client_of(carol).get(f"/api/v1/{acme.slug}/objectives/{tree['mine'].pk}/").json()
    assert (mine["aligned_progress"], mine["aligned_count"]) == (None, 0)
    # Read-only: sent in an edit, it is ignored.
    response = client_of(alice).patch(
        path, {"aligned_progress": "0.99", "version": data["version"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["aligned_progress"] == "0.2500"
    # A private objective the caller may not read is blanked whole.
    services.objective_update(
        org=acme, by=carol, objective=tree["mine"], expected_version=None, visibility="private"
    )
    items = client_of(erin).get(f"/api/v1/{acme.slug}/objectives/").json()["results"]
    blanked = next(item for item in items if item["id"] == tree["mine"].pk)
    assert "aligned_progress" not in blanked
