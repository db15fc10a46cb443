"""Rules of the OKR core, through the services every page and API call uses."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from cycles import services
from cycles.models import (
    Alignment,
    Cycle,
    CycleState,
    CycleTransition,
    KeyResult,
    Level,
    Objective,
    ReviewStatus,
)
from okrapp.models import Membership
from tests.factories import TeamFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycle(acme, alice):
    return services.cycle_create(
        org=acme,
        by=alice,
        name="2026 Q4",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
    )


@pytest.fixture
def company_objective(acme, alice, cycle):
    return services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Delight workshop owners",
        level=Level.COMPANY,
        owner=alice,
        mission_link="a helpful robot",
    )


def _kr(org, by, objective, **extra):
    fields = {
        "title": "Grow NPS from 20 to 50",
        "owner": by,
        "start_value": D(20),
        "target_value": D(50),
    }
    fields.update(extra)
    return services.key_result_create(org=org, by=by, objective=objective, **fields)


# --- Cycles ------------------------------------------------------------------------------------


def test_quarters_are_generated_from_the_fiscal_year_start(acme, alice):
    acme.fiscal_year_start_month = 4
    acme.save()
    cycles = services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2026)
    assert [(c.name, c.start_date, c.end_date) for c in cycles] == [
        ("FY2026 Q1", date(2026, 4, 1), date(2026, 6, 30)),
        ("FY2026 Q2", date(2026, 7, 1), date(2026, 9, 30)),
        ("FY2026 Q3", date(2026, 10, 1), date(2026, 12, 31)),
        ("FY2026 Q4", date(2027, 1, 1), date(2027, 3, 31)),
    ]
    assert all(c.state == CycleState.DRAFT for c in cycles)
    # Running it again creates nothing twice.
    assert services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2026) == []


def test_calendar_fiscal_year_names(acme, alice):
    cycles = services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2027)
    assert [c.name for c in cycles] == ["2027 Q1", "2027 Q2", "2027 Q3", "2027 Q4"]
    assert cycles[3].end_date == date(2027, 12, 31)


def test_quarters_are_known_by_their_dates_whatever_language_named_them(acme, alice):
    with translation.override("zh-hant"):
        named_in_chinese = services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2027)
    assert named_in_chinese[0].name == "2027 年第 1 季"
    # The same quarters asked for in English: they exist already, whatever they are called.
    with translation.override("en"):
        assert services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2027) == []
    assert Cycle.objects.for_org(acme).count() == 4


def test_a_quarter_whose_name_is_taken_by_other_dates_is_refused_with_a_message(acme, alice):
    services.cycle_create(
        org=acme, by=alice, name="2027 Q2", start_date=date(2027, 4, 15), end_date=date(2027, 5, 31)
    )
    with pytest.raises(ValidationError) as exc:
        services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=2027)
    assert "“2027 Q2”" in exc.value.message_dict["fiscal_year"][0]
    assert Cycle.objects.for_org(acme).count() == 1  # nothing half done


def test_a_custom_period_must_end_after_it_starts(acme, alice):
    with pytest.raises(ValidationError) as exc:
        services.cycle_create(
            org=acme,
            by=alice,
            name="Sprint",
            start_date=date(2026, 5, 2),
            end_date=date(2026, 5, 1),
        )
    assert "end_date" in exc.value.message_dict


def test_only_admins_configure_cycles(acme, bob, erin):
    for person in (bob, erin):
        with pytest.raises(PermissionDenied):
            services.cycle_create(
                org=acme,
                by=person,
                name="X",
                start_date=date(2026, 1, 1),
                end_date=date(2026, 3, 31),
            )


def test_states_move_in_order_and_each_move_is_recorded(acme, alice, cycle):
    with pytest.raises(ValidationError, match="cannot move"):
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="active")
    for state in ("planning", "active", "scoring", "closed"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    assert cycle.state == "closed"
    moves = list(
        CycleTransition.objects.for_org(acme)
        .filter(cycle=cycle)
        .order_by("at")
        .values_list("from_state", "to_state", "by")
    )
    assert moves == [
        ("draft", "planning", alice.pk),
        ("planning", "active", alice.pk),
        ("active", "scoring", alice.pk),
        ("scoring", "closed", alice.pk),
    ]
    with pytest.raises(ValidationError, match="cannot move"):
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="active")


def test_no_activation_without_mission_and_vision(acme, alice, cycle):
    acme.vision = ""
    acme.save()
    services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="planning")
    with pytest.raises(ValidationError) as exc:
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="active")
    assert exc.value.code == "mission_missing"
    assert "mission and vision" in exc.value.messages[0]
    assert exc.value.params["url"] == "/acme/mission/"


def test_at_most_one_active_cycle(acme, alice, cycle):
    other = services.cycle_create(
        org=acme, by=alice, name="2027 Q1", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    for c in (cycle, other):
        services.cycle_transition(org=acme, by=alice, cycle=c, to_state="planning")
    services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="active")
    with pytest.raises(ValidationError, match="is active"):
        services.cycle_transition(org=acme, by=alice, cycle=other, to_state="active")


def test_the_database_refuses_a_second_active_cycle(acme, alice, cycle):
    from django.db import IntegrityError, transaction

    other = services.cycle_create(
        org=acme, by=alice, name="Other", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    Cycle.objects.for_org(acme).filter(pk=cycle.pk).update(state="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        Cycle.objects.for_org(acme).filter(pk=other.pk).update(state="active")


def test_pilot_cycles_need_pilot_teams(acme, alice, engineering):
    with pytest.raises(ValidationError) as exc:
        services.cycle_create(
            org=acme,
            by=alice,
            name="Pilot",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
            is_pilot=True,
        )
    assert "pilot_teams" in exc.value.message_dict
    cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="Pilot",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 3, 31),
        is_pilot=True,
        pilot_teams=[engineering],
    )
    assert list(cycle.pilot_teams.all()) == [engineering]


def test_closing_freezes_values(acme, alice, cycle, company_objective):
    kr = _kr(acme, alice, company_objective)
    for state in ("planning", "active", "scoring", "closed"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    with pytest.raises(ValidationError, match="frozen"):
        services.key_result_update(
            org=acme, by=alice, key_result=kr, expected_version=None, current_value=D(40)
        )
    with pytest.raises(ValidationError, match="frozen"):
        services.objective_update(
            org=acme,
            by=alice,
            objective=company_objective,
            expected_version=None,
            title="New title",
        )
    with pytest.raises(ValidationError, match="frozen"):
        _kr(acme, alice, company_objective)


def test_carry_over_copies_unfinished_key_results_once(acme, alice, cycle, company_objective):
    done = _kr(
        acme,
        alice,
        company_objective,
        title="Ship 10 robots",
        start_value=D(0),
        target_value=D(10),
        current_value=D(10),
    )
    open_kr = _kr(acme, alice, company_objective, current_value=D(30))
    nxt = services.cycle_create(
        org=acme, by=alice, name="2027 Q1", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    copies = services.cycle_carry_over(org=acme, by=alice, from_cycle=cycle, to_cycle=nxt)
    assert [c.carried_from_id for c in copies] == [open_kr.pk]
    copy = copies[0]
    assert copy.objective.cycle_id == nxt.pk
    assert copy.objective.carried_from_id == company_objective.pk
    assert (copy.start_value, copy.target_value, copy.current_value) == (D(30), D(50), None)
    assert done.pk not in {c.carried_from_id for c in copies}
    assert services.cycle_carry_over(org=acme, by=alice, from_cycle=cycle, to_cycle=nxt) == []


# --- Objectives, alignment ------------------------------------------------------------------


def test_company_objectives_state_the_part_of_the_mission_they_serve(acme, alice, cycle):
    with pytest.raises(ValidationError) as exc:
        services.objective_create(
            org=acme, by=alice, cycle=cycle, title="Grow", level=Level.COMPANY, owner=alice
        )
    assert "mission_link" in exc.value.message_dict


def test_team_objectives_need_a_team_and_a_manager_of_it(
    acme, alice, bob, carol, cycle, engineering
):
    with pytest.raises(ValidationError):
        services.objective_create(
            org=acme, by=alice, cycle=cycle, title="T", level=Level.TEAM, owner=bob
        )
    with pytest.raises(PermissionDenied):
        services.objective_create(
            org=acme,
            by=carol,
            cycle=cycle,
            title="T",
            level=Level.TEAM,
            owner=carol,
            team=engineering,
        )
    objective = services.objective_create(
        org=acme, by=bob, cycle=cycle, title="T", level=Level.TEAM, owner=bob, team=engineering
    )
    assert objective.team == engineering


def test_members_write_their_own_individual_objectives_only(acme, bob, carol, erin, cycle):
    own = services.objective_create(
        org=acme, by=carol, cycle=cycle, title="Mine", level=Level.INDIVIDUAL, owner=carol
    )
    with pytest.raises(PermissionDenied):
        services.objective_create(
            org=acme, by=carol, cycle=cycle, title="Hers", level=Level.INDIVIDUAL, owner=erin
        )
    with pytest.raises(PermissionDenied):
        services.objective_update(
            org=acme, by=erin, objective=own, expected_version=None, title="Hijack"
        )
    # Carol's manager may edit it.
    services.objective_update(
        org=acme, by=bob, objective=own, expected_version=None, title="Mine, sharpened"
    )


def test_company_objectives_are_for_admins(acme, bob, cycle):
    with pytest.raises(PermissionDenied):
        services.objective_create(
            org=acme,
            by=bob,
            cycle=cycle,
            title="C",
            level=Level.COMPANY,
            owner=bob,
            mission_link="m",
        )


def test_alignment_goes_upward_within_the_cycle(
    acme, alice, bob, carol, cycle, company_objective, engineering
):
    team_obj = services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Team",
        level=Level.TEAM,
        owner=bob,
        team=engineering,
        aligned_to=[company_objective],
    )
    mine = services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Mine",
        level=Level.INDIVIDUAL,
        owner=carol,
        aligned_to=[team_obj],
    )
    assert list(team_obj.aligned_to.all()) == [company_objective]
    # Downward is refused.
    with pytest.raises(ValidationError, match="higher level"):
        services.objective_update(
            org=acme,
            by=alice,
            objective=company_objective,
            expected_version=None,
            aligned_to=[team_obj],
        )
    # Another cycle is refused.
    other = services.cycle_create(
        org=acme, by=alice, name="Other", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    elsewhere = services.objective_create(
        org=acme,
        by=alice,
        cycle=other,
        title="E",
        level=Level.COMPANY,
        owner=alice,
        mission_link="m",
    )
    with pytest.raises(ValidationError, match="another cycle"):
        services.objective_update(
            org=acme, by=carol, objective=mine, expected_version=None, aligned_to=[elsewhere]
        )


def test_team_objectives_align_to_a_parent_teams_objective_only(acme, alice, cycle):
    parent = TeamFactory(organization=acme, name="Engineering")
    child = TeamFactory(organization=acme, name="Platform", parent=parent)
    upper = services.objective_create(
        org=acme, by=alice, cycle=cycle, title="Upper", level=Level.TEAM, owner=alice, team=parent
    )
    lower = services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Lower",
        level=Level.TEAM,
        owner=alice,
        team=child,
        aligned_to=[upper],
    )
    with pytest.raises(ValidationError, match="not above this one"):
        services.objective_update(
            org=acme, by=alice, objective=upper, expected_version=None, aligned_to=[lower]
        )
    assert Alignment.objects.for_org(acme).count() == 1


def test_an_alignment_that_would_close_a_loop_is_refused(acme, alice, cycle):
    """Every single link goes upward, yet the tree would loop: the loop check refuses it.

    The teams were reorganised after the first link was made (Platform, once under
    Engineering, now leads it), so "Lower" is now a team above "Upper"'s and that link is,
    on its own, allowed; only the existing Lower → Upper link makes it a loop."""
    engineering = TeamFactory(organization=acme, name="Engineering")
    platform = TeamFactory(organization=acme, name="Platform", parent=engineering)
    upper = services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Upper",
        level=Level.TEAM,
        owner=alice,
        team=engineering,
    )
    lower = services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Lower",
        level=Level.TEAM,
        owner=alice,
        team=platform,
        aligned_to=[upper],
    )
    platform.parent = None
    platform.save()
    engineering.parent = platform
    engineering.save()
    assert services._team_is_above(acme, platform.pk, engineering.pk)
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme, by=alice, objective=upper, expected_version=None, aligned_to=[lower]
        )
    assert exc.value.message_dict == {
        "aligned_to": ["That alignment would make a loop in the tree."]
    }
    assert list(Alignment.objects.for_org(acme).values_list("child", "parent")) == [
        (lower.pk, upper.pk)
    ]


# --- Alignment after a move to another level or team ---------------------------------------


@pytest.fixture
def team_and_mine(acme, bob, carol, cycle, company_objective, engineering):
    """A team objective aligned to the company's, and carol's aligned to the team's."""
    team = services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Team goal",
        level=Level.TEAM,
        owner=bob,
        team=engineering,
        aligned_to=[company_objective],
    )
    mine = services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Carol's goal",
        level=Level.INDIVIDUAL,
        owner=carol,
        aligned_to=[team],
    )
    return team, mine


