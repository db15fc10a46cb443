"""The Celery configuration the cadence relies on, pinned: a change that would lose, delay or
duplicate work fails here rather than in production."""

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Task
from celery.schedules import crontab
from django.core import mail
from django.db import transaction

from checkins import services as checkin_services
from checkins.tasks import retry_delay
from cycles import services as okr
from okrapp import services as org_services
from okrapp.celery import app

ROOT = Path(__file__).resolve().parents[2]
APPS = ("checkins", "cycles", "okrapp")


def our_tasks():
    return {name: task for name, task in app.tasks.items() if name.startswith(APPS)}


def test_the_beat_ticks_every_15_minutes_in_utc():
    entry = app.conf.beat_schedule["cadence-tick"]
    assert entry["task"] == "checkins.tasks.cadence_tick" and entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.minute == {0, 15, 30, 45}
    assert schedule.hour == set(range(24))
    assert schedule.day_of_week == set(range(7))
    assert (app.conf.timezone, app.conf.enable_utc) == ("UTC", True)


def test_work_is_acknowledged_after_it_is_done_one_message_at_a_time():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    tasks = our_tasks()
    assert "checkins.tasks.send_notifications" in tasks
    for name, task in tasks.items():
        assert task.acks_late is True, name
        assert task.reject_on_worker_lost is not False, name


def _redis_transport_options(tmp_path) -> dict:
    """The broker options production gets (REDIS_URL set), read in a fresh interpreter."""
    code = "from okrapp import settings as s; print(repr(s.CELERY_BROKER_TRANSPORT_OPTIONS))"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_REDIS_URL")}
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "OKRAPP_VAR_DIR": str(tmp_path / "var"), "REDIS_URL": "redis://broker:6379/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return ast.literal_eval(result.stdout.strip())


def _longest_wait() -> float:
    """The longest a task waits in the broker before it runs: a retry's countdown."""
    waits = [inspect.signature(retry_delay).parameters["cap"].default]
    for task in our_tasks().values():
        if getattr(task, "autoretry_for", ()) and getattr(task, "retry_backoff", False):
            waits.append(getattr(task, "retry_backoff_max", None) or 600)  # Celery's default
    return max(waits)


def test_the_redis_visibility_timeout_outlasts_every_retry_delay(tmp_path):
    """Redis re-delivers a message not acknowledged within the visibility timeout: a retry
    waiting longer than that would run twice."""
    options = _redis_transport_options(tmp_path)
    assert options["visibility_timeout"] > _longest_wait() >= 600


def test_no_task_is_scheduled_with_its_own_countdown_or_eta():
    """The only wait is the bounded retry backoff (``retry_delay``): a long countdown or
    ETA on Redis is delivered again when it outlives the visibility timeout."""
    found = []
    for app_name in APPS:
        for path in (ROOT / app_name).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.keyword) and node.arg in ("countdown", "eta"):
                    found.append((path.relative_to(ROOT).as_posix(), ast.unparse(node.value)))
    assert found == [("checkins/tasks.py", "retry_delay(self.request.retries)")]


class Rollback(Exception):
    pass


@pytest.fixture
def published(monkeypatch):
    """Names of the tasks handed to the broker (eager here: run in place)."""
    sent = []
    real = Task.apply_async

    def record(self, *args, **kwargs):
        sent.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", record)
    return sent


def _work_that_enqueues(acme, alice, bob, cycle, kr):
    checkin_services.comment_create(org=acme, by=bob, body="@carol have a look", key_result=kr)
    org_services.invitation_create(org=acme, by=alice, email="new@acme.example")
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")


@pytest.mark.django_db
def test_a_rolled_back_transaction_enqueues_nothing(
    acme, alice, bob, carol, cycle, kr, published, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        _work_that_enqueues(acme, alice, bob, cycle, kr)
        raise Rollback
    assert published == []
    assert mail.outbox == []
    cycle.refresh_from_db()
    # The same work committed enqueues each task once it is in the database.
    with django_capture_on_commit_callbacks(execute=True):
        _work_that_enqueues(acme, alice, bob, cycle, kr)
    assert {
        "checkins.tasks.send_mention_email",
        "okrapp.tasks.send_invitation_email",
        "checkins.tasks.request_scores",
    } <= set(published)
    assert {m.to[0] for m in mail.outbox} >= {"carol@acme.example", "new@acme.example"}
