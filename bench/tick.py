"""Benchmark: the reminder tick over one large organisation, against raw SQL.

    .venv/bin/python bench/tick.py [--people 10000 --krs 50000]

Builds (once) an organisation of 10,000 memberships and 50,000 KRs in a throwaway
database (SQLite under /tmp, or PostgreSQL when DATABASE_URL is set), makes everyone due,
then times ``checkins.reminders.claim_due`` (finding due people across all four kinds and
claiming them) and counts its queries, against one raw SQL query that selects the same
due people. Prints the ratio measured in this run. Not part of the test suite.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "okrapp.settings")
os.environ.setdefault("OKRAPP_VAR_DIR", "/tmp/okrapp-bench")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/okrapp-bench-tick.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from checkins import reminders, scale  # noqa: E402
from checkins.models import CheckIn, NotificationClaim  # noqa: E402
from checkins.services import current_week  # noqa: E402
from okrapp.models import Organization  # noqa: E402

RAW_DUE = """
SELECT DISTINCT m.id
FROM okrapp_membership m
JOIN cycles_keyresult kr ON kr.owner_id = m.id AND kr.organization_id = m.organization_id
JOIN cycles_objective o ON o.id = kr.objective_id
JOIN cycles_cycle c ON c.id = o.cycle_id AND c.state = 'active'
WHERE m.organization_id = %s AND m.active AND m.notify_reminders
  AND NOT EXISTS (SELECT 1 FROM checkins_checkin ci
                  WHERE ci.key_result_id = kr.id AND ci.week = %s)
"""


def best_of(n, fn):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument("--krs", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    slug = f"tick-{args.people}-{args.krs}"
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        started = time.perf_counter()
        org = scale.build(
            slug=slug, people=args.people, teams=args.teams, krs=args.krs, weeks=2
        ).org
        print(f"built {slug} in {time.perf_counter() - started:.1f} s")
        if connection.vendor == "postgresql":
            # Fresh bulk data has no planner statistics: without them the first claim
            # query ran for more than ten minutes instead of about a second.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    org.checkin_weekday, org.checkin_hour = 0, 0  # everyone's moment has passed this week
    org.save()
    week = current_week(org)
    CheckIn.objects.for_org(org).filter(week=week).delete()  # so every KR owner is due
    now = timezone.now()

    def tick():
        with transaction.atomic():
            claimed = reminders.claim_due(org, now)
            transaction.set_rollback(True)  # measure the same work every run
        return claimed

    with CaptureQueriesContext(connection) as queries:
        due = tick()
    tick_time = best_of(args.runs, tick)

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(RAW_DUE, [org.pk, week])
            return cursor.fetchall()

    raw_rows = raw()
    raw_time = best_of(args.runs, raw)
    assert NotificationClaim.objects.for_org(org).count() == 0
    print(f"database: {connection.vendor}")
    print(f"memberships due: {len(raw_rows)} (raw SQL); claims made by the tick: {len(due)}")
    print(f"tick (all kinds, claims included): {tick_time * 1000:.0f} ms, {len(queries)} queries")
    print(f"baseline (one raw SELECT of the due people): {raw_time * 1000:.0f} ms")
    print(f"ratio tick / baseline: {tick_time / raw_time:.1f}x")


if __name__ == "__main__":
    main()
