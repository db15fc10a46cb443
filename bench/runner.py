"""``bench/run``: the pages over HTTP with gunicorn, against a bare baseline in the same run.

    bench/run [--requests 40] [--seconds 20] [--workers 2] [--skip-tick] [--skip-report]
              [--as-owner]

1. Makes sure the benchmark database exists (``DATABASE_URL``, default
   ``postgres://postgres@127.0.0.1:5432/okrapp_bench``), migrates it and seeds the scale
   organisation ``bench-1`` once (``manage.py seed_scale``: 1,000 people, 200 teams,
   5,000 KRs, 13 weeks), then refreshes the planner's statistics (``ANALYZE``).
2. Starts gunicorn on 127.0.0.1 (a free port) with the production settings, connected as
   the application role ``okrapp_app`` (``manage.py db_app_role``; row-level security
   enforced, as in production; ``--as-owner`` to compare without it): DEBUG off,
   PostgreSQL and Redis (``REDIS_URL``, default ``redis://127.0.0.1:6379/15``, keys under
   the prefix ``okrapp-bench``), static files collected and served by WhiteNoise. The only
   addition is ``bench.settings``' URLconf with the baseline page
   ``/<org_slug>/bench-baseline/``: same middleware, session, tenant resolution, a small
   template.
3. Signs in (a session cookie) as the lead of the team whose people, sub-teams included,
   come closest to 50, warms up, then measures each page with a bound on requests and on
   seconds: requests/s, p50, p95, the query count (the same request once more in-process
   under a query counter), and the ratio to the baseline, against the targets. Each page
   is timed in rounds, a short block of baseline requests then one of the page's; its
   ratio is the median over the rounds of the page's median over the baseline's (see
   :func:`measure`), and "base ms" is the baseline's p50 over those rounds. The baseline
   is measured alone at the start and again at the end: the two show the machine's drift.
4. Runs ``bench/tick.py`` and ``bench/report.py`` and prints their figures.

gunicorn runs in its own process group and is killed on every exit, Ctrl-C included.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("BENCH_VAR_DIR", "/tmp/okrapp-bench"))
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/okrapp_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
PREFIX = "bench"
SLUG = f"{PREFIX}-1"
HOST = "127.0.0.1"
APP_ROLE = "okrapp_app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def environment(port: int) -> dict[str, str]:
    """What every process of the run sees: production settings on PostgreSQL and Redis."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE,
        REDIS_URL=os.environ.get("REDIS_URL") or DEFAULT_REDIS,
        CACHE_KEY_PREFIX="okrapp-bench",
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        SITE_URL=f"http://{HOST}:{port}",
        ALLOWED_HOSTS=f"{HOST},testserver",
        OKRAPP_VAR_DIR=str(VAR / "var"),
        STATIC_ROOT=str(VAR / "static"),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def app_role_url(url: str) -> str:
    """``url`` with the application role as its user (password from
    ``BENCH_APP_DB_PASSWORD``; none with local trust authentication)."""
    parts = urllib.parse.urlsplit(url)
    password = os.environ.get("BENCH_APP_DB_PASSWORD")
    user = APP_ROLE + (f":{urllib.parse.quote(password, safe='')}" if password else "")
    host = parts.hostname or HOST
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def step(text: str) -> None:
    print(f"· {text}", flush=True)


# --- Database -----------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the database of ``url`` if it is missing (needs CREATEDB; else say so)."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or not name:
        raise SystemExit(f"bench/run needs PostgreSQL; DATABASE_URL is {parts.scheme}://…")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not found:
                conn.execute(f'CREATE DATABASE "{name}"')
                step(f"created database {name}")
    except psycopg.Error as exc:
        # A role without CREATEDB (the application role) uses a database made for it.
        print(f"  (could not check or create database {name}: {exc}; using it as it is)")