def _links(org):
    return sorted(Alignment.objects.for_org(org).values_list("child", "parent"))


def test_a_move_that_would_leave_a_parent_not_above_is_refused(
    acme, alice, bob, carol, engineering, team_and_mine
):
    team, mine = team_and_mine
    before = _links(acme)
    # Carol's objective becomes a team objective of the team it contributes to: the team's
    # objective would no longer be above it. aligned_to is not sent (as an API PATCH).
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme,
            by=bob,
            objective=mine,
            expected_version=1,
            level=Level.TEAM,
            team=engineering,
        )
    (message,) = exc.value.message_dict["level"]
    assert "contributes to “Team goal”" in message
    mine.refresh_from_db()
    assert (mine.level, mine.team_id, mine.version) == (Level.INDIVIDUAL, None, 1)
    assert _links(acme) == before
    # Sending the links it keeps (none) with the move is allowed.
    services.objective_update(
        org=acme,
        by=bob,
        objective=mine,
        expected_version=1,
        level=Level.TEAM,
        team=engineering,
        aligned_to=[],
    )
    assert (mine.pk, team.pk) not in _links(acme)


def test_a_move_that_would_leave_a_contributor_not_below_is_refused(
    acme, alice, team_and_mine, company_objective
):
    team, _mine = team_and_mine
    before = _links(acme)
    # The team objective moves down to individual: carol's would no longer be below it,
    # even though the team objective's own links are re-sent.
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme,
            by=alice,
            objective=team,
            expected_version=1,
            level=Level.INDIVIDUAL,
            aligned_to=[company_objective],
        )
    (message,) = exc.value.message_dict["level"]
    assert "“Carol's goal” contributes to this objective" in message
    team.refresh_from_db()
    assert team.level == Level.TEAM
    assert _links(acme) == before


