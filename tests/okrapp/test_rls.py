"""Row-level security (PostgreSQL): the database refuses what a forgotten filter would leak.

Each test that touches the database runs its queries as the application role
(``okrapp_app``: not a superuser, no BYPASSRLS, owns nothing), switched to with
``rls.use_role`` inside the test's transaction, on two organisations built by
``checkins.scale``. The role is created for the test when the cluster has none (and
disappears with the rollback). System scope shows as the system role being current.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from checkins import scale
from checkins.report_tasks import build_report
from checkins.tasks import cadence_tick, send_notifications
from cycles.models import KeyResult
from okrapp import rls, services
from okrapp.celery import app as celery_app
from okrapp.models import Membership, Organization, Team
from okrapp.tenancy import TenantModel

APP_ROLE = "okrapp_app"
# These tests switch to the application role themselves (rls.use_role) after creating it
# and building two organisations as the superuser; the rest of the suite runs as the role
# from the start (tests/conftest.py).
pytestmark = pytest.mark.superuser_db(reason="creates the role and switches to it itself")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row-level security is a PostgreSQL feature; this run uses "
    f"{connection.vendor} (CI runs it on PostgreSQL: DATABASE_URL=postgres://…)",
)

# Tables scale.build fills for both organisations: the raw reads below are only meaningful
# where the other organisation has rows to leak.
FILLED = {
    "okrapp_organization",
    "okrapp_membership",
    "okrapp_team",
    "okrapp_teammembership",
    "cycles_cycle",
    "cycles_objective",
    "cycles_keyresult",
    "cycles_keyresultscore",
    "checkins_checkin",
}


# --- helpers -------------------------------------------------------------------------------


def _fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _orgs_in(table: str, column: str) -> list[int]:
    """A raw ``SELECT`` with no WHERE: the query that forgot its organisation."""
    qn = connection.ops.quote_name
    return [row[0] for row in _fetch(f"SELECT {qn(column)} FROM {qn(table)}")]  # noqa: S608


def _tenant_tables() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        return rls.tenant_tables(cursor)


def _settings_now() -> tuple[str | None, str]:
    """The organisation setting and the current role (the system role in system scope)."""
    return _fetch("SELECT current_setting('okrapp.org', true), current_user")[0]


@contextmanager
def scope_log(marker: str):
    """What the connection's scope was each time a query touching ``marker`` ran."""
    seen: list[tuple] = []

    def record(execute, sql, params, many, context):
        if marker in sql:
            with context["connection"].connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('okrapp.org', true), current_user")
                seen.append(cursor.fetchone())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def app_role(db):
    """The application role with data rights on the test database (rolled back after)."""
    member = _fetch(
        "SELECT 1 FROM pg_roles me, pg_roles s WHERE me.rolname = %s AND s.rolname = %s "
        "AND pg_has_role(me.oid, s.oid, 'MEMBER')",
        [APP_ROLE, rls.SYSTEM_ROLE],
    )
    if not member:
        rls.ensure_app_role(connection, APP_ROLE, None)
    rls.grant_app_role(connection, APP_ROLE)
    rls.install_policies(connection)  # the system role's policy, if it was just created
    return APP_ROLE


@pytest.fixture
def two_orgs(db):
    a = scale.build(slug="rls-a", people=6, teams=2, krs=6, weeks=2, scores=True, seed=1)
    b = scale.build(slug="rls-b", people=6, teams=2, krs=6, weeks=2, scores=True, seed=2)
    return (
        Organization.objects.get(slug="rls-a"),
        Organization.objects.get(slug="rls-b"),
        a,
        b,
    )


@pytest.fixture
def as_app(app_role, two_orgs):
    """From here on the test's queries run as the application role, RLS enforced."""
    rls.use_role(connection, app_role)
    assert _settings_now()[1] == APP_ROLE
    yield two_orgs[:2]
    rls.activate(rls.BASELINE)
    rls.use_role(connection, None)


def _admin_of(org) -> Membership:
    with rls.system_scope():
        return Membership.objects.for_org(org).select_related("user").filter(role="admin").first()


# --- the schema ----------------------------------------------------------------------------


