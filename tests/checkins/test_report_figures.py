"""The quarter report's figures against hand-computed ones (tests/checkins/report_org.py)."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from checkins import reports
from checkins.report_render import csv_rows, distribution_chart, render_csv
from cycles.models import KeyResult
from tests.checkins.report_org import WEEKS, build_quarter
from tests.factories import MembershipFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarter(acme, alice, bob, carol, engineering):
    return build_quarter(acme, alice, bob, carol, engineering)


@pytest.fixture
def facts(acme, quarter):
    return reports.collect(acme, quarter.cycle)


@pytest.fixture
def figures(facts):
    return reports.summarize(facts)


def _by_title(krs):
    return {kr.title: kr for kr in krs}


def test_the_weeks_and_the_company_view(figures):
    assert figures.weeks == WEEKS
    assert [o.title for o in figures.company] == ["Grow revenue"]
    revenue = figures.company[0]
    assert [(k.title, k.score, k.band) for k in revenue.key_results] == [
        ("Revenue from 0 to 10 M", D("1.0"), "green"),
        ("Partners from 0 to 10", D("0.5"), "yellow"),
    ]
    assert revenue.score == D("0.75")
    assert revenue.band == "green"
    assert figures.company_stats.average == D("0.75")


def test_overall_scores_count_unscored_key_results_apart(figures):
    overall = figures.overall
    assert (overall.krs, overall.scored, overall.unscored) == (7, 6, 1)
    assert overall.average == D("0.72")  # 4.3 / 6, not 4.3 / 7
    # Committed: K1 and K4 at 1.0 of K1-K4; aspirational: K5 at 0.7 of K5 and K7.
    assert (overall.committed_met, overall.committed) == (2, 4)
    assert overall.committed_share == D("0.5")
    assert (overall.aspirational_met, overall.aspirational) == (1, 2)
    assert overall.aspirational_share == D("0.5")


def test_score_distribution_per_bucket_and_band(figures):
    counts = {b.label: b.count for b in figures.distribution.buckets}
    assert counts == {
        "0.0": 0,
        "0.1": 0,
        "0.2": 0,
        "0.3": 1,
        "0.4": 0,
        "0.5": 1,
        "0.6": 0,
        "0.7": 1,
        "0.8": 1,
        "0.9": 0,
        "1.0": 2,
    }
    assert figures.distribution.unscored == 1
    assert figures.distribution.bands == {"red": 1, "yellow": 1, "green": 4}


def test_teams_scores_and_expectations(figures):
    teams = {t.name: t for t in figures.teams}
    assert list(teams) == ["Engineering", "Sales"]
    engineering, sales = teams["Engineering"], teams["Sales"]
    # K5's objective has no team: it counts for its owner's team.
    assert engineering.stats.krs == 3
    assert engineering.stats.average == D("0.83")  # (0.8 + 1.0 + 0.7) / 3
    assert engineering.stats.committed_share == D("0.5")  # K4 of K3, K4
    assert engineering.stats.aspirational_share == D("1")  # K5
    assert [o.title for o in engineering.objectives] == ["Ship v2", "Learn Rust"]
    assert (sales.stats.krs, sales.stats.scored, sales.stats.average) == (2, 1, D("0.30"))
    assert sales.stats.committed_share is None  # no committed key results at all
    assert sales.stats.aspirational_share == D("0")


def test_checkin_cadence_rate_and_streak(figures):
    teams = {t.name: t for t in figures.teams}
    engineering, sales = teams["Engineering"], teams["Sales"]
    assert [(w.checked, w.of, w.state) for w in engineering.weeks] == [
        (3, 3, "complete"),
        (3, 3, "complete"),
        (2, 3, "partial"),
    ]
    assert engineering.checkin_rate == D("0.8889")  # 8 / (3 KRs x 3 weeks)
    assert engineering.longest_streak == 2
    assert [w.checked for w in sales.weeks] == [2, 1, 2]
    assert sales.checkin_rate == D("0.8333")  # 5 / 6
    assert sales.longest_streak == 1  # complete in weeks 1 and 3, not in a row
    # The check-in after the cycle's last week does not count.
    assert figures.overall.checkins == 14
    assert figures.checkin_rate == D("0.6667")  # 14 / (7 x 3)


def test_pilot_teams_against_the_rest(figures):
    pilot, rest = figures.pilot_groups
    assert (pilot.key, pilot.teams, pilot.stats.krs) == ("pilot", 1, 3)
    assert pilot.stats.average == D("0.83")
    assert pilot.checkin_rate == D("0.8889")
    # The rest: Sales and the company's key results (K1, K2, K6, K7).
    assert (rest.key, rest.teams, rest.stats.krs) == ("rest", 1, 4)
    assert rest.stats.average == D("0.60")  # (1.0 + 0.5 + 0.3) / 3
    assert rest.checkin_rate == D("0.5")  # 6 / (4 x 3)


def test_a_cycle_closed_early_counts_only_the_weeks_that_have_begun(acme, quarter):
    cycle = quarter.cycle
    cycle.end_date = date.today() + timedelta(weeks=4)
    cycle.save(update_fields=["end_date"])
    figures = reports.summarize(reports.collect(acme, cycle))
    assert figures.weeks[:3] == WEEKS
    assert figures.weeks[-1] <= date.today()
    # The week after WEEKS has begun now: K1's check-in in it counts.
    assert figures.overall.checkins == 15


def test_no_pilot_comparison_outside_a_pilot_cycle(facts):
    facts["cycle"]["is_pilot"] = False
    assert reports.summarize(facts).pilot_groups == []


def test_carry_over_candidates(figures):
    candidates = [(k.title, k.carry_over_because) for k in figures.carry_over]
    assert candidates == [
        ("Partners from 0 to 10", ["unfinished", "low_score"]),  # K2: 0.5 progress, 0.5
        ("Modules from 0 to 10", ["unfinished"]),  # K3: 0.8 progress, scored 0.8
    ]


def test_reflections_grouped_by_reason(figures):
    groups = [(g.reason, [k.title for k in g.key_results]) for g in figures.reflections]
    assert groups == [
        ("achieved", ["Revenue from 0 to 10 M", "Releases from 0 to 10"]),
        ("too_ambitious", ["Partners from 0 to 10"]),
        ("priorities_changed", ["Distributors from 0 to 10"]),
        ("blocked", ["Modules from 0 to 10"]),
        ("", ["Katas from 0 to 10"]),
    ]
    blocked = figures.reflections[3]
    assert blocked.label == "Blocked by a dependency"
    assert blocked.key_results[0].what_to_change == "Unblock earlier"
    assert figures.reflections[-1].key_results[0].what_worked == "Pairing"


def test_people_and_their_key_results(figures):
    people = {p.name: p for p in figures.people}
    assert list(people) == ["Alice Chen", "Bob Lin", "Carol Tsai", "Dana Wu", "Frank Lee"]
    carol = people["Carol Tsai"]
    assert [k.title for k in carol.key_results] == ["Modules from 0 to 10", "Katas from 0 to 10"]
    assert carol.stats.average == D("0.75")
    assert carol.checkin_rate == D("0.8333")  # 5 / (2 x 3)
    frank = people["Frank Lee"]
    assert (frank.stats.scored, frank.stats.unscored, frank.stats.average) == (0, 1, None)


def test_a_managers_edition_covers_their_teams_and_people(acme, bob, quarter, facts):
    edition = reports.summarize(facts, reports.scope_for(acme, bob))
    assert edition.scoped
    assert [t.name for t in edition.teams] == ["Engineering"]
    assert sorted(p.name for p in edition.people) == ["Bob Lin", "Carol Tsai"]
    assert edition.overall.krs == 3
    # The company's objectives are everyone's.
    assert [o.title for o in edition.company] == ["Grow revenue"]
    # Carol's private objective has no team: bob, her manager, manages no team of it, so
    # he does not read it (cycles.permissions); its figures are still counted.
    katas = next(k for k in edition.key_results if k.id == quarter.krs.k5.pk)
    assert (katas.title, katas.objective.title, katas.what_worked) == (None, None, "")
    assert katas.score == D("0.7")


def test_private_titles_a_manager_may_not_read_are_blank(acme, alice, bob, carol, quarter):
    carol.manager = alice
    carol.save(update_fields=["manager"])
    edition = reports.summarize(reports.collect(acme, quarter.cycle), reports.scope_for(acme, bob))
    # Still on his team (so in his edition), but her private objective has no team.
    katas = next(k for k in edition.key_results if k.id == quarter.krs.k5.pk)
    assert (katas.title, katas.objective.title, katas.what_worked) == (None, None, "")
    assert katas.score == D("0.7")  # the figures stay
    reflected = [k.what_worked for g in edition.reflections for k in g.key_results]
    assert "Pairing" not in reflected


def test_a_manager_sees_the_key_results_of_the_people_they_manage(acme, quarter, facts):
    edition = reports.summarize(facts, reports.scope_for(acme, quarter.dana))
    assert [t.name for t in edition.teams] == ["Sales"]
    # Dana owns K2 of a company objective: it is hers to see.
    assert sorted(k.title for k in edition.key_results) == [
        "Distributors from 0 to 10",
        "Leads from 0 to 10",
        "Partners from 0 to 10",
    ]


def test_members_who_manage_no_one_have_no_report(acme, carol, quarter):
    assert reports.scope_for(acme, carol) is None


def test_csv_has_one_row_per_key_result(figures):
    rows = csv_rows(figures)
    assert rows[0] == [
        "Team",
        "Owner",
        "Objective",
        "Type",
        "Key result",
        "Progress",
        "Score",
        "Band",
        "Reason",
        "Expectation met",
        "Carry-over candidate",
    ]
    by_kr = {row[4]: row for row in rows[1:]}
    assert len(by_kr) == 7
    assert by_kr["Modules from 0 to 10"] == [
        "Engineering",
        "Carol Tsai",
        "Ship v2",
        "Committed",
        "Modules from 0 to 10",
        "0.8",
        "0.8",
        "green",
        "Blocked by a dependency",
        "no",
        "yes",
    ]
    assert by_kr["Releases from 0 to 10"][5:8] == ["1", "1.0", "green"]  # progress capped
    assert by_kr["Revenue from 0 to 10 M"][0] == "Company"
    assert by_kr["Leads from 0 to 10"][5:] == ["0.2", "", "", "", "", ""]  # unscored


def test_csv_cells_never_start_a_formula(acme, figures):
    figures.key_results[0].objective.title = '=HYPERLINK("http://evil")'
    body = render_csv(figures).decode("utf-8-sig")
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body


def test_the_chart_has_a_bar_per_score_and_one_for_unscored(figures):
    chart = distribution_chart(figures)
    assert [b["label"] for b in chart["bars"]][-1] == "none"
    assert len(chart["bars"]) == 12
    tallest = max(chart["bars"], key=lambda b: b["height"])
    assert tallest["label"] == "1.0"
    assert "1.0: 2" in chart["desc"]


@pytest.mark.parametrize("people", [5, 50])
def test_collecting_takes_the_same_queries_whatever_the_size(
    acme, engineering, quarter, people, django_assert_max_num_queries
):
    for n in range(people):
        person = MembershipFactory(organization=acme)
        TeamMembershipFactory(organization=acme, team=engineering, membership=person)
        KeyResult.objects.create(
            organization=acme,
            objective=quarter.objectives.ship,
            owner=person,
            title=f"KR {n}",
            start_value=D(0),
            target_value=D(1),
        )
    with django_assert_max_num_queries(8):
        facts = reports.collect(acme, quarter.cycle)
    assert len(facts["krs"]) == 7 + people
    assert len(facts["people"]) == 5 + people
