"""PostgreSQL row-level security: the database's own backstop behind ``for_org(org)``.

``TenantQuerySet`` refuses a query that forgets its organisation, but raw SQL, a
``values()`` join or a framework internal can still reach past it. On PostgreSQL every
table with an ``organization_id`` column (and ``okrapp_organization`` itself, by ``id``)
carries the policies below, and the application connects as a role that neither owns the
tables nor bypasses row security (``manage.py db_app_role``; see docs/security.md). A query
then only ever sees the rows of the organisation its connection is scoped to:

* **org scope** (``okrapp.org`` = the organisation's id): its rows only;
* **system scope** (the connection switched, ``SET ROLE``, to :data:`SYSTEM_ROLE`, which
  has a policy of its own that allows every row): for the few places that work across
  organisations before one is known (login, sign-up, organisation list, API token and
  calendar-feed lookups, Slack's signed requests, the beat's tick, manage.py);
* **nothing set**: no tenant row at all. A fresh connection starts so.

The organisation policy is a plain equality on purpose: PostgreSQL folds it into the
query's own ``organization_id = …`` and estimates rows as if it were not there. The first
design's ``… OR scope = 'system'`` was estimated at a third of each table on top of the
query's filter, and multi-table plans collapsed into nested loops once a database held
several organisations (the API's key result list: 81 ms as the application role, 27 ms as
the owner; bench/RESULTS.md).

Who sets the scope:

* requests: ``request_started`` → system; :class:`~okrapp.tenancy.TenantMiddleware` and
  the API's ``resolve_tenant`` narrow it to the organisation once the membership is known;
  ``request_finished`` → what it was before (for a web process: nothing), so a reused
  connection (``CONN_MAX_AGE``) never carries one request's organisation into the next;
* Celery tasks: ``task_prerun`` → the task's ``org_id`` argument, or system for a task
  declared with ``system_scope=True`` (the beat's fan-out), or nothing; ``task_postrun``
  → what it was before (eager tasks nest inside requests);
* ``manage.py`` commands: system (seeding, shell, migrations);
* code: :func:`org_scope` / :func:`system_scope` context managers.

The settings are session-level (``set_config(..., false)``) because requests are not
atomic, and they are applied on the raw driver connection, like Django's own time zone
set-up: they are connection state, not the page's queries, so query-count budgets in the
tests measure the view alone. When the connection is closed they are recorded and applied
by ``connection_created``. A connection switches roles only when row security binds it
(not a superuser, no BYPASSRLS) and it may (a member of :data:`SYSTEM_ROLE`); the tables'
owner running ``migrate`` sees every row anyway and keeps its own role. Other databases
(SQLite on a laptop) ignore all of this.

Not a defence against SQL injection: injected SQL could switch the role itself. It catches
the bug that forgets the organisation.
"""

from __future__ import annotations

import inspect
import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

try:
    from psycopg.pq import TransactionStatus

    _FAILED = TransactionStatus.INERROR
except ImportError:  # no psycopg: nothing here runs on another database
    _FAILED = None

log = logging.getLogger(__name__)

ORG_SETTING = "okrapp.org"
# The role system scope switches to. It cannot log in; the application role is a member
# without inheriting it (NOINHERIT), so its policy applies only once switched to.
SYSTEM_ROLE = "okrapp_system"
# Bump the suffix when an expression changes: installing drops older okrapp policies.
POLICY = "okrapp_tenant_v2"
SYSTEM_POLICY = "okrapp_tenant_system_v2"
POLICY_PREFIX = "okrapp_tenant"
ORG_TABLE = "okrapp_organization"

# ``current_setting(name, true)`` is NULL (never set) or '' (reset) without an organisation:
# NULL never equals, so nothing matches. Not wrapped in ``(SELECT …)``: every table's policy
# is then the same stable expression, which PostgreSQL puts in one equivalence class with
# the query's own ``organization_id = …`` (the policy becomes a one-time check, and joined
# tables get the organisation as a constant), and which it evaluates for row estimates.
_ALLOWS = "{column} = nullif(current_setting('okrapp.org', true), '')::bigint"


@dataclass(frozen=True)
class Scope:
    org_id: int | None = None
    system: bool = False

    @property
    def org_setting(self) -> str:
        return "" if self.org_id is None else str(self.org_id)


NOTHING = Scope()
SYSTEM = Scope(system=True)