@on_postgresql
def test_every_tenant_table_has_the_policy_and_only_it(db):
    tables = dict(_tenant_tables())
    expected = {m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel)}
    expected |= {m._meta.db_table for m in apps.get_models() if m.__name__.startswith("Historical")}
    expected.add(Organization._meta.db_table)
    assert expected <= set(tables), f"not protected: {sorted(expected - set(tables))}"

    enabled = {
        name
        for (name,) in _fetch(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND NOT relforcerowsecurity "
            "AND relnamespace = current_schema()::regnamespace"
        )
    }
    policies: dict[str, list[tuple]] = {}
    for table, name, permissive, command, roles, qual, check in _fetch(
        "SELECT tablename, policyname, permissive, cmd, roles::text[], qual, with_check "
        "FROM pg_policies WHERE schemaname = current_schema()"
    ):
        policies.setdefault(table, []).append((name, permissive, command, roles, qual, check))
    for table, column in tables.items():
        assert table in enabled, f"{table}: row-level security is off"
        # Two permissive policies: the organisation's for everyone, and the system role's.
        # Nothing else: a third would widen what they allow.
        found = {name: rest for name, *rest in policies.get(table, [])}
        assert set(found) == {rls.POLICY, rls.SYSTEM_POLICY}, table
        permissive, command, roles, qual, check = found[rls.POLICY]
        assert (permissive, command, roles) == ("PERMISSIVE", "ALL", ["public"]), table
        # A plain equality, nothing OR-ed to it: the planner then estimates rows as if the
        # policy were not there (see test_the_policy_leaves_row_estimates_alone).
        policy = (
            f"({column} = (NULLIF(current_setting('okrapp.org'::text, true), ''::text))::bigint)"
        )
        assert qual == check == policy, table
        permissive, command, roles, qual, check = found[rls.SYSTEM_POLICY]
        assert (permissive, command, roles) == ("PERMISSIVE", "ALL", [rls.SYSTEM_ROLE]), table
        assert qual == check == "true", table