def analyze(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("ANALYZE")
    except psycopg.Error as exc:
        print(f"  (ANALYZE refused: {exc}; plans may be worse on fresh data)")


def manage(env: dict[str, str], *args: str, timeout: int = 600) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {args[0]} failed")
    return result.stdout


def static_stale() -> bool:
    """Whether collectstatic must run: no manifest yet, or a file of static/ is newer."""
    manifest = VAR / "static" / "staticfiles.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(f.stat().st_mtime > built for f in (ROOT / "static").rglob("*") if f.is_file())


# --- gunicorn -----------------------------------------------------------------------------------


class Server:
    def __init__(self, env: dict[str, str], port: int, workers: int):
        self.port = port
        self.log = open(VAR / "gunicorn.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "okrapp.wsgi",
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one killpg stops every worker
        )
        atexit.register(self.stop)

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}); see {self.log.name}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"no answer on /healthz in {seconds:.0f} s; see {self.log.name}")

    def workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                pids.append(int(entry.name))
        return pids

    def peak_rss_mb(self) -> list[float]:
        """Peak resident memory (VmHWM) of each worker so far, in MB."""
        peaks = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peaks.append(int(match.group(1)) / 1024)
        return peaks

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --- The signed-in person and the pages ----------------------------------------------------------


@dataclass
class Page:
    name: str
    method: str
    path: str
    target: float | None  # p50 ratio to the baseline
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None  # a callable giving the next body (check-ins count their revision)
    sequential: bool = False
    before: object = None  # a callable run (untimed) before each request


@dataclass
class Result:
    page: Page
    times: list[float]
    busy: float  # seconds spent on the page's requests, per client
    queries: int | None

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, round(len(ordered) * 0.95) - 1)]

    @property
    def rate(self) -> float:
        return len(self.times) / self.busy