def test_a_move_to_another_team_rechecks_the_team_links(acme, alice, cycle):
    engineering = TeamFactory(organization=acme, name="Engineering")
    platform = TeamFactory(organization=acme, name="Platform", parent=engineering)
    robotics = TeamFactory(organization=acme, name="Robotics", parent=engineering)
    upper = services.objective_create(
        org=acme, by=alice, cycle=cycle, title="Upper", level=Level.TEAM, owner=alice,
        team=engineering,
    )  # fmt: skip
    lower = services.objective_create(
        org=acme, by=alice, cycle=cycle, title="Lower", level=Level.TEAM, owner=alice,
        team=platform, aligned_to=[upper],
    )  # fmt: skip
    # Upward: Lower moves to Engineering itself, no longer below Upper's team.
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme, by=alice, objective=lower, expected_version=None, team=engineering
        )
    assert "contributes to “Upper”" in exc.value.message_dict["team"][0]
    # Downward: Upper moves to Robotics, not above Platform.
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme, by=alice, objective=upper, expected_version=None, team=robotics
        )
    assert "“Lower” contributes to this objective" in exc.value.message_dict["team"][0]
    # A move that keeps every link upward is no problem.
    services.objective_update(
        org=acme, by=alice, objective=lower, expected_version=None, team=robotics
    )
    upper.refresh_from_db()
    assert upper.team == engineering
    assert _links(acme) == [(lower.pk, upper.pk)]