@on_postgresql
def test_the_policy_leaves_row_estimates_alone(as_app):
    """As the application role in an organisation's scope, the planner estimates that
    organisation's rows as the owner's connection does: the policy adds no selectivity of
    its own. (The first policy's ``OR scope = 'system'`` cut every table's estimate to about
    a third, and multi-table plans collapsed to one-row nested loops.)"""
    a, _b = as_app

    def estimate(sql, params) -> float:
        [(plan,)] = _fetch(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return plan[0]["Plan"]["Plan Rows"]

    query = (
        "SELECT k.id FROM cycles_keyresult k JOIN cycles_objective o ON o.id = k.objective_id "
        "WHERE k.organization_id = %s AND o.organization_id = %s"
    )
    rls.use_role(connection, None)  # ANALYZE needs the owner; so does the owner's estimate
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cycles_keyresult, cycles_objective")
    owner = estimate(query, [a.pk, a.pk])
    rls.use_role(connection, APP_ROLE)
    with rls.org_scope(a):
        assert len(_fetch(query, [a.pk, a.pk])) == 6
        assert estimate(query, [a.pk, a.pk]) == owner


@on_postgresql
def test_installing_again_changes_nothing(db):
    assert rls.install_policies(connection) == []


@on_postgresql
def test_app_role_is_not_a_superuser_and_owns_no_table(app_role):
    roles = {
        name: rest
        for name, *rest in _fetch(
            "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin, rolinherit FROM pg_roles "
            "WHERE rolname IN (%s, %s)",
            [app_role, rls.SYSTEM_ROLE],
        )
    }
    # The application logs in; it does not inherit the system role's policy, it may only
    # switch to it. The system role cannot log in. Neither bypasses row security.
    assert roles == {app_role: [False, False, True, False], rls.SYSTEM_ROLE: [False] * 4}
    assert _fetch(
        "SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, 'USAGE')",
        [app_role, rls.SYSTEM_ROLE, app_role, rls.SYSTEM_ROLE],
    ) == [(True, False)]
    owned = _fetch(
        "SELECT tablename FROM pg_tables WHERE tableowner IN (%s, %s)", [app_role, rls.SYSTEM_ROLE]
    )
    assert owned == []


# --- raw queries as the application role ----------------------------------------------------


@on_postgresql
def test_a_raw_query_without_organisation_filter_sees_only_its_organisation(as_app):
    a, b = as_app
    with rls.system_scope():
        everything = {table: _orgs_in(table, column) for table, column in _tenant_tables()}
    both = {table for table, orgs in everything.items() if {a.pk, b.pk} <= set(orgs)}
    assert both >= FILLED, "the fixture no longer fills both organisations"

    for org, other in ((a, b), (b, a)):
        with rls.org_scope(org):
            for table, column in _tenant_tables():
                seen = _orgs_in(table, column)
                assert other.pk not in seen, f"{table} leaks {other.slug}"
                assert len(seen) == everything[table].count(org.pk), table


@on_postgresql
def test_with_no_organisation_set_nothing_is_visible(as_app):
    rls.activate(rls.NOTHING)
    assert _settings_now() in {(None, APP_ROLE), ("", APP_ROLE)}
    for table, column in _tenant_tables():
        assert _orgs_in(table, column) == [], table
    # The ORM's unscoped door (admin, framework internals) sees nothing either.
    assert Team.all_tenants.count() == 0


@on_postgresql
def test_another_organisations_rows_cannot_be_written(as_app):
    a, b = as_app
    with rls.system_scope():
        b_team = Team.all_tenants.filter(organization=b).first()
        a_team = Team.all_tenants.filter(organization=a).first()
    with rls.org_scope(a):
        # Invisible, so untouchable: no row matches.
        assert Team.all_tenants.filter(pk=b_team.pk).update(name="Taken") == 0
        assert Team.all_tenants.filter(pk=b_team.pk).delete()[0] == 0
        with connection.cursor() as cursor:
            cursor.execute("UPDATE okrapp_team SET name = name")
            assert cursor.rowcount == Team.objects.for_org(a).count()
        # A row written for (or moved to) the other organisation is refused outright.
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Team.all_tenants.create(organization=b, name="Planted", slug="planted")
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Team.all_tenants.filter(pk=a_team.pk).update(organization=b)
    with rls.system_scope():
        assert Team.all_tenants.get(pk=b_team.pk).name == b_team.name
        assert not Team.all_tenants.filter(slug="planted").exists()


@on_postgresql
def test_system_scope_sees_every_organisation(as_app):
    a, b = as_app
    with rls.system_scope():
        assert set(_orgs_in("okrapp_membership", "organization_id")) == {a.pk, b.pk}
    assert _orgs_in("okrapp_membership", "organization_id") == []  # restored on exit


# --- requests --------------------------------------------------------------------------------


@on_postgresql
def test_a_tenant_page_runs_scoped_to_its_organisation(as_app, client):
    a, _b = as_app
    admin = _admin_of(a)
    with rls.org_scope(a):
        kr = KeyResult.objects.for_org(a).first()
    client.force_login(admin.user, backend="django.contrib.auth.backends.ModelBackend")

    with scope_log("cycles_keyresult") as seen:
        response = client.get(kr.get_absolute_url())
    # Without the middleware's scope the key result would be invisible: 404.
    assert response.status_code == 200
    assert kr.title in response.content.decode()
    assert seen
    assert set(seen) == {(str(a.pk), APP_ROLE)}


@on_postgresql
def test_the_api_runs_scoped_to_the_tokens_organisation(as_app, client):
    a, _b = as_app
    admin = _admin_of(a)
    with rls.org_scope(a):
        _token, secret = services.api_token_create(org=a, by=admin, name="rls")
        expected = KeyResult.objects.for_org(a).count()

    url = reverse("api-key-result-list", kwargs={"org_slug": a.slug})
    with scope_log("cycles_keyresult") as seen:
        response = client.get(url, {"page_size": 200}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == expected > 0
    assert set(seen) == {(str(a.pk), APP_ROLE)}


@on_postgresql
def test_a_reused_connection_does_not_keep_the_previous_requests_organisation(as_app, client):
    a, b = as_app
    client.force_login(_admin_of(a).user, backend="django.contrib.auth.backends.ModelBackend")
    with rls.org_scope(a):
        page = KeyResult.objects.for_org(a).first().get_absolute_url()
    assert client.get(page).status_code == 200

    # After the request: back to what the connection had before it (nothing).
    assert _settings_now() == ("", APP_ROLE)
    assert _orgs_in("okrapp_membership", "organization_id") == []

    # A stale organisation left on the connection does not reach the next request: it
    # starts in system scope and narrows to its own organisation.
    rls.activate(rls.for_org(b))
    cache.clear()  # the page is kept per viewer: draw it again, with its queries
    with scope_log("okrapp_membership") as seen:
        assert client.get(page).status_code == 200
    assert seen[0] == ("", rls.SYSTEM_ROLE)  # the membership lookup
    assert seen[-1] == (str(a.pk), APP_ROLE)
    assert (str(b.pk), APP_ROLE) not in seen
    assert _settings_now() == (str(b.pk), APP_ROLE)  # restored to what it was


@on_postgresql
def test_a_page_without_organisation_runs_in_system_scope(as_app, client):
    a, _b = as_app
    client.force_login(_admin_of(a).user, backend="django.contrib.auth.backends.ModelBackend")
    with scope_log("okrapp_membership") as seen:
        response = client.get(reverse("home"))
    assert response.status_code == 302  # one organisation: straight to it
    assert set(seen) == {("", rls.SYSTEM_ROLE)}


# --- tasks -----------------------------------------------------------------------------------


@celery_app.task(name="tests.rls.visible_orgs")
def visible_orgs(org_id: int) -> list[int]:
    """A task whose raw query forgets the organisation filter."""
    return sorted(set(_orgs_in("okrapp_membership", "organization_id")))


@celery_app.task(name="tests.rls.visible_orgs_without_org")
def visible_orgs_without_org() -> list[int]:
    return sorted(set(_orgs_in("okrapp_membership", "organization_id")))


@celery_app.task(name="tests.rls.visible_orgs_system", system_scope=True)
def visible_orgs_system() -> list[int]:
    return sorted(set(_orgs_in("okrapp_membership", "organization_id")))


@on_postgresql
def test_a_task_sees_only_the_organisation_of_its_org_id(as_app):
    a, b = as_app
    assert visible_orgs.delay(a.pk).get() == [a.pk]
    assert visible_orgs.apply(kwargs={"org_id": b.pk}).get() == [b.pk]
    assert visible_orgs_without_org.delay().get() == []
    assert visible_orgs_system.delay().get() == sorted([a.pk, b.pk])
    assert _settings_now() == ("", APP_ROLE)  # restored after each task


@on_postgresql
def test_an_eager_task_inside_a_request_scope_restores_it(as_app):
    a, b = as_app
    with rls.org_scope(a):
        assert visible_orgs.delay(b.pk).get() == [b.pk]
        assert _settings_now() == (str(a.pk), APP_ROLE)


@on_postgresql
def test_the_beat_tick_fans_out_across_organisations_under_the_app_role(as_app):
    # system scope lists both organisations (each has a cycle in scoring); each
    # cadence_tick_org it starts then runs in its own organisation's scope.
    assert cadence_tick.delay().get() == 2


def test_task_scope_comes_from_the_org_id_argument():
    assert rls.task_scope(build_report, (7, 1, 2, 3), {}) == rls.Scope(org_id=7)
    assert rls.task_scope(build_report, (), {"org_id": 8, "cycle_id": 1}) == rls.Scope(org_id=8)
    # bind=True: the task itself is not an argument.
    assert rls.task_scope(send_notifications, (9, [1, 2]), {}) == rls.Scope(org_id=9)
    assert rls.task_scope(cadence_tick, (), {}) == rls.SYSTEM
    assert rls.task_scope(visible_orgs_without_org, (), {}) == rls.NOTHING
    # Not an id (a model instance or a string by mistake): nothing, not a guess.
    assert rls.task_scope(build_report, ("7", 1, 2, 3), {}) == rls.NOTHING
    assert rls.task_scope(build_report, (True, 1, 2, 3), {}) == rls.NOTHING


# --- connections -----------------------------------------------------------------------------


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_starts_in_the_recorded_scope():
    try:
        connection.close()
        rls.activate(rls.Scope(org_id=424242))
        assert connection.connection is None  # recorded, not applied: nothing to apply it to
        assert _settings_now()[0] == "424242"
        connection.close()
        rls.activate(rls.NOTHING)
        assert _settings_now()[0] == ""
    finally:
        rls.activate(rls.BASELINE)