def prepare(port: int):
    """Django in this process (same settings and database): the person, their session, an
    API token and the pages to ask for."""
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from checkins.dashboards import load_teams, team_forest
    from checkins.models import CheckIn
    from checkins.services import current_week
    from cycles.models import Cycle, CycleState, KeyResult
    from okrapp import cache as page_cache
    from okrapp import services as core_services
    from okrapp.models import ApiToken, Membership, Organization, TeamMembership

    org = Organization.objects.get(slug=SLUG)
    direct: dict[int, int] = {}
    for team_id in TeamMembership.objects.for_org(org).values_list("team_id", flat=True):
        direct[team_id] = direct.get(team_id, 0) + 1
    best = None
    for root in team_forest(load_teams(org)):
        for node in root.walk():
            size = sum(direct.get(t, 0) for t in node.subtree_ids)
            if best is None or abs(size - 50) < abs(best[0] - 50):
                best = (size, node.team)
    size, team = best
    lead = (
        Membership.objects.for_org(org)
        .select_related("user")
        .get(team_memberships__team=team, team_memberships__is_lead=True)
    )
    cycle = Cycle.objects.for_org(org).get(state=CycleState.ACTIVE)
    mine = list(
        KeyResult.objects.for_org(org).filter(owner=lead, objective__cycle=cycle).order_by("pk")[:2]
    )
    # The check-in POST revises this week's check-in of the first key result, every run;
    # the KR page shows another, or its timeline would grow by a revision per POST measured.
    kr, shown = mine[0], mine[-1]
    week = current_week(org)
    existing = CheckIn.objects.for_org(org).filter(key_result=kr, week=week).first()
    revision = [existing.revision if existing else 0]

    browser = Client(HTTP_HOST=HOST)
    browser.force_login(lead.user, backend="django.contrib.auth.backends.ModelBackend")
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    for old in ApiToken.objects.for_org(org).filter(membership=lead, revoked_at__isnull=True):
        core_services.api_token_revoke(org=org, by=lead, token=old)
    _token, secret = core_services.api_token_create(
        org=org, by=lead, name=f"bench {timezone.now():%Y-%m-%d %H:%M}"
    )

    # The check-in form as My week sends it (no JavaScript: a 302 back to the page).
    csrf = http_get_csrf(port, session)
    prefix = f"kr{kr.pk}"
    target = kr.target_value or 100

    def checkin_body() -> str:
        n = revision[0]
        revision[0] += 1
        return urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                f"{prefix}-value": f"{(target * (40 + n % 50)) / 100:.2f}",
                f"{prefix}-confidence": str(5 + n % 4),
                f"{prefix}-note": f"bench check-in {n}",
                f"{prefix}-revision": str(n),
            }
        )

    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    browser_headers = {"Cookie": cookie}
    s = org.slug

    def drop_kept_pages() -> None:
        # What the next request finds after any write the services announce: every cached
        # figure and kept page of the organisation is stale and drawn afresh.
        page_cache.bump(org)

    pages = [
        Page("baseline", "GET", f"/{s}/bench-baseline/", None, headers=browser_headers),
        Page("my week", "GET", f"/{s}/my-week/", 2, headers=browser_headers),
        Page("KR page", "GET", f"/{s}/key-results/{shown.pk}/", 2, headers=browser_headers),
        Page(
            f"team dashboard ({size} people)",
            "GET",
            f"/{s}/teams/{team.slug}/",
            3,
            headers=browser_headers,
        ),
        Page("company view", "GET", f"/{s}/", 3, headers=browser_headers),
        Page("alignment tree", "GET", f"/{s}/cycles/{cycle.pk}/tree/", 3, headers=browser_headers),
        Page(
            "API key results (token)",
            "GET",
            f"/api/v1/{s}/key-results/",
            None,
            headers={"Authorization": f"Bearer {secret}"},
        ),
        Page(
            "check-in POST",
            "POST",
            f"/{s}/my-week/{kr.pk}/",
            2,
            status=302,
            headers={
                **browser_headers,
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://{HOST}:{port}/{s}/my-week/",
            },
            body=checkin_body,
            sequential=True,
        ),
    ]
    pages += [
        Page(
            f"{page.name} (drawn afresh)",
            page.method,
            page.path,
            page.target,
            headers=page.headers,
            sequential=True,
            before=drop_kept_pages,
        )
        for page in pages
        if page.method == "GET" and page.target
    ]
    who = f"{lead.user.email} (lead of {team.name}, {size} people with its sub-teams)"
    return pages, who


def http_get_csrf(port: int, session: str) -> str:
    from django.conf import settings

    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request(
        "GET", f"/{SLUG}/my-week/", headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    )
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"My week answered {response.status} to the signed-in person")
    cookies = " ".join(v for k, v in response.getheaders() if k.lower() == "set-cookie")
    match = re.search(rf"{settings.CSRF_COOKIE_NAME}=([^;]+)", cookies)
    if match:
        return match.group(1)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not found:
        raise SystemExit("no CSRF token on My week")
    return found.group(1)


