"""Benchmark: the quarter report of one large organisation, against a raw SQL aggregate.

    .venv/bin/python bench/report.py [--people 1000 --teams 200 --krs 5000 --weeks 13]

Builds (once, then reuses) an organisation of 1,000 people in 200 teams with 5,000 scored
KRs and 13 weekly check-ins each (``checkins.scale``, bulk inserts) in a throwaway database
(SQLite under /tmp, or PostgreSQL when DATABASE_URL is set), makes its cycle a pilot of 20
teams, then measures in a fresh worker-like process what ``build_report`` does: collect the
facts, summarise them, render the HTML snapshot, the CSV and the PDF (plus the admin's full
page, which the web process renders). It prints time per stage, queries, the process's peak
RSS and the Python peak (tracemalloc, a second run), and the ratio against raw SQL
aggregates over the same rows (per-team scores, per-team-and-week check-ins) measured in the
same run. Not part of the test suite; bounded to a couple of minutes.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "okrapp.settings")
os.environ.setdefault("OKRAPP_VAR_DIR", "/tmp/okrapp-bench")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/okrapp-bench-report.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from checkins import scale  # noqa: E402
from checkins.report_render import (  # noqa: E402
    PAGE_LIMITS,
    body_context,
    render_csv,
    render_document,
    render_pdf,
)
from checkins.reports import collect, summarize  # noqa: E402
from cycles.models import Cycle, CyclePilotTeam  # noqa: E402
from okrapp.models import Organization, Team  # noqa: E402

PILOT_TEAMS = 20

RAW_SCORES = """
SELECT o.team_id, COUNT(k.id), COUNT(s.id), AVG(s.score),
       SUM(CASE WHEN o.type = 'committed' AND s.score >= 1 THEN 1 ELSE 0 END),
       SUM(CASE WHEN o.type = 'aspirational' AND s.score >= 0.7 THEN 1 ELSE 0 END)
FROM cycles_keyresult k
JOIN cycles_objective o ON o.id = k.objective_id
LEFT JOIN cycles_keyresultscore s ON s.key_result_id = k.id
WHERE k.organization_id = %s AND o.cycle_id = %s AND o.status <> 'archived'
GROUP BY o.team_id
"""
RAW_CADENCE = """
SELECT o.team_id, c.week, COUNT(*)
FROM checkins_checkin c
JOIN cycles_keyresult k ON k.id = c.key_result_id
JOIN cycles_objective o ON o.id = k.objective_id
WHERE c.organization_id = %s AND o.cycle_id = %s AND o.status <> 'archived'
GROUP BY o.team_id, c.week
"""


def best_of(n, fn):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def prepare(args) -> str:
    call_command("migrate", verbosity=0)
    slug = f"report-{args.people}-{args.krs}-{args.weeks}"
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        started = time.perf_counter()
        org = scale.build(
            slug=slug,
            people=args.people,
            teams=args.teams,
            krs=args.krs,
            weeks=args.weeks,
            scores=True,
        ).org
        print(f"built {slug} in {time.perf_counter() - started:.1f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # fresh bulk data has no planner statistics
    cycle = Cycle.objects.for_org(org).get()
    if not cycle.is_pilot:
        cycle.is_pilot = True
        cycle.save(update_fields=["is_pilot"])
        teams = Team.objects.for_org(org).order_by("id")[:PILOT_TEAMS]
        CyclePilotTeam.objects.bulk_create(
            [CyclePilotTeam(organization=org, cycle=cycle, team=t) for t in teams]
        )
    return slug


def measure(slug: str, runs: int, trace: bool) -> dict:
    """One build's work in this (fresh) process, stage by stage."""
    import tracemalloc

    org = Organization.objects.get(slug=slug)
    cycle = Cycle.objects.for_org(org).get()
    render_pdf("<p>warm-up</p>")  # fonts and WeasyPrint's modules, as in a warm worker
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    stages = {}

    peaks = {}

    def stage(name, fn):
        started = time.perf_counter()
        result = fn()
        stages[name] = time.perf_counter() - started
        peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return result

    with translation.override(org.language), timezone.override(org.zoneinfo):
        with CaptureQueriesContext(connection) as queries:
            facts = stage("collect", lambda: collect(org, cycle))
        figures = stage("summarize", lambda: summarize(facts))
        document = stage("html snapshot", lambda: render_document(figures))
        csv_bytes = stage("csv", lambda: render_csv(figures))
        pdf = stage("pdf", lambda: render_pdf(document))
        page = stage(
            "admin page body",
            lambda: render_to_string(
                "checkins/report_body.html", body_context(figures, PAGE_LIMITS)
            ),
        )
    result = {
        "stages": stages,
        "peaks": peaks,
        "queries": len(queries),
        "krs": len(facts["krs"]),
        "teams": len(facts["teams"]),
        "people": len(facts["people"]),
        "checkins": figures.overall.checkins,
        "weeks": len(facts["weeks"]),
        "sizes": {
            "facts json": len(json.dumps(facts)),
            "html snapshot": len(document),
            "csv": len(csv_bytes),
            "pdf": len(pdf),
            "admin page body": len(page),
        },
        "baseline_rss_mb": baseline_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if trace:
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(RAW_SCORES, [org.pk, cycle.pk])
            cursor.fetchall()
            cursor.execute(RAW_CADENCE, [org.pk, cycle.pk])
            cursor.fetchall()

    raw()
    result["raw_sql"] = best_of(runs, raw)
    return result


def child(slug: str, runs: int, trace: bool) -> dict:
    argv = [sys.executable, __file__, "--measure", slug, "--runs", str(runs)]
    if trace:
        argv.append("--trace")
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--krs", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.runs, args.trace)))
        return

    slug = prepare(args)
    run = child(slug, args.runs, trace=False)
    traced = child(slug, 1, trace=True)
    stages = run["stages"]
    report = sum(t for name, t in stages.items() if name != "admin page body")
    print(f"database: {connection.vendor}")
    print(
        f"organisation: {run['people']} people, {run['teams']} teams, {run['krs']} KRs, "
        f"{run['weeks']} weeks, {run['checkins']} check-ins in the cycle's weeks"
    )
    print("  stage              time   peak RSS so far")
    for name, seconds in stages.items():
        print(f"  {name:<16} {seconds * 1000:6.0f} ms   {run['peaks'][name]:4.0f} MB")
    print(f"report build (collect → PDF): {report:.2f} s, {run['queries']} queries")
    print(
        f"worker peak RSS (build): {run['peaks']['pdf']:.0f} MB, "
        f"with the admin page too: {run['peak_rss_mb']:.0f} MB "
        f"(after start-up {run['baseline_rss_mb']:.0f} MB); "
        f"Python peak during the build (tracemalloc): {traced['traced_peak_mb']:.0f} MB"
    )
    sizes = ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in run["sizes"].items())
    print(f"sizes: {sizes}")
    print(
        f"baseline (raw SQL aggregates, scores per team + check-ins per team-week): "
        f"{run['raw_sql'] * 1000:.0f} ms"
    )
    print(f"ratio collect / baseline: {stages['collect'] / run['raw_sql']:.1f}x")
    print(f"ratio report build / baseline: {report / run['raw_sql']:.1f}x")


if __name__ == "__main__":
    main()
