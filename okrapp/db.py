"""Database-level tenancy guards that Django's schema editor cannot express, and the
planning switch for the few queries that prepared statements would slow down."""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.operations.base import Operation


@contextmanager
def custom_plans(using: str = DEFAULT_DB_ALIAS):
    """Send the queries run inside unprepared: PostgreSQL plans each for its parameters.

    With prepared statements (``DB_PREPARED_STATEMENTS``) PostgreSQL switches a statement
    to a generic plan after five runs when that plan looks no costlier. For most of our
    queries it is faster (no planning); for a dashboard's aggregates over a team's key
    results it is not: planned without knowing the organisation, the cycle and the
    people, the summary query took 16-25 ms instead of 7-12 ms. Client-side only (psycopg
    skips preparing while its threshold is ``None``): no statement is added."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold


class AddTenantForeignKey(Operation):
    """On PostgreSQL, make ``(organization_id, <fk>)`` reference ``(organization_id, id)``.

    Django's own foreign key only proves the parent exists; this one proves it belongs to
    the same organisation, so no bug above the database can link two tenants' rows. The
    parent needs a unique constraint on ``(organization, id)``. Other databases skip it.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, field_name: str):
        self.model_name = model_name
        self.field_name = field_name

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name, self.field_name], {})

    def state_forwards(self, app_label, state):
        pass

    def _names(self, app_label, state, schema_editor):
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        parent = field.related_model
        table = model._meta.db_table
        name = f"{table}_{field.column}_same_org_fk"[:63]
        qn = schema_editor.quote_name
        return (
            qn(table),
            qn(name),
            qn(field.column),
            qn(parent._meta.db_table),
            qn(parent._meta.pk.column),
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table, name, column, parent_table, parent_pk = self._names(
            app_label, to_state, schema_editor
        )
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} "
            f'FOREIGN KEY ("organization_id", {column}) '
            f'REFERENCES {parent_table} ("organization_id", {parent_pk}) '
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table, name, *_ = self._names(app_label, from_state, schema_editor)
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    def describe(self):
        return f"Same-organisation foreign key on {self.model_name}.{self.field_name}"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name.lower()}_{self.field_name}_same_org"
