"""Rows read and written with SQL built once from the models: the check-in's hot path.

A check-in is the write everyone makes every week, and most of its cost was the ORM
building the same few statements again on every call (about 1 ms each on a 2-core
machine, against 0.1-0.2 ms for PostgreSQL to run one). Here the statements are built once
per model from its ``_meta`` and kept; values go through each field's own conversion on the
way in (``get_db_prep_save``) and the backend's converters on the way out, as the ORM does,
so the rows read and written are the ORM's to the byte, on PostgreSQL and SQLite alike.

What this skips, on purpose: ``pre_save``/``post_save`` signals, and with them
django-simple-history's, whose row :func:`copy_to_history` writes instead (from the row as
the database holds it). A test checks that nothing else listens to the models written
here (``tests/checkins/test_rows.py``).

Every statement is scoped to the row's organisation, as the tenant querysets would scope it.
"""

from __future__ import annotations

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.utils import timezone

#: The largest id a row can have (a 64-bit key). A larger one names no row, and raw SQL
#: must not send it: SQLite's driver cannot bind it (OverflowError), where the ORM's
#: lookups simply find nothing. The API's id fields and the raw reads share this bound.
MAX_ID = 2**63 - 1


def is_id(text: str) -> bool:
    """Whether ``text`` names a row's id: ASCII digits (``int()`` would also read other
    scripts' digits, "١٢"), no larger than :data:`MAX_ID`."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


# simple_history's own columns on a historical model, written here beside the tracked ones.
_HISTORY_OWN = ("history_date", "history_change_reason", "history_type", "history_user_id")


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


def select_list(model: type[Model], alias: str) -> str:
    """The model's columns, in ``concrete_fields`` order, for a ``SELECT`` over ``alias``."""
    return ", ".join(f"{alias}.{_qn(f.column)}" for f in _fields(model))


def _converters(model: type[Model]) -> list[tuple[int, list, object]]:
    # The ORM's converters (SQLite hands back decimals as floats and dates as text), per
    # connection: some are the backend's methods, bound to it.
    return _converters_for(model, connections[DEFAULT_DB_ALIAS])


@cache
def _converters_for(model: type[Model], wrapper) -> list[tuple[int, list, object]]:
    found = []
    for index, field in enumerate(_fields(model)):
        column = field.get_col(model._meta.db_table)
        funcs = wrapper.ops.get_db_converters(column) + field.get_db_converters(wrapper)
        if funcs:
            found.append((index, funcs, column))
    return found


def from_row(model: type[Model], row, start: int = 0):
    """An instance of ``model`` from ``row[start:]`` (columns as in :func:`select_list`),
    as the ORM would build it; returns it and the index after its columns."""
    fields = _fields(model)
    values = list(row[start : start + len(fields)])
    for index, funcs, column in _converters(model):
        for func in funcs:
            values[index] = func(values[index], column, connection)
    instance = model.from_db(connection.alias, [f.attname for f in fields], values)
    return instance, start + len(fields)


@cache
def _update_sql(model: type[Model], names: tuple[str, ...]) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    sets = ", ".join(f"{_qn(f.column)} = %s" for f in fields)
    return (
        f"UPDATE {_qn(meta.db_table)} SET {sets} "  # noqa: S608 - names from _meta, quoted
        f"WHERE {_qn('organization_id')} = %s AND {_qn(meta.pk.column)} = %s",
        fields,
    )


def update(instance: Model, names: tuple[str, ...]) -> None:
    """Write ``names`` of ``instance`` to its row (one ``UPDATE``), as ``save(update_fields=)``
    would, less the signals. The row must exist: a row gone is an error, not a no-op."""
    sql, fields = _update_sql(type(instance), tuple(names))
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, instance.organization_id, instance.pk])
        if cursor.rowcount != 1:
            raise type(instance).DoesNotExist(f"{type(instance).__name__} {instance.pk} is gone")


@cache
def _insert_sql(model: type[Model]) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(f for f in _fields(model) if f is not meta.pk)
    columns = ", ".join(_qn(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return (
        f"INSERT INTO {_qn(meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608 - names from _meta, quoted
        f"RETURNING {_qn(meta.pk.column)}",
        fields,
    )


def insert(instance: Model) -> None:
    """Insert ``instance`` as a new row (one ``INSERT … RETURNING``) and set its key, as
    ``save()`` would, less the signals and the field defaults' ``pre_save`` (set them)."""
    sql, fields = _insert_sql(type(instance))
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


@cache
def _history_sql(model: type[Model]) -> str:
    meta = model._meta
    historical = model.history.model
    tracked = [f.column for f in historical.tracked_fields]
    into = ", ".join(_qn(c) for c in [*tracked, *_HISTORY_OWN])
    copied = ", ".join(_qn(c) for c in tracked)
    return (
        f"INSERT INTO {_qn(historical._meta.db_table)} ({into}) "  # noqa: S608 - names from _meta, quoted
        f"SELECT {copied}, %s, NULL, %s, %s FROM {_qn(meta.db_table)} "
        f"WHERE {_qn('organization_id')} = %s AND {_qn(meta.pk.column)} = %s"
    )


CREATED, CHANGED = "+", "~"


def copy_to_history(instance: Model, kind: str, *, user_id: int | None, when=None) -> None:
    """Add the row's django-simple-history version as the database now holds it (one
    ``INSERT … SELECT``): the row simple_history's ``post_save`` would have written after a
    save. ``kind``: :data:`CREATED` or :data:`CHANGED`."""
    historical = type(instance).history.model
    stamp = historical._meta.get_field("history_date").get_db_prep_save(
        when or timezone.now(), connection
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _history_sql(type(instance)),
            [stamp, kind, user_id, instance.organization_id, instance.pk],
        )
