"""schemathesis against /api/schema/: every operation, authenticated, in-process (WSGI).

Acme has a cycle with objectives, key results, initiatives, check-ins, comments, kudos and
an end-of-quarter score, so that generated ids often hit real rows (half of the path ids and
most body ids are drawn from them). The caller is alice, an admin, with a real personal API
token, so requests reach the services rather than stopping at the role check. Checks: no 5xx,
every status code documented, content types and bodies as the schema says.

Deterministic (hypothesis derandomised, no example database) and bounded (MAX_EXAMPLES per
operation): about a minute on the 2-core machine.
"""

import logging
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checkins import services as cadence
from cycles import services as okr
from cycles.models import CycleState, Level
from tests.api.conftest import make_token

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Path parameters that name rows: drawn from the real ids half the time.
ID_PARAMETERS = {"id", "kr_id"}


@pytest.fixture
def last_quarter(acme, alice, today):
    """Last quarter, in scoring, with a scored key result (made before the current quarter
    goes active: one active cycle at a time)."""
    last = okr.cycle_create(
        org=acme,
        by=alice,
        name="Last quarter",
        start_date=today - timedelta(days=140),
        end_date=today - timedelta(days=50),
    )
    for state in (CycleState.PLANNING, CycleState.ACTIVE):
        last = okr.cycle_transition(org=acme, by=alice, cycle=last, to_state=state)
    objective = okr.objective_create(
        org=acme, by=alice, cycle=last, title="Last quarter's goal", level=Level.COMPANY,
        owner=alice, mission_link="Help small workshops build things.",
    )  # fmt: skip
    key_result = okr.key_result_create(
        org=acme, by=alice, objective=objective, title="Ship 3 kits", owner=alice,
        start_value=Decimal(0), target_value=Decimal(3),
    )  # fmt: skip
    last = okr.cycle_transition(org=acme, by=alice, cycle=last, to_state=CycleState.SCORING)
    score = okr.score_submit(
        org=acme, by=alice, key_result=key_result, score=Decimal("1.0"), what_worked="Focus"
    )
    return last, objective, key_result, score


@pytest.fixture
def acme_okrs(
    last_quarter, acme, alice, bob, carol, erin, engineering, cycle, key_result, carol_kr
):
    """Rows of every kind the API serves, with their ids."""
    last, old_objective, old_kr, score = last_quarter
    initiative = okr.initiative_save(
        org=acme, by=bob, key_result=key_result, title="Stronger motor", status="in_progress"
    )
    checkins = [
        cadence.checkin_record(
            org=acme, by=bob, key_result=key_result, value=Decimal(3), confidence=7
        ),
        cadence.checkin_record(
            org=acme, by=carol, key_result=carol_kr, value=Decimal(25), confidence=5
        ),
    ]
    comment = cadence.comment_create(
        org=acme, by=carol, key_result=key_result, body="Nice progress @bob"
    )
    kudos = cadence.kudos_give(
        org=acme, by=bob, receiver=carol, message="Thanks for the firmware", key_result=carol_kr
    )
    return {
        "cycle": [cycle.pk, last.pk],
        "objective": [key_result.objective_id, carol_kr.objective_id, old_objective.pk],
        "key_result": [key_result.pk, carol_kr.pk, old_kr.pk],
        "initiative": [initiative.pk],
        "checkin": [c.pk for c in checkins],
        "comment": [comment.pk],
        "kudos": [kudos.pk],
        "score": [score.pk],
        "membership": [alice.pk, bob.pk, carol.pk, erin.pk],
        "team": [engineering.pk],
    }


# The rows a path's {id} names, by the collection in front of it.
COLLECTIONS = {
    "cycles": "cycle",
    "objectives": "objective",
    "key-results": "key_result",
    "initiatives": "initiative",
    "scores": "score",
    "comments": "comment",
    "kudos": "kudos",
}
# Body and query fields that carry ids, by the kind of row.
ID_FIELDS = {
    "cycle": "cycle",
    "from_cycle": "cycle",
    "objective": "objective",
    "aligned_to": "objective",
    "key_result": "key_result",
    "checkin": "checkin",
    "owner": "membership",
    "receiver": "membership",
    "giver": "membership",
    "team": "team",
    "pilot_teams": "team",
}


@pytest.fixture
def wsgi_app():
    """Django's WSGI app, called in this thread inside the test's transaction.

    Like Django's test client, it must not close the database connection at the end of each
    request (on PostgreSQL that would end the test's transaction).
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _schema(app, org_slug: str, ids: dict[str, list[int]]):
    """The served schema, with hooks that put Acme's slug and (often) real ids into cases."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)

    def real_ids(path: str, name: str) -> list[int]:
        if name == "kr_id":
            return ids["key_result"]
        collection = path.split("/")[4]  # /api/v1/{org_slug}/<collection>/{id}/
        return ids[COLLECTIONS[collection]]

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        path = context.operation.path
        draws = {
            name: st.one_of(st.just(path_parameters[name]), st.sampled_from(real_ids(path, name)))
            for name in ID_PARAMETERS & set(path_parameters)
        }
        fixed = {**path_parameters, "org_slug": org_slug}
        return st.fixed_dictionaries(draws).map(lambda drawn: {**fixed, **drawn})

    def with_real_ids(values):
        if not isinstance(values, dict):
            return st.just(values)
        draws = {}
        for name, value in values.items():
            kind = ID_FIELDS.get(name)
            if kind is None:
                continue
            real = st.sampled_from(ids[kind])
            draws[name] = st.one_of(
                st.just(value), st.lists(real, max_size=3) if isinstance(value, list) else real
            )
        return st.fixed_dictionaries(draws).map(lambda drawn: {**values, **drawn})

    @schema.hook
    def flatmap_body(context, body):
        return with_real_ids(body)

    @schema.hook
    def flatmap_query(context, query):
        return with_real_ids(query)

    return schema


def test_every_operation_answers_as_documented_and_never_5xx(
    wsgi_app, acme, alice, acme_okrs, caplog
):
    caplog.set_level(logging.ERROR, logger="django.request")  # 4xx by the thousand; 5xx shown
    schema = _schema(wsgi_app, acme.slug, acme_okrs)
    headers = {"Authorization": f"Bearer {make_token(alice, 'fuzz')}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    calls, failures = Counter(), []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                response = case.call(headers=headers)
                calls[response.status_code] += 1
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # report them all, not the first
                failures.append(f"{operation.label} ({mode.value}): {exc}")

    print(
        f"schemathesis: {len(operations)} operations, {sum(calls.values())} calls, "
        f"status codes {dict(sorted(calls.items()))}"
    )
    assert failures == [], "\n\n".join(failures)
    assert len(operations) >= 30
    assert calls[500] == 0
    # Real rows were reached, not only 404s and 400s.
    assert sum(n for code, n in calls.items() if 200 <= code < 300) >= 100