def for_org(org) -> Scope:
    org_id = org if isinstance(org, int) else org.pk
    if org_id is None:
        raise ValueError("an organisation scope needs a saved organisation")
    return Scope(org_id=int(org_id))


# --- the connection's scope -------------------------------------------------------------------


def _baseline() -> Scope:
    """Where a process starts: manage.py commands work across organisations (seed_demo,
    seed_scale, shell, migrate); web and worker processes start with nothing and scope each
    request and task. ``runserver`` serves requests, which scope themselves."""
    program = Path(sys.argv[0]).name if sys.argv else ""
    if program in {"manage.py", "django-admin"} and sys.argv[1:2] != ["runserver"]:
        return SYSTEM
    return NOTHING


BASELINE = _baseline()


def current(using: str = DEFAULT_DB_ALIAS) -> Scope:
    return getattr(connections[using], "okrapp_rls_scope", BASELINE)


def activate(scope: Scope, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make ``scope`` the connection's scope now (or when it next connects)."""
    connection = connections[using]
    connection.okrapp_rls_scope = scope
    _apply(connection)


def _usable(connection) -> bool:
    """A live connection that takes statements now (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return False
    if connection.connection is not None:
        # Django pings a reused connection lazily before its next query; do it now, so a
        # dead one is replaced (and scoped by connection_created) instead of failing here.
        connection.close_if_health_check_failed()
    if connection.connection is None:
        return False  # connection_created applies it
    # In a failed transaction PostgreSQL refuses every statement until the rollback, which
    # undoes whatever was set inside the transaction; raising here would hide the error.
    return not (
        connection.needs_rollback or connection.connection.info.transaction_status == _FAILED
    )


def _apply(connection) -> None:
    if not _usable(connection):
        return
    scope = getattr(connection, "okrapp_rls_scope", BASELINE)
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        if getattr(connection, "okrapp_rls_switches", False):
            role = SYSTEM_ROLE if scope.system else _base_role(connection)
            cursor.execute(
                "SELECT set_config(%s, %s, false), set_config('role', %s, false)",
                [ORG_SETTING, scope.org_setting, role],
            )
        else:
            cursor.execute("SELECT set_config(%s, %s, false)", [ORG_SETTING, scope.org_setting])


def _base_role(connection) -> str:
    # 'none' is RESET ROLE: the role the connection logged in as.
    return getattr(connection, "okrapp_rls_role", None) or "none"


def _connect(connection) -> None:
    """On a new connection (or a new base role): take the base role, learn whether system
    scope switches roles here, and apply the recorded scope."""
    if not _usable(connection):
        return
    role = getattr(connection, "okrapp_rls_role", None)
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        # The base role, and whether row security binds it and it may switch to the system
        # role (a superuser or the owner running migrate keeps its own role throughout).
        cursor.execute(
            "SELECT set_config('role', %s, false), coalesce(("
            "SELECT NOT (me.rolsuper OR me.rolbypassrls) AND pg_has_role(me.oid, s.oid, 'MEMBER')"
            " FROM pg_roles me, pg_roles s"
            " WHERE me.rolname = coalesce(%s, session_user) AND s.rolname = %s), false)",
            [role or "none", role, SYSTEM_ROLE],
        )
        switches = cursor.fetchone()[1]
    connection.okrapp_rls_switches = bool(switches)
    _apply(connection)


def use_role(connection, role: str | None) -> None:
    """Run ``connection`` as ``role`` (``None``: the role it logged in as), now and after a
    reconnect. Production logs in as the application role and never calls this; the test
    suite logs in as a superuser and switches its connections to the application role."""
    connection.okrapp_rls_role = role
    _connect(connection)


@contextmanager
def scope(new: Scope, using: str = DEFAULT_DB_ALIAS):
    previous = current(using)
    activate(new, using)
    try:
        yield
    finally:
        activate(previous, using)


def org_scope(org, using: str = DEFAULT_DB_ALIAS):
    """``with org_scope(org):`` tenant tables show this organisation's rows only."""
    return scope(for_org(org), using)


def system_scope(using: str = DEFAULT_DB_ALIAS):
    """``with system_scope():`` every organisation's rows (cross-organisation work only)."""
    return scope(SYSTEM, using)


def _stack(connection) -> list[Scope]:
    if not hasattr(connection, "okrapp_rls_stack"):
        connection.okrapp_rls_stack = []
    return connection.okrapp_rls_stack


def push(new: Scope, using: str = DEFAULT_DB_ALIAS) -> None:
    """Like ``scope()`` for hooks that start and end in different calls (signals)."""
    _stack(connections[using]).append(current(using))
    activate(new, using)


def pop(using: str = DEFAULT_DB_ALIAS) -> None:
    stack = _stack(connections[using])
    activate(stack.pop() if stack else BASELINE, using)


# --- signal handlers ---------------------------------------------------------------------------


def on_connection_created(sender, connection, **kwargs) -> None:
    _connect(connection)


def on_request_started(sender, **kwargs) -> None:
    # Also what makes a reused connection forget the previous request's organisation.
    connection = connections[DEFAULT_DB_ALIAS]
    connection.okrapp_rls_before_request = current()
    activate(SYSTEM)


def on_request_finished(sender, **kwargs) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    activate(getattr(connection, "okrapp_rls_before_request", BASELINE))
    connection.okrapp_rls_before_request = BASELINE


_ORG_ARGUMENT: dict[str, inspect.Signature | None] = {}


def task_scope(task, args, kwargs) -> Scope:
    """The scope a task runs in: ``system_scope=True`` tasks see every organisation; the
    rest see the organisation of their ``org_id`` argument, or nothing without one."""
    if getattr(task, "system_scope", False):
        return SYSTEM
    if task.name not in _ORG_ARGUMENT:
        try:
            signature = inspect.signature(task.run)
        except (TypeError, ValueError):
            signature = None
        has_org = signature is not None and "org_id" in signature.parameters
        _ORG_ARGUMENT[task.name] = signature if has_org else None
    signature = _ORG_ARGUMENT[task.name]
    if signature is None:
        return NOTHING
    try:
        org_id = signature.bind_partial(*(args or ()), **(kwargs or {})).arguments.get("org_id")
    except TypeError:  # wrong arguments: the task fails on its own, with nothing visible
        return NOTHING
    if isinstance(org_id, bool) or not isinstance(org_id, int):
        return NOTHING
    return Scope(org_id=org_id)


def on_task_prerun(sender=None, task=None, args=None, kwargs=None, **extra) -> None:
    push(task_scope(task or sender, args, kwargs))


def on_task_postrun(sender=None, **extra) -> None:
    pop()


def install() -> None:
    """Connect the hooks (``OkrappConfig.ready``)."""
    from celery import signals as celery_signals
    from django.core import signals as request_signals
    from django.db.backends.signals import connection_created
    from django.db.models.signals import post_migrate

    connection_created.connect(on_connection_created, dispatch_uid="okrapp.rls")
    request_signals.request_started.connect(on_request_started, dispatch_uid="okrapp.rls")
    request_signals.request_finished.connect(on_request_finished, dispatch_uid="okrapp.rls")
    celery_signals.task_prerun.connect(on_task_prerun, dispatch_uid="okrapp.rls", weak=False)
    celery_signals.task_postrun.connect(on_task_postrun, dispatch_uid="okrapp.rls", weak=False)
    post_migrate.connect(on_post_migrate, dispatch_uid="okrapp.rls")


# --- policies and the application role ----------------------------------------------------------


def tenant_tables(cursor) -> list[tuple[str, str]]:
    """(table, organisation column) of every table that needs the policy, found in the
    schema itself so a new table is covered the day its migration runs."""
    cursor.execute(
        """
        SELECT c.table_name, 'organization_id'
        FROM information_schema.columns c
        JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'organization_id'
          AND t.table_type = 'BASE TABLE'
        UNION
        SELECT table_name, 'id' FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name = %s
        ORDER BY 1
        """,
        [ORG_TABLE],
    )
    return list(cursor.fetchall())


def _role_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    return cursor.fetchone() is not None


def install_policies(connection) -> list[str]:
    """Enable row security and the policies on every tenant table missing them (idempotent:
    a table already protected is not touched, so no lock is taken on a live table).
    Returns the tables changed. Must run as the tables' owner (migrations do).

    Every table gets the organisation policy; the system role's policy (every row) is added
    once that role exists (``db_app_role`` creates it; a policy names an existing role)."""
    if connection.vendor != "postgresql":
        return []
    qn = connection.ops.quote_name
    changed = []
    with connection.cursor() as cursor:
        tables = tenant_tables(cursor)
        wanted = {POLICY, SYSTEM_POLICY} if _role_exists(cursor, SYSTEM_ROLE) else {POLICY}
        cursor.execute(
            "SELECT tablename, policyname FROM pg_policies "
            "WHERE schemaname = current_schema() AND policyname LIKE %s",
            [POLICY_PREFIX + "%"],
        )
        policies: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            policies.setdefault(table, set()).add(name)
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity "
            "AND relnamespace = current_schema()::regnamespace"
        )
        enabled = {row[0] for row in cursor.fetchall()}
        for table, column in tables:
            existing = policies.get(table, set())
            if table in enabled and existing == wanted:
                continue
            for old in existing - wanted:
                cursor.execute(f"DROP POLICY {qn(old)} ON {qn(table)}")
            if POLICY not in existing:
                allows = _ALLOWS.format(column=qn(column))
                cursor.execute(
                    f"CREATE POLICY {qn(POLICY)} ON {qn(table)} "
                    f"USING ({allows}) WITH CHECK ({allows})"
                )
            if SYSTEM_POLICY in wanted - existing:
                cursor.execute(
                    f"CREATE POLICY {qn(SYSTEM_POLICY)} ON {qn(table)} TO {qn(SYSTEM_ROLE)} "
                    "USING (true) WITH CHECK (true)"
                )
            cursor.execute(f"ALTER TABLE {qn(table)} ENABLE ROW LEVEL SECURITY")
            changed.append(table)
    return changed


