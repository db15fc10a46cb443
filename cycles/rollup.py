"""Aligned progress in SQL: the statements that keep ``Objective.aligned_progress`` (with
``aligned_total`` and ``aligned_count``) equal to ``cycles.scoring.aligned_progress``.

Written out rather than built with the ORM, which has no recursive queries: the objectives
an objective contributes to are found by walking the alignment links up (``WITH RECURSIVE``,
on PostgreSQL and SQLite alike) in the statement that writes them. Every table in every
statement is filtered by the organisation, as the tenant querysets would filter it (and as
row-level security demands on PostgreSQL). Table names are written out, not read from the
models, so that the migration that fills the figures in runs the same statements.

Two ways to bring the figures up to date, used by ``cycles.services.objective_rollup_ancestors``:

* :func:`add`: one objective's contribution (its progress in ten-thousandths, and 1 if it
  counts) changed by a known amount, so every objective it contributes to is moved by that
  amount: ``aligned_total = aligned_total + …``. Cheap (no walk down) and exact on every
  database: the check-in's path. An increment of the row's own columns is also safe when
  the ``UPDATE`` waits for another writer's row lock: PostgreSQL applies it to the newest
  version of the row.
* :func:`recompute`: the figures computed afresh from every contributor (a walk down from
  each objective written), for what moves whole branches: alignment links added or
  removed, a deleted objective, data written in bulk. ``SET x = (subquery)`` is *not*
  safe against a concurrent writer (a waiting ``UPDATE`` re-evaluates the subquery with its
  old snapshot), so the rows are locked first, in a statement of their own.

On PostgreSQL the rows above are locked before either write, in an earlier statement: by
:func:`lock`, or on a check-in's path by :func:`set_progress`, the statement that writes the
objective's own progress (so that a check-in on an aligned objective costs one statement
more, :func:`add`, and one on an objective aligned to nothing none). Both take the rows in
one order for everyone: deepest first (the longest chain of links above an objective), then
by id. An objective always comes before everything it contributes to, and a writer has
locked its own objective before, so no two writers wait for each other in a circle (not even
with team objectives aligned to the objective of a team above them, where ordering by id or
by level alone would: ``tests/cycles/test_rollup_concurrency.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

#: ``ObjectiveStatus.ARCHIVED``, written out like the table names (a test holds them equal).
ARCHIVED = "archived"

# The walk up from an objective's parents (and ``also``: objectives that must be counted
# afresh, with whatever they contribute to, though the objective no longer reaches them).
# UNION keeps each objective once, however many paths lead to it.
_UP = (
    "target(id) AS (SELECT parent_id FROM cycles_alignment "
    "WHERE organization_id = %s AND child_id = %s{also} UNION {step})"
)
_ALSO = " UNION SELECT id FROM cycles_objective WHERE organization_id = %s AND id IN ({marks})"
# One step up. PostgreSQL cannot estimate a walk's size: it guessed a hundred objectives
# where there are two or three and scanned the organisation's links at each step (1.4 ms a
# check-in, at 2,500 objectives). Fenced in a LATERAL subquery (OFFSET 0 keeps it from being
# merged back into a join), each step is an index lookup per objective found.
_STEP = {
    "postgresql": "SELECT a.parent_id FROM target CROSS JOIN LATERAL (SELECT parent_id "
    "FROM cycles_alignment WHERE organization_id = %s AND child_id = target.id OFFSET 0) a",
    "sqlite": "SELECT a.parent_id FROM cycles_alignment a JOIN target ON a.child_id = target.id "
    "WHERE a.organization_id = %s",
}
# The objectives found, in the statement's WHERE: an array on PostgreSQL, which it then looks
# up by index (a plain IN was planned as a scan of every objective of the organisation).
_FOUND = {
    "postgresql": "id = ANY(ARRAY(SELECT id FROM target))",
    "sqlite": "id IN (SELECT id FROM target)",
}
_EVERY = "target(id) AS (SELECT id FROM cycles_objective WHERE organization_id = %s)"
_GIVEN = (
    "target(id) AS (SELECT id FROM cycles_objective WHERE organization_id = %s AND id IN ({marks}))"
)

#: Beyond this many links above an objective the lock order stops counting (a loop in the
#: data, which the services refuse, would otherwise never end the walk).
_DEPTH_LIMIT = 64


def _vendor(cursor) -> str:
    return "postgresql" if cursor.db.vendor == "postgresql" else "sqlite"


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _up(vendor: str, org_id: int, objective_id: int, also: Sequence[int]) -> tuple[str, list]:
    if not also:
        return _UP.format(also="", step=_STEP[vendor]), [org_id, objective_id, org_id]
    return (
        _UP.format(also=_ALSO.format(marks=_marks(len(also))), step=_STEP[vendor]),
        [org_id, objective_id, org_id, *also, org_id],
    )


# PostgreSQL only. The longest chain of links above each objective found (its "height"): a
# walk up from each, one index lookup per step as in _STEP. Up, not down from the top: an
# objective has one or two parents but may have hundreds of children.
_WALK = (
    "walk(id, above, d) AS (SELECT id, id, 0 FROM target UNION "  # noqa: S608 - fixed text
    "SELECT walk.id, a.parent_id, walk.d + 1 FROM walk CROSS JOIN LATERAL (SELECT "
    "parent_id FROM cycles_alignment WHERE organization_id = %s AND child_id = walk.above "
    f"OFFSET 0) a WHERE walk.d < {_DEPTH_LIMIT})"
)
_LOCKING = (
    "SELECT o.id FROM cycles_objective o "  # noqa: S608 - fixed text, values are parameters
    "JOIN (SELECT id, MAX(d) AS d FROM walk GROUP BY id) h ON h.id = o.id "
    f"WHERE o.organization_id = %s AND o.{_FOUND['postgresql']} "
    "ORDER BY h.d DESC, o.id FOR UPDATE OF o"
)


@cache
def _lock_sql(target: str) -> str:
    return f"WITH RECURSIVE {target}, {_WALK} {_LOCKING}"


def lock(cursor, org_id: int, objective_id: int, also: Sequence[int] = ()) -> list[int]:
    """Lock (PostgreSQL: ``FOR UPDATE``) every objective ``objective_id`` contributes to, and
    ``also`` with what they contribute to; deepest first. Returns their ids."""
    target, params = _up("postgresql", org_id, objective_id, also)
    cursor.execute(_lock_sql(target), [*params, org_id, org_id])
    return [row[0] for row in cursor.fetchall()]


@cache
def _set_progress_sql(vendor: str) -> str:
    write = "UPDATE cycles_objective SET progress = %s WHERE organization_id = %s AND id = %s "
    if vendor == "postgresql":
        target, _params = _up(vendor, 0, 0, ())
        # The rows above are locked when RETURNING reads them, after the objective's own.
        return (
            f"WITH RECURSIVE {target}, {_WALK}, above AS ({_LOCKING}) "  # noqa: S608 - fixed
            f"{write}RETURNING (SELECT count(*) FROM above)"
        )
    return (
        f"{write}RETURNING EXISTS (SELECT 1 FROM cycles_alignment "  # noqa: S608 - fixed text
        "WHERE organization_id = %s AND child_id = %s)"
    )


def set_progress(cursor, org_id: int, objective_id: int, progress) -> bool:
    """Write the objective's own ``progress`` and, in the same statement, say whether it
    contributes to any other objective; on PostgreSQL also lock those (as :func:`lock`),
    so that a check-in then moves them with :func:`add` alone. The caller holds the
    objective's row lock. False when the objective is gone or aligned to nothing."""
    vendor = _vendor(cursor)
    if vendor == "postgresql":
        _target, params = _up(vendor, org_id, objective_id, ())
        params = [*params, org_id, org_id, progress, org_id, objective_id]
    else:
        params = [progress, org_id, objective_id, org_id, objective_id]
    cursor.execute(_set_progress_sql(vendor), params)
    row = cursor.fetchone()
    return bool(row and row[0])


