"""1,000 due reminders, a real worker killed with SIGKILL twice mid-batch: 1,000 mails.

A real ``celery -A okrapp worker`` process (prefork, two children) on the Redis broker and
this test's PostgreSQL database sends the reminders into a folder through the ledger mail
backend (``okrapp.mail_backends``), slowed a little so that a kill usually lands while a
mail is being handed over. At two seeded moments (the number of mails already in the
folder), the whole worker process group is killed with SIGKILL and a new worker started.
A compressed beat enqueues the tick every few seconds, with a short lease, so what the
dead workers left behind is settled: "claimed" rows whose task died are dispatched again,
"sending" rows are asked about by Message-ID (delivered → sent, not delivered → sent
again). The test waits until every claim is settled and counts: 1,000 mails, one per
person, no Message-ID twice, none missing.

Needs PostgreSQL and Redis (the worker is another process: it must reach the test's
database and broker); skipped otherwise. ``CRASH_SEED`` picks other kill moments.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal as D
from email import message_from_bytes
from pathlib import Path

import pytest
from django.db import connection

from checkins.models import ClaimStatus, NotificationClaim, NotificationKind
from checkins.tasks import cadence_tick_org
from cycles import services as okr
from cycles.models import KeyResult, Level
from okrapp.celery import app as celery_app
from okrapp.models import Membership, User

PEOPLE = 1000
SEED = int(os.environ.get("CRASH_SEED", "20261125"))
LEASE_SECONDS = 2  # the worker's lease: a dead worker's claims are acted on after this
TICK_EVERY = 3.0  # the compressed beat
DEADLINE = 120.0  # seconds for the whole batch, kills and restarts (about 40 s on CI)
ROOT = Path(__file__).resolve().parents[2]
RECOVERY_LINE = re.compile(
    r"of (\d+) notification\(s\) stuck in sending, (\d+) had been delivered, (\d+) go again"
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The worker subprocess connects with DATABASE_URL (the superuser), and ANALYZE needs
    # the tables' owner.
    pytest.mark.superuser_db(reason="the worker process and ANALYZE run as the superuser"),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"),
        reason="needs PostgreSQL and the Redis broker: the worker is a separate process "
        "that must reach this test's database (an in-memory SQLite test database is "
        "invisible to it) and a broker that survives the worker being killed",
    ),
]

SETTINGS_MODULE = '''\
"""The crash test worker's settings: the test database, mail into a ledger folder."""
from okrapp.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = {db_name!r}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
EMAIL_BACKEND = "crash_mail.SlowLedgerBackend"
EMAIL_FILE_PATH = {mail_dir!r}
NOTIFICATION_LEASE_SECONDS = {lease}
CELERY_TASK_DEFAULT_QUEUE = {queue!r}
'''

MAIL_MODULE = '''\
"""A mail server that takes its time, so that a kill usually lands mid-send."""
import time

from okrapp.mail_backends import LedgerFileBackend


class SlowLedgerBackend(LedgerFileBackend):
    def _deliver(self, message):
        time.sleep(0.005)  # handing the message over
        delivered = super()._deliver(message)
        time.sleep(0.005)  # waiting for the server's "250 OK"
        return delivered
