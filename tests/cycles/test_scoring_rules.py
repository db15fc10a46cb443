"""End-of-quarter self-scoring: owners score 0.0-1.0 with a reflection; managers comment."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cycles import services
from cycles.models import KeyResultScore, Level

pytestmark = pytest.mark.django_db


@pytest.fixture
def scoring_cycle(acme, alice):
    cycle = services.cycle_create(
        org=acme, by=alice, name="Q", start_date=date(2026, 7, 1), end_date=date(2026, 9, 30)
    )
    for state in ("planning", "active"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


def _kr(acme, carol, cycle, type_="committed"):
    objective = services.objective_create(
        org=acme, by=carol, cycle=cycle, title="O", level=Level.INDIVIDUAL, owner=carol, type=type_
    )
    return services.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="From 0 to 10",
        start_value=D(0),
        target_value=D(10),
        current_value=D(7),
    )


def _to_scoring(acme, alice, cycle):
    return services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")


def test_scores_only_during_scoring(acme, alice, carol, scoring_cycle):
    kr = _kr(acme, carol, scoring_cycle)
    with pytest.raises(ValidationError, match="not in scoring"):
        services.score_submit(org=acme, by=carol, key_result=kr, score=D("1.0"))


def test_committed_below_one_needs_a_reflection(acme, alice, carol, scoring_cycle):
    kr = _kr(acme, carol, scoring_cycle)
    _to_scoring(acme, alice, scoring_cycle)
    with pytest.raises(ValidationError) as exc:
        services.score_submit(org=acme, by=carol, key_result=kr, score=D("0.7"))
    assert set(exc.value.message_dict) == {"what_to_change", "reason"}
    record = services.score_submit(
        org=acme,
        by=carol,
        key_result=kr,
        score=D("0.7"),
        what_to_change="Start the supplier talks in week 1.",
        reason="blocked",
    )
    assert (record.score, record.suggested, record.band) == (D("0.7"), D("0.7"), "green")


def test_aspirational_scores_need_no_reflection(acme, alice, carol, scoring_cycle):
    kr = _kr(acme, carol, scoring_cycle, type_="aspirational")
    _to_scoring(acme, alice, scoring_cycle)
    record = services.score_submit(org=acme, by=carol, key_result=kr, score=D("0.4"))
    assert record.band == "yellow"
    # Scoring again replaces the score; one row per KR.
    services.score_submit(org=acme, by=carol, key_result=kr, score=D("0.5"))
    assert KeyResultScore.objects.for_org(acme).get().score == D("0.5")


@pytest.mark.parametrize("bad", ["1.1", "-0.1", "0.75", "x", "NaN"])
def test_scores_are_one_decimal_between_zero_and_one(acme, alice, carol, scoring_cycle, bad):
    kr = _kr(acme, carol, scoring_cycle, type_="aspirational")
    _to_scoring(acme, alice, scoring_cycle)
    with pytest.raises(ValidationError) as exc:
        services.score_submit(org=acme, by=carol, key_result=kr, score=bad)
    assert "score" in exc.value.message_dict


def test_only_the_owner_scores_and_the_manager_reviews(
    acme, alice, bob, carol, erin, scoring_cycle
):
    kr = _kr(acme, carol, scoring_cycle)
    _to_scoring(acme, alice, scoring_cycle)
    with pytest.raises(PermissionDenied):
        services.score_submit(org=acme, by=erin, key_result=kr, score=D("1.0"))
    record = services.score_submit(org=acme, by=carol, key_result=kr, score=D("1.0"))
    with pytest.raises(PermissionDenied):
        services.score_review(org=acme, by=erin, score=record, comment="Hm")
    with pytest.raises(PermissionDenied):
        services.score_review(org=acme, by=carol, score=record, comment="Me")
    reviewed = services.score_review(org=acme, by=bob, score=record, comment="Fair score")
    assert reviewed.manager_comment == "Fair score" and reviewed.reviewed_by == bob