def lock_ids(cursor, org_id: int, ids: Sequence[int]) -> None:
    """Lock the objectives ``ids`` (PostgreSQL), by id: ones a walk found only after
    :func:`lock` had run (a link added in between)."""
    cursor.execute(
        "SELECT id FROM cycles_objective WHERE organization_id = %s "  # noqa: S608 - marks only
        f"AND id IN ({_marks(len(ids))}) ORDER BY id FOR UPDATE",
        [org_id, *ids],
    )


@cache
def _add_sql(vendor: str) -> str:
    target, _params = _up(vendor, 0, 0, ())
    total = "(aligned_total + CAST(%s AS BIGINT))"
    count = "(aligned_count + CAST(%s AS BIGINT))"
    return (
        f"WITH RECURSIVE {target} "  # noqa: S608 - fixed text, values are parameters
        "UPDATE cycles_objective SET "
        f"aligned_total = {total}, aligned_count = {count}, "
        # The mean rounded half up to 4 places, in whole numbers: exact on both databases.
        f"aligned_progress = CASE WHEN {count} = 0 THEN NULL "
        f"ELSE (2 * {total} + {count}) / (2 * {count}) / 10000.0 END "
        f"WHERE organization_id = %s AND {_FOUND[vendor]}"
    )


def add(cursor, org_id: int, objective_id: int, total: int, count: int) -> None:
    """Move the figures of everything ``objective_id`` contributes to by ``total``
    ten-thousandths of progress and ``count`` objectives (one statement)."""
    vendor = _vendor(cursor)
    _target, params = _up(vendor, org_id, objective_id, ())
    cursor.execute(_add_sql(vendor), [*params, total, count, count, total, count, count, org_id])