def count_queries(page: Page) -> int:
    """The same request once, in-process under a query counter (same view, same data)."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=HOST)
    headers = {k: v for k, v in page.headers.items() if k not in ("Content-Type",)}
    count = 0
    if page.before:
        page.before()

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        if page.method == "POST":
            response = client.post(
                page.path,
                page.body(),
                content_type="application/x-www-form-urlencoded",
                headers=headers,
            )
        else:
            response = client.get(page.path, headers=headers)
    if response.status_code != page.status:
        raise SystemExit(f"{page.name}: in-process answer {response.status_code}")
    return count


def ask(port: int, page: Page, conn: http.client.HTTPConnection | None):
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=120)
    body = page.body() if page.body else None
    if page.before:
        page.before()
    started = time.perf_counter()
    conn.request(page.method, page.path, body=body, headers=page.headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != page.status:
        raise SystemExit(f"{page.name}: {page.method} {page.path} answered {response.status}")
    if response.getheader("Connection", "").lower() == "close" or response.will_close:
        conn.close()
        conn = None
    return elapsed, conn


ROUNDS = 8


def _block(port: int, page: Page, count: int, lanes: int, deadline: float) -> list[float]:
    """``count`` requests for ``page`` over ``lanes`` clients; each lane's first request is
    not kept (it follows another page's requests on the same workers)."""
    quota = [count]

    def lane():
        times, c, first = [], None, True
        while time.monotonic() < deadline and quota[0] > 0:
            quota[0] -= 1
            elapsed, c = ask(port, page, c)
            if not first:
                times.append(elapsed)
            first = False
        return times

    with ThreadPoolExecutor(lanes) as pool:
        return [t for ts in pool.map(lambda _i: lane(), range(lanes)) for t in ts]


@dataclass
class Measured:
    times: list[float]  # the page's
    base_times: list[float]  # the baseline's, when paired with it
    ratios: list[float]  # per round: the page's median over the baseline's
    busy: float  # time spent on the page's requests, per lane


def measure(
    port: int,
    page: Page,
    *,
    requests: int,
    seconds: float,
    warm: int,
    concurrency: int,
    baseline: Page | None = None,
) -> Measured:
    """Time ``page``; with ``baseline``, in rounds of a short block of the baseline then one
    of the page, each round giving a ratio of their medians. This machine's speed drifts by
    a third within a minute (a virtual machine's neighbours): a baseline measured once, at
    the start, moved the ratios of pages measured later by 0.5 either way. Paired in rounds,
    both sides of a ratio are timed in the same seconds, and the baseline stays bare: its
    requests follow its own (one right after a heavier page's, on the same workers, takes
    ~1-3 ms longer)."""
    conn = None
    for _ in range(warm):
        _elapsed, conn = ask(port, page, conn)
    lanes = 1 if page.sequential else concurrency
    deadline = time.monotonic() + seconds
    per_block = max(2, -(-requests // ROUNDS)) + lanes  # + each lane's first, not kept
    found = Measured([], [], [], 0.0)
    for _round in range(ROUNDS):
        base = _block(port, baseline, per_block, lanes, deadline) if baseline else []
        times = _block(port, page, per_block, lanes, deadline)
        if base and times:
            found.ratios.append(statistics.median(times) / statistics.median(base))
        found.base_times += base
        found.times += times
    found.busy = sum(found.times) / lanes
    return found


# --- tick and report -----------------------------------------------------------------------------


def run_script(env: dict[str, str], name: str, args: list[str], timeout: int) -> None:
    script_env = {**env, "DJANGO_SETTINGS_MODULE": "okrapp.settings"}
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / name), *args],
            env=script_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        print(f"  {name}: stopped after {timeout} s")
        return
    for line in result.stdout.splitlines():
        print(f"  {line}")
    if result.returncode:
        print(f"  {name} failed ({result.returncode}):")
        for line in result.stderr.strip().splitlines()[-15:]:
            print(f"    {line}")
    print(f"  ({name} took {time.perf_counter() - started:.0f} s)")


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="at most this many per page")
    parser.add_argument("--seconds", type=float, default=20, help="at most this long per page")
    parser.add_argument(
        "--warm",
        type=int,
        default=20,
        help="warm-up requests per page (each worker runs a query ~8 times before "
        "PostgreSQL settles on its prepared plan)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=1, help="clients at once (GETs)")
    parser.add_argument(
        "--pages",
        default="",
        help="measure only the pages whose name contains one of these comma-separated "
        "words (the baseline always), e.g. --pages post,afresh",
    )
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument(
        "--as-owner",
        action="store_true",
        help="serve as the database owner (row-level security bypassed), for comparison",
    )
    args = parser.parse_args()

    # Ctrl-C and kill end the run through atexit, which stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    VAR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = environment(port)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    database = env["DATABASE_URL"]
    shown = urllib.parse.urlsplit(database)
    print(
        f"bench/run on {os.cpu_count()} cores; database {shown.hostname}/{shown.path[1:]}, "
        f"Redis {env['REDIS_URL'].rsplit('@', 1)[-1]}, {args.workers} gunicorn workers"
    )
    ensure_database(database)
    started = time.perf_counter()
    manage(env, "migrate", "--noinput", "-v", "0")
    out = manage(env, "seed_scale", "--prefix", PREFIX, "--orgs", "1")
    step(out.splitlines()[0] if out else "seeded")
    analyze(database)
    if static_stale():
        manage(env, "collectstatic", "--noinput", "-v", "0")  # compresses: minutes at first
    step(f"database and static files ready in {time.perf_counter() - started:.0f} s")

    server_env = env
    if not args.as_owner:
        # Production shape: the web process connects as the application role, so row-level
        # security (and its per-request scope statements) is part of what is measured.
        manage(env, "db_app_role", APP_ROLE)
        server_env = dict(env, DATABASE_URL=app_role_url(database))
        step(f"gunicorn connects as {APP_ROLE} (row-level security enforced)")
    server = Server(server_env, port, args.workers)
    server.wait_ready()
    step(f"gunicorn on {HOST}:{port} (pid {server.proc.pid}, workers {server.workers()})")
    pages, who = prepare(port)
    wanted = [w.strip().lower() for w in args.pages.split(",") if w.strip()]
    if wanted:
        pages = [
            p for p in pages if p.name == "baseline" or any(w in p.name.lower() for w in wanted)
        ]
    step(f"signed in as {who}")
    print(
        f"\n{args.warm} warm-up requests, then up to {args.requests} requests or "
        f"{args.seconds:.0f} s per page, {args.concurrency} client(s) at once (POST: 1)\n"
    )
    header = (
        f"{'page':44} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'queries':>7} "
        f"{'base ms':>8} {'ratio':>7} {'target':>7}  met"
    )
    print(header)
    print("-" * len(header))
    results = []
    baseline = pages[0]
    for page in pages:
        paired = None if page is baseline else baseline
        found = measure(
            port,
            page,
            requests=args.requests,
            seconds=args.seconds,
            warm=args.warm,
            concurrency=args.concurrency,
            baseline=paired,
        )
        result = Result(page, found.times, found.busy, count_queries(page))
        results.append(result)
        base = statistics.median(found.base_times) if paired else result.p50
        ratio = statistics.median(found.ratios) if paired else 1.0
        target = f"{page.target:.0f}x" if page.target else "-"
        met = "-" if not page.target else ("yes" if ratio <= page.target else "NO")
        print(
            f"{page.name:44} {result.rate:7.1f} {result.p50 * 1000:8.1f} "
            f"{result.p95 * 1000:8.1f} {result.queries:7d} {base * 1000:8.1f} "
            f"{ratio:6.1f}x {target:>7}  {met}",
            flush=True,
        )
    # The baseline alone once more: how far the machine drifted during the run.
    again = measure(
        port, baseline, requests=args.requests, seconds=args.seconds, warm=0, concurrency=1
    )
    first = results[0].p50
    print(
        f"{'baseline (again, at the end)':44} {len(again.times) / again.busy:7.1f} "
        f"{statistics.median(again.times) * 1000:8.1f}   (at the start: {first * 1000:.1f} ms)"
    )
    peaks = server.peak_rss_mb()
    print(
        f"\ngunicorn workers' peak RSS: {', '.join(f'{p:.0f} MB' for p in peaks)}"
        f" ({sum(len(r.times) for r in results)} measured requests)"
    )
    server.stop()

    if not args.skip_tick:
        print("\nreminder tick (bench/tick.py):")
        run_script(env, "tick.py", [], timeout=900)
    if not args.skip_report:
        print("\nquarter report (bench/report.py):")
        run_script(env, "report.py", [], timeout=900)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn stopped")
        sys.exit(130)
