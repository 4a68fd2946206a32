"""Antijoins that stay linear: ``NOT EXISTS`` instead of DataJoint's ``A - B``.

DataJoint compiles ``A - B`` to ``(k1, k2) NOT IN (SELECT k1, k2 FROM B ...)``. PostgreSQL cannot
turn a ``NOT IN`` into an anti-join (a NULL in B would change its meaning); it hashes the
subquery only while it fits in ``work_mem`` and otherwise scans B once per row of A: at 100,000
rows the follow-up stage ran for more than 15 minutes on ``Recording - ProbeAssociation``.
``NOT EXISTS`` with the keys compared in the subquery is planned as a hash or merge anti-join on
PostgreSQL and as an anti-join (or an index lookup per row) on MySQL/MariaDB, whatever the sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

from datajoint.expression import QueryExpression


def _base_table(expr: QueryExpression) -> str:
    """The quoted table an expression selects from, when it is a (restricted) table and not a subquery."""
    if len(expr.support) != 1 or not isinstance(expr.support[0], str) or getattr(expr, "_joins", None):
        raise ValueError(f"without() needs a table or a restricted table on its left, not {expr.make_sql()[:200]}")
    return expr.support[0]


def without(left: QueryExpression, right: QueryExpression, on: Sequence[str] | None = None) -> QueryExpression:
    """``left`` restricted to the rows with no row in ``right`` on ``on`` (default: their common
    attributes): DataJoint's ``left - right``, written as ``NOT EXISTS``.

    ``left`` must be a table, or one restricted (by dicts or other expressions): its rows are
    named by its table in the subquery. ``right`` may be any expression.
    """
    left, right = (x() if isinstance(x, type) else x for x in (left, right))  # a table class is its whole table
    adapter = left.connection.adapter
    on = list(on) if on is not None else [a for a in right.heading.names if a in left.heading.names]
    if not on:
        raise ValueError("without(): the two sides share no attribute to compare")
    outer = _base_table(left)
    alias = adapter.quote_identifier("_absent")
    match = " AND ".join(f"{alias}.{adapter.quote_identifier(a)} = {outer}.{adapter.quote_identifier(a)}" for a in on)
    condition = f"NOT EXISTS (SELECT 1 FROM ({right.make_sql(on)}) AS {alias} WHERE {match})"
    # Not ``left & condition``: DataJoint takes every backquoted name in a string restriction for an
    # attribute of ``left``, and on MySQL the table names are backquoted. So a placeholder restriction
    # gives the result its own copy of the restrictions (as ``&`` does), and the condition replaces it;
    # it is already escaped for the driver (the subquery's values have their % doubled).
    result = left & "TRUE"
    result.restriction[-1] = condition
    return result