def test_a_refused_move_names_no_private_objective_the_mover_may_not_read(
    acme, bob, carol, cycle, team_and_mine
):
    team, _mine = team_and_mine
    services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Secret plan",
        level=Level.INDIVIDUAL,
        owner=carol,
        visibility="private",
        aligned_to=[team],
    )
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme, by=bob, objective=team, expected_version=None, level=Level.INDIVIDUAL
        )
    messages = exc.value.message_dict["level"]
    assert len(messages) == 2
    assert not any("Secret" in m for m in messages)
    assert any("a private objective" in m for m in messages)


def test_alignment_to_another_organisations_objective_is_refused(
    acme, globex, alice, mallory, cycle
):
    g_cycle = services.cycle_create(
        org=globex, by=mallory, name="G", start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)
    )
    g_obj = services.objective_create(
        org=globex,
        by=mallory,
        cycle=g_cycle,
        title="G",
        level=Level.COMPANY,
        owner=mallory,
        mission_link="m",
    )
    with pytest.raises(ValidationError, match="another organisation"):
        services.objective_create(
            org=acme,
            by=alice,
            cycle=cycle,
            title="X",
            level=Level.INDIVIDUAL,
            owner=alice,
            aligned_to=[g_obj],
        )


def test_stale_objective_edit_is_refused_with_the_newer_values(acme, alice, company_objective):
    services.objective_update(
        org=acme, by=alice, objective=company_objective, expected_version=1, title="First edit"
    )
    with pytest.raises(services.ConflictError) as exc:
        services.objective_update(
            org=acme, by=alice, objective=company_objective, expected_version=1, title="Second edit"
        )
    assert exc.value.current.title == "First edit"
    assert "changed since you opened it" in exc.value.messages[0]


