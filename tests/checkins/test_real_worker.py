"""A reminder through a real Celery worker on the real broker (Redis in CI), not eager."""

import os
import time
from datetime import date
from decimal import Decimal as D

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from checkins import reminders
from checkins.tasks import send_notifications
from cycles import services as okr
from okrapp.celery import app as celery_app

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis broker"),
]


def test_a_real_worker_sends_the_reminder(acme, alice, carol, settings):
    cycle = okr.cycle_create(
        org=acme, by=alice, name="Q", start_date=date(2026, 1, 1), end_date=date(2030, 12, 31)
    )
    for state in ("planning", "active"):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=3, owner=carol, title="Mine"
    )
    okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Grow from 1 to 2",
        start_value=D(1),
        target_value=D(2),
    )
    acme.checkin_weekday, acme.checkin_hour = 0, 0  # due from Monday 00:00: always by now
    acme.save()
    celery_app.conf.task_always_eager = False
    assert celery_app.conf.broker_url.startswith("redis://")
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        ids = reminders.claim_due(acme)
        assert ids  # carol's reminder (and, past the grace period, bob's digest)
        send_notifications.delay(acme.pk, ids)
        deadline = time.monotonic() + 20
        while len(mail.outbox) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.2)
    reminder = [m for m in mail.outbox if m.to == ["carol@acme.example"]]
    assert len(reminder) == 1
    assert "Grow from 1 to 2" in reminder[0].body