def on_post_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    # Sent once per app after the whole plan ran; okrapp's is enough for every table.
    if sender.name != "okrapp":
        return
    changed = install_policies(connections[using])
    if changed:
        log.info("row-level security enabled on %s table(s)", len(changed))


def grant_app_role(connection, role: str) -> None:
    """Data rights (no DDL) on every table and sequence of the schema, now and for the
    tables the owner (who runs migrations) creates later: to ``role`` and, when it exists,
    to the system role (which has no rights of its own until switched to)."""
    with connection.cursor() as cursor:
        roles = [role, SYSTEM_ROLE] if _role_exists(cursor, SYSTEM_ROLE) else [role]
    for grantee in roles:
        _grant_data_rights(connection, grantee)


def _grant_data_rights(connection, role: str) -> None:
    from psycopg import sql

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), current_schema(), coalesce("
            "(SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = %s), current_user)",
            [ORG_TABLE],
        )
        database, schema, owner = cursor.fetchone()
        names = {
            "role": sql.Identifier(role),
            "database": sql.Identifier(database),
            "schema": sql.Identifier(schema),
            "owner": sql.Identifier(owner),
        }
        statements = [
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        ]
        raw = connection.connection
        for statement in statements:
            cursor.execute(sql.SQL(statement).format(**names).as_string(raw))