def test_history_keeps_who_when_and_old_to_new(acme, alice, company_objective):
    services.objective_update(
        org=acme,
        by=alice,
        objective=company_objective,
        expected_version=1,
        title="Delight every workshop owner",
    )
    newest, previous = company_objective.history.all()[:2]
    delta = newest.diff_against(previous)
    change = next(c for c in delta.changes if c.field == "title")
    assert (change.old, change.new) == ("Delight workshop owners", "Delight every workshop owner")
    assert newest.history_user == alice.user


# --- Key results ------------------------------------------------------------------------------


def test_progress_is_stored_raw_and_objective_progress_weighted(acme, alice, company_objective):
    a = _kr(acme, alice, company_objective, current_value=D(80))  # (80-20)/30 = 2.0 raw
    b = _kr(
        acme,
        alice,
        company_objective,
        title="Cut churn from 10 to 5 %",
        kind="percent",
        direction="decrease",
        start_value=D(10),
        target_value=D(5),
        current_value=D(9),
        weight=D(3),
    )  # 0.2
    assert a.progress == D("2.0000") and a.capped_progress == D(1)
    assert b.progress == D("0.2000") and b.unit == "%"
    company_objective.refresh_from_db()
    assert company_objective.progress == D("0.4000")  # (1*1 + 0.2*3) / 4


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"start_value": D(5), "target_value": D(5)}, "target_value"),
        ({"direction": "increase", "start_value": D(10), "target_value": D(5)}, "target_value"),
        ({"direction": "decrease", "start_value": D(5), "target_value": D(10)}, "target_value"),
        ({"direction": "stay_between", "lower_bound": D(9), "upper_bound": D(3)}, "upper_bound"),
        ({"direction": "stay_between", "lower_bound": None}, "lower_bound"),
        ({"kind": "currency", "currency": "dollars"}, "currency"),
        ({"confidence": 11}, "confidence"),
        ({"weight": D(0)}, "weight"),
        ({"title": "  "}, "title"),
        ({"kind": "milestone", "current_value": D(5)}, "current_value"),
    ],
)
def test_key_result_definitions_are_checked(acme, alice, company_objective, fields, field):
    with pytest.raises(ValidationError) as exc:
        _kr(acme, alice, company_objective, **fields)
    assert field in exc.value.message_dict
    assert not KeyResult.objects.for_org(acme).exists()


def test_stay_and_milestone_key_results(acme, alice, company_objective):
    stay = _kr(
        acme,
        alice,
        company_objective,
        title="Keep uptime at least 99.9 %",
        direction="stay_at_least",
        start_value=None,
        target_value=D("99.9"),
        current_value=D("99.95"),
    )
    band = _kr(
        acme,
        alice,
        company_objective,
        title="Keep stock between 10 and 20 days",
        direction="stay_between",
        start_value=None,
        target_value=None,
        lower_bound=D(10),
        upper_bound=D(20),
        current_value=D(25),
    )
    milestone = _kr(
        acme,
        alice,
        company_objective,
        title="Certified CE",
        kind="milestone",
        start_value=None,
        target_value=None,
        current_value=D(1),
    )
    assert (stay.progress, band.progress, milestone.progress) == (D(1), D(0), D(1))
    assert milestone.target_value == D(1)


def test_stale_key_result_edit_is_refused(acme, alice, company_objective):
    kr = _kr(acme, alice, company_objective)
    services.key_result_update(
        org=acme, by=alice, key_result=kr, expected_version=1, current_value=D(30)
    )
    with pytest.raises(services.ConflictError) as exc:
        services.key_result_update(
            org=acme, by=alice, key_result=kr, expected_version=1, current_value=D(45)
        )
    assert exc.value.current.current_value == D(30)
    kr.refresh_from_db()
    assert kr.current_value == D(30) and kr.version == 2


