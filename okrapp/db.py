"""Database-level tenancy guards that Django's schema editor cannot express."""

from django.db.migrations.operations.base import Operation


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