'''


def _due_people(org, admin, n: int) -> list[str]:
    """``n`` members, each owning one key result of the active cycle without a check-in,
    due for their reminder (the organisation checks in from Monday 00:00). Bulk-made."""
    org.checkin_weekday, org.checkin_hour = 0, 0
    org.save()
    cycle = okr.cycle_create(
        org=org, by=admin, name="Q", start_date=date(2026, 1, 1), end_date=date(2030, 12, 31)
    )
    for state in ("planning", "active"):
        cycle = okr.cycle_transition(org=org, by=admin, cycle=cycle, to_state=state)
    objective = okr.objective_create(
        org=org,
        by=admin,
        cycle=cycle,
        level=Level.COMPANY,
        owner=admin,
        title="Ship it",
        mission_link="the mission",
    )
    emails = [f"person{i:04d}@acme.example" for i in range(n)]
    users = User.objects.bulk_create(
        [User(email=e, full_name=f"Person {i}", password="!") for i, e in enumerate(emails)]
    )
    people = Membership.objects.bulk_create(
        # The organisation's own clock: "Monday 00:00 this week" has always passed for them.
        [Membership(organization=org, user=u, time_zone=org.time_zone) for u in users]
    )
    KeyResult.objects.bulk_create(
        [
            KeyResult(
                organization=org,
                objective=objective,
                owner=p,
                title=f"Grow thing {i} from 0 to 10",
                start_value=D(0),
                target_value=D(10),
                position=i,
            )
            for i, p in enumerate(people)
        ]
    )
    # Statistics for the planner, as autovacuum keeps them in a live database: planned on
    # the empty tables' estimates, the tick's due-people queries take minutes, not ms.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE okrapp_user, okrapp_membership, cycles_objective, cycles_keyresult")
    return emails


class Worker:
    """``celery -A okrapp worker`` in its own process group, logging to a file."""

    def __init__(self, tmp_path: Path, env: dict, queue: str):
        self.tmp_path, self.env, self.queue = tmp_path, env, queue
        self.started = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.started += 1
        log = self.tmp_path / f"worker{self.started}.log"
        self.log = log
        command = [sys.executable, "-m", "celery", "-A", "okrapp", "worker", "-Q", self.queue]
        command += ["-P", "prefork", "-c", "2", "-n", f"crash{self.started}-{os.getpid()}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill takes the children too
        )
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            assert self.proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not start in 60 s"
            time.sleep(0.1)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """A warm shutdown of the main process (it stops its children), then the group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _forget_queue(queue: str) -> None:
    """Drop our queue, its binding and the dead workers' unacknowledged messages from
    Redis, so that nothing of this test is delivered to anyone later."""
    import redis

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    for tag, raw in r.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            r.hdel("unacked", tag)
            r.zrem("unacked_index", tag)
    r.delete(queue, f"_kombu.binding.{queue}")


def test_a_worker_killed_twice_mid_batch_sends_every_reminder_once(acme, alice, tmp_path):
    emails = _due_people(acme, alice, PEOPLE)
    mail_dir = tmp_path / "mail"
    queue = f"okrapp-crash-{uuid.uuid4().hex[:8]}"
    (tmp_path / "crash_settings.py").write_text(
        SETTINGS_MODULE.format(
            db_name=connection.settings_dict["NAME"],
            mail_dir=str(mail_dir),
            lease=LEASE_SECONDS,
            queue=queue,
        )
    )
    (tmp_path / "crash_mail.py").write_text(MAIL_MODULE)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CELERY_BROKER", "BROKER_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "crash_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])

    def mail_files() -> list[Path]:
        # Not the hidden ".incoming-*" files a killed worker may leave: never delivered.
        return sorted(mail_dir.glob("[!.]*.eml")) if mail_dir.exists() else []

    def delivered() -> int:
        return len(mail_files())

    def unsettled() -> int:
        claims = NotificationClaim.objects.for_org(acme)
        return (
            PEOPLE
            - claims.count()
            + claims.filter(status__in=[ClaimStatus.CLAIMED, ClaimStatus.SENDING]).count()
        )

    rng = random.Random(SEED)
    # Each kill: once this many mails are in the folder, plus a pause, so that it lands
    # anywhere in a send (building, handing over, marking sent), not just after a delivery.
    kill_at = [rng.randint(100, 400), rng.randint(500, 800)]
    pauses = [rng.uniform(0, 0.06), rng.uniform(0, 0.06)]
    kills: list[int] = []
    ticks = 0
    celery_app.conf.task_always_eager = False
    worker = Worker(tmp_path, env, queue)
    started = time.monotonic()
    try:
        worker.start()

        def tick():
            nonlocal ticks
            ticks += 1
            cadence_tick_org.apply_async((acme.pk,), queue=queue)

        tick()  # claims the 1,000 reminders and dispatches them in batches
        next_tick = time.monotonic() + TICK_EVERY
        while True:
            if kill_at and delivered() >= kill_at[0]:
                time.sleep(pauses.pop(0))
                worker.kill()
                kills.append(delivered())
                kill_at.pop(0)
                worker.start()
            if time.monotonic() >= next_tick:
                tick()
                next_tick = time.monotonic() + TICK_EVERY
            if not kill_at and unsettled() == 0:
                break
            assert time.monotonic() - started < DEADLINE, (
                f"not settled in {DEADLINE:.0f} s: {delivered()} mails, {unsettled()} claims "
                f"open, kills at {kills}; worker log:\n{worker.log.read_text()[-3000:]}"
            )
            time.sleep(0.02)
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = True
        _forget_queue(queue)
    elapsed = time.monotonic() - started

    # Both kills struck mid-batch.
    assert len(kills) == 2 and all(0 < k < PEOPLE for k in kills), kills
    # Every claim settled as sent, one per person.
    claims = list(NotificationClaim.objects.for_org(acme))
    assert len(claims) == PEOPLE
    assert {c.kind for c in claims} == {NotificationKind.CHECKIN_REMINDER}
    assert {c.status for c in claims} == {ClaimStatus.SENT}
    # 1,000 distinct mails: one per person, no Message-ID twice, each its claim's.
    mails = [message_from_bytes(f.read_bytes()) for f in mail_files()]
    message_ids = ["".join(m["Message-ID"].split()) for m in mails]
    recipients = [m["To"] for m in mails]
    assert len(mails) == PEOPLE
    assert len(set(message_ids)) == PEOPLE
    assert sorted(recipients) == sorted(emails)
    assert set(message_ids) == {c.message_id for c in claims}
    assert all("check in" in m["Subject"] for m in mails)
    # What the recovery found (the workers' log lines of reminders.recover_stuck).
    found = [
        tuple(int(n) for n in m.groups())
        for log in tmp_path.glob("worker*.log")
        for m in RECOVERY_LINE.finditer(log.read_text())
    ]
    print(
        f"\n{PEOPLE} reminders, seed {SEED}: worker killed at {kills[0]} and {kills[1]} mails; "
        f"{worker.started} workers, {ticks} ticks; left sending by the kills: "
        f"{sum(f[1] for f in found)} found delivered (marked sent), {sum(f[2] for f in found)} "
        f"found not delivered (sent again); {sum(1 for c in claims if c.attempts > 1)} "
        f"claims taken more than once; {len(mails)} distinct mails in {elapsed:.1f} s"
    )
