"""Benchmark: the dashboards on the scale organisation, against a bare baseline view.

    .venv/bin/python bench/pages.py [--requests 20]

In-process (Django's test client, the full middleware stack and session auth) on the
scale data of ``checkins.scale`` (1,000 people, 200 teams, 5,000 KRs, 13 weeks) in a
throwaway database (SQLite under /tmp, or DATABASE_URL). The baseline is a view behind the
same middleware and tenant resolution that renders a small template. Prints per page the
p50 and p95 latency, the query count and the p50 ratio to the baseline, all from this run.
The full HTTP runner with gunicorn is the quality issue's ``bench/run``.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "okrapp.settings")
os.environ.setdefault("OKRAPP_VAR_DIR", "/tmp/okrapp-bench")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/okrapp-bench-pages.sqlite3")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402

from checkins import scale  # noqa: E402
from cycles.models import Cycle  # noqa: E402
from okrapp.models import Membership, Organization, Team, TeamMembership  # noqa: E402

BASELINE = engines["django"].from_string(
    "<!doctype html><title>{{ request.org.name }}</title><p>{{ request.membership.role }}</p>"
)


def baseline(request, org_slug):
    return HttpResponse(BASELINE.render({}, request))


urlpatterns = [
    path("_baseline/<slug:org_slug>/", baseline),
    path("", include("okrapp.urls")),
]


def measure(client, url, n):
    client.get(url)  # warm up
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    # Keep one connection for the whole run so the query counts see every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STORAGES["staticfiles"] = {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    }
    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug="bench-pages").first()
    if org is None:
        started = time.perf_counter()
        org = scale.build(slug="bench-pages", people=1000, teams=200, krs=5000, weeks=13).org
        print(f"built the scale organisation in {time.perf_counter() - started:.1f} s")
    # The team whose people, sub-teams included, come closest to 50.
    children = {}
    for team_id, parent_id in Team.objects.for_org(org).values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(team_id)
    size = {}
    direct = {}
    for team_id in TeamMembership.objects.for_org(org).values_list("team_id", flat=True):
        direct[team_id] = direct.get(team_id, 0) + 1

    def rolled(team_id):
        if team_id not in size:
            size[team_id] = direct.get(team_id, 0) + sum(
                rolled(c) for c in children.get(team_id, [])
            )
        return size[team_id]

    team = min(Team.objects.for_org(org), key=lambda t: abs(rolled(t.pk) - 50))
    lead = Membership.objects.for_org(org).get(
        team_memberships__team=team, team_memberships__is_lead=True
    )
    cycle = Cycle.objects.for_org(org).get()
    client = Client()
    client.force_login(lead.user, backend="django.contrib.auth.backends.ModelBackend")
    s = org.slug
    pages = [
        ("baseline", f"/_baseline/{s}/"),
        ("company view", f"/{s}/"),
        (f"team dashboard ({rolled(team.pk)} people)", f"/{s}/teams/{team.slug}/"),
        ("alignment tree", f"/{s}/cycles/{cycle.pk}/tree/"),
        ("my week", f"/{s}/my-week/"),
    ]
    print(f"database: {connection.vendor}; {args.requests} requests per page after a warm-up")
    base = None
    for name, url in pages:
        p50, p95, queries = measure(client, url, args.requests)
        base = base or p50
        print(
            f"{name:32} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
            f"{queries:3d} queries  ratio {p50 / base:5.1f}x"
        )


if __name__ == "__main__":
    main()