@cache
def _recompute_sql(vendor: str, target: str) -> str:
    figure = "SELECT {column} FROM figures f WHERE f.root = cycles_objective.id"
    return (
        f"WITH RECURSIVE {target}, "  # noqa: S608 - fixed text, values are parameters
        "down(root, id) AS ("
        "SELECT a.parent_id, a.child_id FROM cycles_alignment a "
        "WHERE a.organization_id = %s AND a.parent_id IN (SELECT id FROM target) UNION "
        "SELECT down.root, a.child_id FROM cycles_alignment a JOIN down ON a.parent_id = down.id "
        "WHERE a.organization_id = %s), "
        "figures(root, total, n) AS ("
        "SELECT down.root, CAST(SUM(CAST(ROUND(o.progress * 10000) AS BIGINT)) AS BIGINT), "
        "COUNT(*) FROM down JOIN cycles_objective o "
        "ON o.organization_id = %s AND o.id = down.id "
        "WHERE o.progress IS NOT NULL AND o.status <> %s AND o.id <> down.root "
        "GROUP BY down.root) "
        "UPDATE cycles_objective SET "
        f"aligned_total = COALESCE(({figure.format(column='f.total')}), 0), "
        f"aligned_count = COALESCE(({figure.format(column='f.n')}), 0), "
        "aligned_progress = ("
        + figure.format(column="(2 * f.total + f.n) / (2 * f.n) / 10000.0")
        + f") WHERE organization_id = %s AND {_FOUND[vendor]} RETURNING id"
    )


def _recompute(cursor, org_id: int, target: str, params: list) -> list[int]:
    vendor = _vendor(cursor)
    if vendor == "postgresql":
        # The walk down is estimated at thousands of times its size (PostgreSQL cannot
        # know how deep links go), which would have this statement compiled by the JIT:
        # two seconds for a few milliseconds of work. Until the transaction ends.
        cursor.execute("SET LOCAL jit = off")
    cursor.execute(
        _recompute_sql(vendor, target),
        [*params, org_id, org_id, org_id, ARCHIVED, org_id],
    )
    return [row[0] for row in cursor.fetchall()]


def recompute(cursor, org_id: int, objective_id: int, also: Sequence[int] = ()) -> list[int]:
    """Compute afresh the figures of everything ``objective_id`` contributes to, and of
    ``also`` with what they contribute to. Returns the ids written."""
    target, params = _up(_vendor(cursor), org_id, objective_id, also)
    return _recompute(cursor, org_id, target, params)


def recompute_ids(cursor, org_id: int, ids: Sequence[int]) -> list[int]:
    """Compute afresh the figures of the objectives ``ids``."""
    return _recompute(cursor, org_id, _GIVEN.format(marks=_marks(len(ids))), [org_id, *ids])


def recompute_organisation(cursor, org_id: int) -> int:
    """Compute afresh the figures of every objective of the organisation (after writes in
    bulk: an import, the scale data, the migration that added the figures). Returns how
    many objectives were written."""
    return len(_recompute(cursor, org_id, _EVERY, [org_id]))
