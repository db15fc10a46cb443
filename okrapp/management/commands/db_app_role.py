"""``manage.py db_app_role``: the PostgreSQL role the application connects as.

Run as the tables' owner (the role that runs ``migrate``), after ``migrate``. It creates the
role, or corrects it, as LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT with no DDL rights, and the
role system scope switches to (``okrapp_system``, NOLOGIN, which the application role may
``SET ROLE`` to); grants both data rights on every table and sequence (and, by default
privileges, on the tables later migrations create), and makes sure every tenant table has
its row-level security policies (the organisation's, and the system role's).
The password is read from an environment variable, never from the command line (``ps``).
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from okrapp import rls


class Command(BaseCommand):
    help = (
        "Create or update the PostgreSQL role the application connects as (not a superuser, "
        "no BYPASSRLS, not the owner) and grant it data rights; run as the owner after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="role name, e.g. okrapp_app")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="environment variable holding the role's password (none: leave it as it is)",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, role, password_env, database, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(
                f"Row-level security needs PostgreSQL; this database is {connection.vendor}."
            )
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"The environment variable {password_env} is empty or unset.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            (me,) = cursor.fetchone()
            cursor.execute(
                "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename = %s",
                [rls.ORG_TABLE],
            )
            owner = cursor.fetchone()
        if owner is None:
            raise CommandError("No okrapp tables here yet: run `manage.py migrate` first.")
        if role in (me, owner[0]):
            raise CommandError(
                f"{role} owns the tables (or is this connection's role); the application "
                "role must be another one, or row-level security does not apply to it."
            )
        with transaction.atomic(using=database):
            created, changed = rls.setup_app_role(connection, role, password)
        self.stdout.write(
            f"{'Created' if created else 'Updated'} role {role}: data rights on every table; "
            f"row-level security {'added to ' + str(len(changed)) if changed else 'already on'}"
            " tenant table(s)."
        )
