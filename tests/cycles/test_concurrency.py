"""Fifty people save the same key result in the same instant, all from the same version.

Exactly one save wins; the 49 others get the conflict message with the winner's values,
their own typed values are handed back to them (form or API), and the history holds the
winner only. Each save runs in its own thread with its own database connection (closed
at the end), released together by a barrier, through the real service and the real
HTTP paths.

On SQLite the test database lives in memory with a shared cache, where a second writer is
refused at once ("database table is locked") instead of waiting for the lock: the race
there says nothing about the service, so these tests need PostgreSQL (CI runs them there).
"""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.test import Client
from rest_framework.test import APIClient

from checkins import services as checkin_services
from checkins.models import CheckIn
from cycles import services
from cycles.models import Initiative, KeyResult, KeyResultScore, Level, Objective
from cycles.services import ConflictError
from okrapp import rls

N = 50

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the in-memory SQLite test database refuses a second "
        "writer at once instead of queueing it, so 50 parallel writers prove nothing there",
    ),
]

KR_CONFLICT = "This key result was changed since you opened it."
CHECKIN_CONFLICT = "This check-in was changed since you opened the page."


def in_parallel(work, n: int = N) -> list[tuple[str, object]]:
    """``work(i)`` in ``n`` threads released together: ``("ok", result)`` or
    ``("error", exception)`` per thread, in order. Every thread's connection is closed."""
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            # A new thread's connection has no row-level security scope (like a fresh
            # process); test code runs in system scope, requests narrow it themselves.
            with rls.system_scope():
                outcomes[i] = ("ok", work(i))
        except Exception as exc:  # the outcome is what the test inspects
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer never finished (deadlock?)"
    return outcomes


@pytest.fixture
def cycle(acme, alice):
    cycle = services.cycle_create(
        org=acme, by=alice, name="2026 Q4", start_date=date(2026, 1, 1), end_date=date(2030, 12, 31)
    )
    for state in ("planning", "active"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


@pytest.fixture
def kr(acme, carol, cycle):
    objective = services.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol, title="Ship it"
    )
    return services.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Grow weekly workshops from 40 to 90",
        start_value=D(40),
        target_value=D(90),
    )


def _split(outcomes):
    wins = [(i, r) for i, (kind, r) in enumerate(outcomes) if kind == "ok"]
    losses = [(i, r) for i, (kind, r) in enumerate(outcomes) if kind == "error"]
    return wins, losses


# --- Key result edits ------------------------------------------------------------------------