# What both roles are denied; the application role logs in, the system role cannot.
_ROLE_LIMITS = "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT"


def _create_or_alter_role(cursor, name: str, attributes: str, password: str | None = None) -> bool:
    """Create role ``name`` with ``attributes``, or set them on the existing one (and the
    password, when given). Returns True when it was created."""
    from psycopg import sql

    created = not _role_exists(cursor, name)
    verb = "CREATE ROLE" if created else "ALTER ROLE"
    statement = sql.SQL(f"{verb} {{role}} {attributes}").format(role=sql.Identifier(name))
    if password is not None:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    cursor.execute(statement.as_string(cursor.connection))
    return created


def ensure_app_role(connection, role: str, password: str | None) -> bool:
    """Create (or correct) the login role the application connects as: not a superuser,
    no BYPASSRLS, no DDL rights, not inheriting what it is granted; and the system role it
    may switch to (cannot log in). Returns True when the application role was created."""
    from psycopg import sql

    with connection.cursor() as cursor:
        created = _create_or_alter_role(cursor, role, f"LOGIN {_ROLE_LIMITS}", password)
        _create_or_alter_role(cursor, SYSTEM_ROLE, f"NOLOGIN {_ROLE_LIMITS}")
        cursor.execute(
            sql.SQL("GRANT {system} TO {role}")
            .format(system=sql.Identifier(SYSTEM_ROLE), role=sql.Identifier(role))
            .as_string(connection.connection)
        )
    return created


def setup_app_role(connection, role: str, password: str | None = None) -> tuple[bool, list[str]]:
    """What ``manage.py db_app_role`` does (and the test suite, on its test database): the
    role created or corrected, its data rights granted, every tenant table's policy in place.
    Run as the tables' owner inside one transaction. Returns (created, tables changed)."""
    created = ensure_app_role(connection, role, password)
    grant_app_role(connection, role)
    return created, install_policies(connection)