def test_a_kr_owner_may_edit_their_kr_but_not_the_objective(acme, alice, carol, company_objective):
    kr = _kr(acme, alice, company_objective, owner=carol)
    services.key_result_update(
        org=acme, by=carol, key_result=kr, expected_version=None, current_value=D(25)
    )
    with pytest.raises(PermissionDenied):
        services.objective_update(
            org=acme, by=carol, objective=company_objective, expected_version=None, title="x"
        )


# --- Initiatives, reviews -------------------------------------------------------------------


def test_initiatives_under_a_key_result(acme, alice, company_objective):
    kr = _kr(acme, alice, company_objective)
    initiative = services.initiative_save(
        org=acme,
        by=alice,
        key_result=kr,
        title="Call 50 users",
        backlog_url="https://jira.example/browse/OKR-1",
    )
    services.initiative_save(
        org=acme,
        by=alice,
        key_result=kr,
        initiative=initiative,
        title="Call 50 users",
        status="done",
    )
    initiative.refresh_from_db()
    assert initiative.status == "done"
    with pytest.raises(ValidationError):
        services.initiative_save(
            org=acme, by=alice, key_result=kr, title="Bad link", backlog_url="not a url"
        )


def test_okr_master_reviews_and_the_owner_sees_the_request(acme, alice, carol, erin, cycle):
    mine = services.objective_create(
        org=acme, by=carol, cycle=cycle, title="Mine", level=Level.INDIVIDUAL, owner=carol
    )
    with pytest.raises(ValidationError, match="what should change"):
        services.review_submit(org=acme, by=erin, objective=mine, decision="changes_requested")
    services.review_submit(
        org=acme,
        by=erin,
        objective=mine,
        decision="changes_requested",
        comment="Add a number to the second KR.",
    )
    mine.refresh_from_db()
    assert mine.review_status == ReviewStatus.CHANGES_REQUESTED
    assert mine.reviews.get().comment == "Add a number to the second KR."
    with pytest.raises(PermissionDenied):
        services.review_submit(org=acme, by=carol, objective=mine, decision="approved")


def test_a_closed_cycles_objectives_are_no_longer_reviewed(acme, alice, carol, erin, cycle):
    mine = services.objective_create(
        org=acme, by=carol, cycle=cycle, title="Mine", level=Level.INDIVIDUAL, owner=carol
    )
    for state in ("planning", "active", "scoring", "closed"):
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    for decision, comment in (("approved", ""), ("changes_requested", "Add a number.")):
        with pytest.raises(ValidationError) as exc:
            services.review_submit(
                org=acme, by=erin, objective=mine, decision=decision, comment=comment
            )
        assert exc.value.messages == [
            "2026 Q4 is closed; its values are frozen and can no longer change."
        ]
    mine.refresh_from_db()
    assert mine.review_status == ReviewStatus.NOT_REVIEWED
    assert not mine.reviews.exists()


# --- Database guards ------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="composite keys are PostgreSQL's")
def test_a_key_result_cannot_point_at_another_organisations_objective(
    acme, globex, alice, mallory, company_objective
):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "INSERT INTO cycles_keyresult (organization_id, objective_id, title, owner_id, kind,"
            " currency, direction, unit, weight, confidence, progress, position, version,"
            " created_at, updated_at) VALUES (%s, %s, 'x', %s, 'number', '', 'increase', '', 1,"
            " 5, 0, 0, 1, now(), now())",
            [globex.pk, company_objective.pk, mallory.pk],
        )


def test_team_leads_of_a_parent_team_manage_sub_teams(acme, alice, carol, cycle):
    parent = TeamFactory(organization=acme, name="Engineering")
    child = TeamFactory(organization=acme, name="Platform", parent=parent)
    lead = Membership.objects.for_org(acme).get(pk=carol.pk)
    TeamMembershipFactory(organization=acme, team=parent, membership=lead, is_lead=True)
    objective = services.objective_create(
        org=acme,
        by=lead,
        cycle=cycle,
        title="Platform goal",
        level=Level.TEAM,
        owner=lead,
        team=child,
    )
    assert Objective.objects.for_org(acme).filter(pk=objective.pk).exists()
