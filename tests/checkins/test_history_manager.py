"""History managers are built once per model, and still answer per instance."""

from __future__ import annotations

import pytest

from checkins.models import CheckIn
from cycles import services
from cycles.models import KeyResult, Objective

pytestmark = pytest.mark.django_db


def test_the_history_manager_class_is_built_once():
    for model in (KeyResult, Objective, CheckIn):
        assert type(model.history) is type(model.history)


def test_an_instance_history_holds_that_row_only(acme, carol, kr):
    other = services.key_result_create(
        org=acme,
        by=carol,
        objective=kr.objective,
        owner=carol,
        title="Another one",
        start_value=0,
        target_value=5,
    )
    services.key_result_update(
        org=acme, by=carol, key_result=kr, expected_version=None, title="Renamed"
    )
    assert type(kr.history) is type(other.history)
    assert [h.title for h in kr.history.order_by("history_date")] == [kr.title, "Renamed"]
    assert [h.title for h in other.history.all()] == ["Another one"]
