"""The schema stays ready to distribute by organisation (Citus; see docs/scaling.md):
every tenant table carries the organisation column, every unique constraint and foreign
key between tenant tables includes it, or is listed here with the reason."""

import importlib
import pkgutil

from django.apps import apps
from django.db import models

from okrapp.db import AddTenantForeignKey
from okrapp.tenancy import TenantModel

# Single-column unique fields on tenant tables, each with the reason it is acceptable.
UNIQUE_EXCEPTIONS = {
    # One-to-one fields imply UNIQUE(column); each also has UNIQUE(organization, column).
    ("cycles", "keyresultscore", "key_result"): "one-to-one; composite unique beside it",
    ("checkins", "acknowledgement", "checkin"): "one-to-one; composite unique beside it",
    # Links to django-allauth's SocialApp, a reference table (not tenant data).
    ("okrapp", "ssoconfiguration", "oidc_app"): "points at a reference table",
    ("okrapp", "ssoconfiguration", "saml_app"): "points at a reference table",
}


def tenant_models():
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def tenant_foreign_keys():
    for model in tenant_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and issubclass(field.related_model, TenantModel):
                yield model, field


def composite_keys_in_migrations() -> set[tuple[str, str, str]]:
    found = set()
    for app in ("okrapp", "cycles", "checkins"):
        package = importlib.import_module(f"{app}.migrations")
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{app}.migrations.{info.name}")
            for op in getattr(module.Migration, "operations", []):
                if isinstance(op, AddTenantForeignKey):
                    found.add((app, op.model_name.lower(), op.field_name))
    return found


def test_every_tenant_table_has_the_organisation_column():
    for model in tenant_models():
        assert model._meta.get_field("organization").column == "organization_id", model


def test_history_tables_carry_the_organisation_too():
    historical = [m for m in apps.get_models() if m.__name__.startswith("Historical")]
    assert historical
    for model in historical:
        assert "organization_id" in [f.column for f in model._meta.concrete_fields], model


def test_every_unique_constraint_includes_the_organisation():
    for model in tenant_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                in_fields = "organization" in constraint.fields
                in_expressions = any("organization" in str(e) for e in constraint.expressions)
                assert in_fields or in_expressions, f"{model.__name__}: {constraint.name}"
        for field in model._meta.local_fields:
            if field.unique and not field.primary_key:
                key = (model._meta.app_label, model._meta.model_name, field.name)
                assert key in UNIQUE_EXCEPTIONS, f"{key} is unique without the organisation"


def test_every_foreign_key_between_tenant_tables_has_its_composite_twin():
    declared = composite_keys_in_migrations()
    missing = [
        (model._meta.app_label, model._meta.model_name, field.name)
        for model, field in tenant_foreign_keys()
        if (model._meta.app_label, model._meta.model_name, field.name) not in declared
    ]
    assert missing == []


def test_every_referenced_tenant_table_is_unique_on_organisation_and_id():
    for _model, field in tenant_foreign_keys():
        parent = field.related_model
        assert any(
            isinstance(c, models.UniqueConstraint) and set(c.fields) == {"organization", "id"}
            for c in parent._meta.constraints
        ), f"{parent.__name__} needs UNIQUE(organization, id) for composite keys to point at it"
