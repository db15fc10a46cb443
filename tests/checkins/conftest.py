"""An active cycle at Acme with key results owned by carol (bob is her manager)."""

from datetime import date
from decimal import Decimal as D

import pytest

from cycles import services as okr
from cycles.models import Level


@pytest.fixture
def cycle(acme, alice):
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="2026 Q4",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
    )
    for state in ("planning", "active"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


@pytest.fixture
def objective(acme, carol, cycle):
    return okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=carol,
        title="Make calibration self-explanatory",
    )


@pytest.fixture
def kr(acme, carol, objective):
    return okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Cut help requests from 30 to 10",
        start_value=D(30),
        target_value=D(10),
        direction="decrease",
    )


@pytest.fixture
def kr2(acme, carol, objective):
    return okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="First-try success from 50 % to 90 %",
        kind="percent",
        start_value=D(50),
        target_value=D(90),
    )
