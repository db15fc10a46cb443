"""The cast: alice (admin), bob (manager), carol (staff), erin (OKR Master) of Acme; and
mallory, admin of Globex, who must never see Acme's data."""

import os
import shutil

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created
from django.utils import translation

from okrapp import rls
from okrapp.celery import app as celery_app
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

# Playwright's sync API runs an event loop in the test thread; the ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# --- Row-level security (PostgreSQL) ----------------------------------------------------------
# The suite connects as the superuser, which row security does not bind. So on PostgreSQL
# every connection of the test process (this thread's, live_server's, in-thread Celery
# workers') switches to the application role, as production connects: a page, task or
# command that reaches past its organisation's scope fails here as it would there. Test
# code outside requests (factories, assertions) runs in system scope; requests and tasks
# set their own scopes. OKRAPP_TEST_RLS=0 turns it off (debugging); default on PostgreSQL.

APP_ROLE = "okrapp_app"
_OFF, _ON = {"0", "false", "no", "off"}, {"", "1", "true", "yes", "on"}


class _Rls:
    role: str | None = None  # set once the test database has the role
    databases: frozenset[str] = frozenset()  # test database names the role applies to
    paused = False  # a superuser_db test is running


def _rls_wanted() -> bool:
    value = os.environ.get("OKRAPP_TEST_RLS", "").strip().lower()
    if value not in _OFF | _ON:
        raise pytest.UsageError(f"OKRAPP_TEST_RLS={value!r}: use 1 (on) or 0 (off).")
    return value in _ON


def _as_app_role(sender, connection, **kwargs) -> None:
    if (
        _Rls.role
        and not _Rls.paused
        and connection.vendor == "postgresql"
        and connection.settings_dict["NAME"] in _Rls.databases
    ):
        rls.use_role(connection, _Rls.role)


def _prepare_app_role(connection, role: str) -> None:
    """``db_app_role``'s work on the test database (as the superuser that created it), plus
    TRUNCATE and sequence UPDATE: transactional tests flush the tables between tests."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT me.rolcanlogin AND NOT me.rolsuper AND NOT me.rolbypassrls "
            "AND NOT me.rolcreatedb AND NOT me.rolcreaterole AND NOT me.rolinherit "
            "AND pg_has_role(me.oid, s.oid, 'MEMBER') "
            "FROM pg_roles me, pg_roles s WHERE me.rolname = %s AND s.rolname = %s",
            [role, rls.SYSTEM_ROLE],
        )
        row = cursor.fetchone()
    # The role belongs to the cluster, shared with other test runs: it is only altered when
    # missing or wrong, so concurrent runs do not race on it.
    if row is None or not row[0]:
        rls.setup_app_role(connection, role)
    else:
        rls.grant_app_role(connection, role)
        rls.install_policies(connection)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
        # Flushing runs in system scope, i.e. as the system role, as test code does.
        for grantee in (role, rls.SYSTEM_ROLE):
            cursor.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA {qn(schema)} TO {qn(grantee)}")
            cursor.execute(f"GRANT UPDATE ON ALL SEQUENCES IN SCHEMA {qn(schema)} TO {qn(grantee)}")


def pytest_configure(config):
    _rls_wanted()  # a mistyped switch stops the run before anything is collected
    config.addinivalue_line(
        "markers",
        "superuser_db(reason): the test's queries run as the database superuser, not under "
        "row-level security (tests that switch roles or inspect ownership themselves)",
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, plus the application role every connection switches to."""
    postgres = [c for c in connections.all() if c.vendor == "postgresql"]
    if not postgres or not _rls_wanted():
        yield
        return
    with django_db_blocker.unblock():
        for connection in postgres:
            _prepare_app_role(connection, APP_ROLE)
    _Rls.role = APP_ROLE
    _Rls.databases = frozenset(c.settings_dict["NAME"] for c in postgres)
    connection_created.connect(_as_app_role, dispatch_uid="tests.rls")
    for connection in postgres:
        rls.use_role(connection, APP_ROLE)
    try:
        yield
    finally:
        # Dropping the test database is the superuser's job again.
        connection_created.disconnect(dispatch_uid="tests.rls")
        _Rls.role = None
        for connection in postgres:
            rls.use_role(connection, None)