def test_fifty_service_edits_from_one_version_one_wins(acme, carol, kr):
    assert kr.version == 1

    def edit(i):
        return services.key_result_update(
            org=acme,
            by=carol,
            key_result=kr,
            expected_version=1,
            title=f"Grow weekly workshops from 40 to {100 + i}",
            target_value=D(100 + i),
        )

    wins, losses = _split(in_parallel(edit))
    assert len(wins) == 1, [type(e).__name__ for _, e in losses][:3]
    winner, saved = wins[0]
    assert len(losses) == N - 1
    for _i, exc in losses:
        assert isinstance(exc, ConflictError), repr(exc)
        assert KR_CONFLICT in exc.messages[0]
        # The loser is shown what won, so nothing is overwritten unseen.
        assert exc.current.version == 2
        assert exc.current.target_value == D(100 + winner)

    stored = KeyResult.objects.for_org(acme).get(pk=kr.pk)
    assert stored.version == 2
    assert stored.target_value == D(100 + winner) == saved.target_value
    # History: the creation and the winner's edit, nothing of the 49 others.
    history = list(stored.history.order_by("history_id"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert history[-1].target_value == D(100 + winner)
    assert history[-1].version == 2


def test_fifty_form_posts_one_wins_and_the_others_get_their_input_back(acme, carol, kr):
    """The key result's edit page: the losers see the message and their own values, now
    carrying the newer version (saving again is a deliberate overwrite)."""
    from cycles.forms import KeyResultForm

    base = {k: ("" if v is None else str(v)) for k, v in KeyResultForm.initial_for(kr).items()}
    clients = []
    for _ in range(N):
        client = Client()
        client.force_login(carol.user, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(client)
    path = f"/{acme.slug}/key-results/{kr.pk}/edit/"

    def post(i):
        title = f"Grow weekly workshops from 40 to {200 + i} (edit {i})"
        return clients[i].post(path, {**base, "title": title, "target_value": str(200 + i)})

    outcomes = in_parallel(post)
    assert all(kind == "ok" for kind, _ in outcomes), [r for k, r in outcomes if k != "ok"][:1]
    saved = [i for i, (_, r) in enumerate(outcomes) if r.status_code == 302]
    assert len(saved) == 1
    winner = saved[0]
    for i, (_, response) in enumerate(outcomes):
        if i == winner:
            continue
        assert 400 <= response.status_code < 500  # refused, not saved, not a crash
        page = response.content.decode()
        assert KR_CONFLICT in page
        assert f"(edit {i})" in page  # the loser's own title, typed again for them
        assert 'name="version" value="2"' in page
    stored = KeyResult.objects.for_org(acme).get(pk=kr.pk)
    assert stored.version == 2 and stored.target_value == D(200 + winner)
    assert stored.title.endswith(f"(edit {winner})")
    assert stored.history.count() == 2


def test_fifty_api_patches_one_wins_the_others_get_409(acme, carol, kr):
    clients = []
    for _ in range(N):
        client = APIClient()
        client.force_login(carol.user, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(client)
    path = f"/api/v1/{acme.slug}/key-results/{kr.pk}/"

    def patch(i):
        return clients[i].patch(path, {"target_value": str(300 + i), "version": 1}, format="json")

    outcomes = in_parallel(patch)
    assert all(kind == "ok" for kind, _ in outcomes)
    codes = sorted(r.status_code for _, r in outcomes)
    assert codes == [200] + [409] * (N - 1)
    winner = next(i for i, (_, r) in enumerate(outcomes) if r.status_code == 200)
    for _, response in outcomes:
        if response.status_code == 409:
            data = response.json()
            assert data["code"] == "conflict" and KR_CONFLICT in data["detail"]
            assert data["current"]["version"] == 2
            assert D(data["current"]["target_value"]) == D(300 + winner)
    stored = KeyResult.objects.for_org(acme).get(pk=kr.pk)
    assert stored.target_value == D(300 + winner) and stored.history.count() == 2


# --- Check-ins: one per KR and week, revision rule -------------------------------------------


def test_fifty_first_checkins_of_the_week_one_wins(acme, carol, kr):
    def check_in(i):
        return checkin_services.checkin_record(
            org=acme,
            by=carol,
            key_result=kr,
            value=D(41 + i),
            confidence=5,
            note=f"note {i}",
            expected_revision=0,
        )

    wins, losses = _split(in_parallel(check_in))
    assert len(wins) == 1, [repr(e) for _, e in losses][:3]
    winner, checkin = wins[0]
    for _i, exc in losses:
        assert isinstance(exc, ConflictError), repr(exc)
        assert CHECKIN_CONFLICT in exc.messages[0]
        # The newer check-in is handed over, so the page can show what won.
        assert exc.current is not None and exc.current.pk == checkin.pk
        assert exc.current.value == D(41 + winner)

    stored = CheckIn.objects.for_org(acme).get()
    assert (stored.value, stored.note, stored.revision) == (D(41 + winner), f"note {winner}", 1)
    assert stored.history.count() == 1
    # The key result moved once, to the winner's value.
    kr_now = KeyResult.objects.for_org(acme).get(pk=kr.pk)
    assert kr_now.current_value == D(41 + winner) and kr_now.version == 2
    assert kr_now.history.count() == 2


def test_fifty_api_checkins_one_201_the_others_409_with_the_winner(acme, carol, kr):
    clients = []
    for _ in range(N):
        client = APIClient()
        client.force_login(carol.user, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(client)
    path = f"/api/v1/{acme.slug}/key-results/{kr.pk}/check-ins/"

    def post(i):
        body = {"value": str(50 + i), "confidence": 6, "note": f"api {i}", "revision": 0}
        return clients[i].post(path, body, format="json")

    outcomes = in_parallel(post)
    assert all(kind == "ok" for kind, _ in outcomes)
    codes = sorted(r.status_code for _, r in outcomes)
    assert codes == [201] + [409] * (N - 1)
    created = next(r.json() for _, r in outcomes if r.status_code == 201)
    for _, response in outcomes:
        if response.status_code == 409:
            data = response.json()
            assert CHECKIN_CONFLICT in data["detail"]
            assert data["current"]["id"] == created["id"]
    assert CheckIn.objects.for_org(acme).count() == 1


@pytest.mark.parametrize("write", ["check-in", "edit"])
def test_writes_on_every_key_result_of_an_objective_at_once_all_count(acme, carol, cycle, write):
    """The objective's progress is rewritten from all its key results by each check-in or
    edit; the objective is locked first, so none writes it from the others' old values
    (without the lock, the last to commit had not seen the rest: 5 % instead of 100 %)."""
    objective = services.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol, title="All of it"
    )
    krs = [
        services.key_result_create(
            org=acme,
            by=carol,
            objective=objective,
            owner=carol,
            title=f"Reach 10 in area {i}",
            start_value=D(0),
            target_value=D(10),
        )
        for i in range(20)
    ]

    def done(i):
        if write == "edit":
            return services.key_result_update(
                org=acme, by=carol, key_result=krs[i], expected_version=None, current_value=D(10)
            )
        return checkin_services.checkin_record(
            org=acme, by=carol, key_result=krs[i], value=D(10), confidence=8
        )

    wins, losses = _split(in_parallel(done, n=len(krs)))
    assert len(wins) == len(krs), [repr(e) for _, e in losses][:3]
    objective.refresh_from_db()
    assert objective.progress == D(1)


# --- A cycle moving on while people write ------------------------------------------------------


#: Each write that depends on the cycle's state: the move it meets, and the refusal's code.
WRITES_MET_BY_A_MOVE = {
    "check-in": ("scoring", "cycle_not_active"),
    "key result edit": ("closed", "frozen"),
    "new key result": ("closed", "frozen"),
    "objective edit": ("closed", "frozen"),
    "new objective": ("closed", "frozen"),
    "initiative": ("closed", "frozen"),
    "score": ("closed", "not_scoring"),
}


def _write(write: str, acme, carol, kr) -> None:
    objective = kr.objective
    if write == "check-in":
        checkin_services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(60), confidence=6
        )
    elif write == "key result edit":
        services.key_result_update(
            org=acme, by=carol, key_result=kr, expected_version=None, title="Late"
        )
    elif write == "new key result":
        services.key_result_create(
            org=acme, by=carol, objective=objective, owner=carol, title="Late",
            start_value=D(0), target_value=D(1),
        )  # fmt: skip
    elif write == "objective edit":
        services.objective_update(
            org=acme, by=carol, objective=objective, expected_version=None, title="Late"
        )
    elif write == "new objective":
        services.objective_create(
            org=acme, by=carol, cycle=objective.cycle, level=Level.INDIVIDUAL, owner=carol,
            title="Late",
        )  # fmt: skip
    elif write == "initiative":
        services.initiative_save(org=acme, by=carol, key_result=kr, title="Late")
    else:
        services.score_submit(org=acme, by=carol, key_result=kr, score=D(1))


@pytest.mark.parametrize("write", list(WRITES_MET_BY_A_MOVE))
def test_a_write_that_meets_a_cycle_moving_on_waits_and_is_refused(acme, alice, carol, kr, write):
    """An admin moves the cycle on (to scoring for a check-in; closed for the rest) while a
    write is on its way: the write waits for the move instead of reading the state the move
    is about to replace, and is refused once it commits. Reading the state through a join,
    the check-in was recorded into the scoring cycle and the others into a closed one."""
    cycle = kr.objective.cycle
    target, refusal = WRITES_MET_BY_A_MOVE[write]
    if target == "closed":
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    before = {
        "objectives": list(Objective.objects.for_org(acme).values_list("pk", "title")),
        "key results": list(KeyResult.objects.for_org(acme).values_list("pk", "title")),
    }
    moving, writing = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def move():
        try:
            with rls.system_scope(), transaction.atomic():
                services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=target)
                moving.set()  # the cycle is locked; the write starts now
                writing.wait(timeout=10)
                time.sleep(0.5)  # long enough for the write to queue behind the lock
                outcome["moved_at"] = time.monotonic()
        finally:
            connections.close_all()

    def write_it():
        try:
            moving.wait(timeout=10)
            writing.set()
            with rls.system_scope():
                _write(write, acme, carol, kr)
        except ValidationError as exc:
            outcome["refused"] = (
                exc.code if hasattr(exc, "code") else exc.messages,
                time.monotonic(),
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move), threading.Thread(target=write_it)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert "refused" in outcome, "the write went through into a cycle that had moved on"
    code, refused_at = outcome["refused"]
    assert code == refusal
    assert refused_at >= outcome["moved_at"]  # it waited for the move
    assert not CheckIn.objects.for_org(acme).exists()
    assert not Initiative.objects.for_org(acme).exists()
    assert not KeyResultScore.objects.for_org(acme).exists()
    assert list(Objective.objects.for_org(acme).values_list("pk", "title")) == before["objectives"]
    assert list(KeyResult.objects.for_org(acme).values_list("pk", "title")) == before["key results"]
