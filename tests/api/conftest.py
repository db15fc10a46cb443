"""The API cast: clients signed in by token or session, and a small OKR set for Acme.

Rows are made through the same services as the pages and the API (``cycles.services``).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cycles import services as cycle_services
from cycles.models import CycleState, Level
from okrapp import services


def make_token(membership, name="script"):
    _token, secret = services.api_token_create(
        org=membership.organization, by=membership, name=name
    )
    return secret


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_token():
    """``as_token(membership)``: a client sending that person's new personal token."""

    def _client(membership):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(membership)}")
        return client

    return _client


@pytest.fixture
def as_session():
    """``as_session(membership)``: a client signed in through the browser session."""

    def _client(membership, **kwargs):
        client = APIClient(**kwargs)
        client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _client


def url(org, path=""):
    return f"/api/v1/{org.slug}/{path}"


@pytest.fixture
def today(acme):
    return timezone.localtime(timezone.now(), acme.zoneinfo).date()


@pytest.fixture
def cycle(acme, alice, today):
    """The active quarter of Acme (mission and vision are stated by the factory)."""
    cycle = cycle_services.cycle_create(
        org=acme,
        by=alice,
        name="Current quarter",
        start_date=today - timedelta(days=45),
        end_date=today + timedelta(days=45),
    )
    for state in (CycleState.PLANNING, CycleState.ACTIVE):
        cycle = cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


@pytest.fixture
def next_cycle(acme, alice, today):
    return cycle_services.cycle_create(
        org=acme,
        by=alice,
        name="Next quarter",
        start_date=today + timedelta(days=46),
        end_date=today + timedelta(days=136),
    )


@pytest.fixture
def company_objective(acme, alice, cycle):
    return cycle_services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Win the workshop market",
        level=Level.COMPANY,
        owner=alice,
        mission_link="Help small workshops build things.",
        status="published",
    )


@pytest.fixture
def team_objective(acme, bob, cycle, engineering, company_objective):
    return cycle_services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Ship the robot arm",
        level=Level.TEAM,
        team=engineering,
        owner=bob,
        aligned_to=[company_objective],
    )


@pytest.fixture
def carol_objective(acme, carol, cycle, team_objective):
    return cycle_services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Learn the firmware",
        level=Level.INDIVIDUAL,
        owner=carol,
        aligned_to=[team_objective],
    )


@pytest.fixture
def private_objective(acme, carol, cycle):
    """Carol's private objective: erin (a plain member here) may not read it."""
    return cycle_services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Secret career plan",
        description="Nobody else should read this.",
        level=Level.INDIVIDUAL,
        owner=carol,
        visibility="private",
    )


@pytest.fixture
def key_result(acme, bob, team_objective):
    return cycle_services.key_result_create(
        org=acme,
        by=bob,
        objective=team_objective,
        title="Arm lifts 5 kg",
        owner=bob,
        start_value=Decimal(0),
        target_value=Decimal(5),
        current_value=Decimal(2),
        unit="kg",
    )


@pytest.fixture
def private_key_result(acme, carol, private_objective):
    return cycle_services.key_result_create(
        org=acme,
        by=carol,
        objective=private_objective,
        title="Secret KR",
        owner=carol,
        start_value=Decimal(0),
        target_value=Decimal(10),
    )


@pytest.fixture
def initiative(acme, bob, key_result):
    return cycle_services.initiative_save(
        org=acme, by=bob, key_result=key_result, title="Stronger motor", status="in_progress"
    )


# --- The weekly cadence (checkins.api) ----------------------------------------------------------


@pytest.fixture
def carol_kr(acme, carol, carol_objective):
    """A key result of carol's public individual objective (bob, her manager, may check in)."""
    return cycle_services.key_result_create(
        org=acme,
        by=carol,
        objective=carol_objective,
        title="Cut help requests from 30 to 10",
        owner=carol,
        start_value=Decimal(30),
        target_value=Decimal(10),
        direction="decrease",
    )


@pytest.fixture
def planned_kr(acme, carol, next_cycle):
    """A key result of carol in next quarter's (draft) cycle: no check-ins yet."""
    objective = cycle_services.objective_create(
        org=acme,
        by=carol,
        cycle=next_cycle,
        title="Next quarter's plan",
        level=Level.INDIVIDUAL,
        owner=carol,
    )
    return cycle_services.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        title="Plan the next thing",
        owner=carol,
        start_value=Decimal(0),
        target_value=Decimal(10),
    )