@pytest.fixture(autouse=True)
def _rls_scope(request):
    """System scope for test code outside requests; a ``superuser_db`` test runs as the
    superuser with the connection's scope as a process starts (nothing)."""
    uses_db = "_django_db_helper" in request.fixturenames or request.node.get_closest_marker(
        "django_db"
    )
    if not uses_db or _Rls.role is None:
        yield
        return
    # After the database fixture: inside the test's transaction when there is one.
    request.getfixturevalue("_django_db_helper")
    postgres = [c for c in connections.all() if c.vendor == "postgresql"]
    superuser = request.node.get_closest_marker("superuser_db") is not None
    if superuser:
        _Rls.paused = True
        for connection in postgres:
            rls.use_role(connection, None)
    for connection in postgres:
        rls.activate(rls.BASELINE if superuser else rls.SYSTEM, connection.alias)
    yield
    if superuser:
        _Rls.paused = False
        for connection in postgres:
            try:
                rls.use_role(connection, APP_ROLE)
            except DatabaseError:  # a broken connection: the next one gets the role anyway
                connection.close()


@pytest.fixture(autouse=True)
def _isolated_side_effects(settings, tmp_path):
    """Tasks run in-process; nothing one test counts (rate limits) leaks into the next."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # The shared cache of this run alone: the file cache of var/ is shared with `make run`
    # and other test runs on the machine; Redis (CI) gets a key prefix of its own.
    redis_url = os.environ.get("REDIS_URL")
    settings.CACHES = {
        "default": {
            "BACKEND": "tests.cache_backend.PrefixedRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"okrapp-test-{os.getpid()}",
        }
        if redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    # Tests render templates without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    cache.clear()
    # A request as a member activates their language on this thread and nothing resets it
    # (in production LocaleMiddleware sets it afresh on each request): a test that renders
    # outside a request must not inherit the last test's Chinese.
    translation.deactivate()


@pytest.fixture
def acme(db):
    return OrganizationFactory(name="Acme Robotics", slug="acme")


@pytest.fixture
def globex(db):
    return OrganizationFactory(name="Globex", slug="globex", time_zone="America/New_York")


def _member(org, email, name, role="member", **extra):
    return MembershipFactory(
        organization=org, user=UserFactory(email=email, full_name=name), role=role, **extra
    )


@pytest.fixture
def alice(acme):
    return _member(acme, "alice@acme.example", "Alice Chen", "admin")


@pytest.fixture
def bob(acme, alice):
    return _member(acme, "bob@acme.example", "Bob Lin", "manager", manager=alice)


@pytest.fixture
def carol(acme, bob):
    return _member(acme, "carol@acme.example", "Carol Tsai", manager=bob)


@pytest.fixture
def erin(acme, bob):
    return _member(acme, "erin@acme.example", "Erin Huang", manager=bob, is_okr_master=True)


@pytest.fixture
def mallory(globex):
    return _member(globex, "mallory@globex.example", "Mallory Jones", "admin")


@pytest.fixture
def engineering(acme, bob, carol):
    team = TeamFactory(organization=acme, name="Engineering", slug="engineering")
    TeamMembershipFactory(organization=acme, team=team, membership=bob, is_lead=True)
    TeamMembershipFactory(organization=acme, team=team, membership=carol)
    return team


@pytest.fixture
def login(client):
    """``login(membership)`` signs the test client in as that person."""

    def _login(membership):
        client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


@pytest.fixture
def password():
    return PASSWORD


# --- Browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (Playwright's own download is not available here)."""
    return {
        **browser_type_launch_args,
        "executable_path": shutil.which("chromium") or shutil.which("chromium-browser"),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
