"""Bulk writes: the rows of one insert chunk, table by table, in a few multi-row statements.

DataJoint's ``insert`` turns every value of every row into a placeholder through the table's
heading (codecs, UUIDs, JSON), about 10 us a value: at 100,000 sessions that alone was most of
insertion's time. The tables this tool writes hold plain values, so :func:`write_rows` checks
the column names once per table and per-row only serialises JSON, then sends one ``INSERT ...
VALUES (...), (...)`` per batch of rows (PostgreSQL and MySQL alike, through the DataJoint
connection, so errors are DataJoint's: a duplicate key is ``DuplicateError``). A table with a
codec, blob or UUID column among those written goes through DataJoint's own ``insert``.

Values mean what they mean to DataJoint: ``None`` (and NaN in a numeric column) is the column's
default, NULL for a nullable column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence

import datajoint as dj

from mass_ingest.db import schema

# Rows per statement: a few MB of SQL at most (MySQL's max_allowed_packet is 16-64 MB).
BATCH_ROWS = 2000
_DEFAULT = object()  # a value written as the column's DEFAULT


def table_named(name: str) -> type[dj.Table]:
    """The table class at attribute path ``name`` of :mod:`mass_ingest.db.schema` ('Session.Recording')."""
    found = schema
    for part in name.split("."):
        found = getattr(found, part, None)
        if found is None:
            break
    if not (isinstance(found, type) and issubclass(found, dj.Table)):
        raise ValueError(f"no table '{name}' in mass_ingest.db.schema; name it by its class path, e.g. "
                         "'Session' or 'Session.Recording'")
    return found


def _columns(table: dj.Table, name: str, rows: Sequence[Mapping]) -> list[str]:
    """Every column any row names, in the table's order; an unknown one is refused by name."""
    named: dict[str, None] = {}
    for row in rows:
        named.update(dict.fromkeys(row))
    unknown = [c for c in named if c not in table.heading.names]
    if unknown:
        raise ValueError(f"table {name} has no column(s) {', '.join(unknown)}; its columns are "
                         f"{', '.join(table.heading.names)}")
    return [c for c in table.heading.names if c in named]


def _plain(table: dj.Table, columns: list[str]) -> bool:
    """Whether every column holds a plain value (no codec, blob or UUID encoding needed)."""
    attributes = table.heading.attributes
    return not any(attributes[c].codec or attributes[c].is_blob or attributes[c].uuid for c in columns)


def _converters(table: dj.Table, columns: list[str]):
    """Per column, a function from a Python value to what the driver gets (or :data:`_DEFAULT`)."""
    def plain(value):
        return _DEFAULT if value is None else value

    def as_json(value):
        return _DEFAULT if value is None else json.dumps(value)

    def numeric(value):
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            return _DEFAULT
        # As DataJoint sends numbers: text, which either backend casts to the column's type
        # (a Python bool would not go into a PostgreSQL integer column, nor 1 into a boolean one).
        return str(int(value)) if isinstance(value, bool) else str(value)

    attributes = table.heading.attributes
    return [as_json if attributes[c].json else numeric if attributes[c].numeric else plain for c in columns]


def _write_table(table: dj.Table, name: str, rows: Sequence[Mapping], skip_duplicates: bool) -> None:
    columns = _columns(table, name, rows)
    if not _plain(table, columns):
        table.insert(rows, skip_duplicates=skip_duplicates)
        return
    adapter = table.connection.adapter
    converters = _converters(table, columns)
    head = f"INSERT INTO {table.full_table_name} ({', '.join(adapter.quote_identifier(c) for c in columns)}) VALUES "
    tail = adapter.skip_duplicates_clause(table.full_table_name, table.primary_key) if skip_duplicates else ""
    for start in range(0, len(rows), BATCH_ROWS):
        groups, args = [], []
        for row in rows[start:start + BATCH_ROWS]:
            marks = []
            for column, convert in zip(columns, converters):
                value = convert(row.get(column))
                if value is _DEFAULT:
                    marks.append("DEFAULT")
                else:
                    marks.append("%s")
                    args.append(value)
            groups.append(f"({', '.join(marks)})")
        table.connection.query(head + ", ".join(groups) + tail, args=args)


def write_rows(rows: Mapping[str, Sequence[Mapping]], *, skip_duplicates: Collection[str] = ()) -> dict[str, int]:
    """Insert each table's rows, tables in the mapping's order (parents first); return rows per table.

    Args:
        rows: table name (:func:`table_named`) -> row dicts (column -> value). Rows of one table may
            leave out optional columns; JSON columns take lists or dicts.
        skip_duplicates: tables whose rows may exist already (kept as they are, as
            ``insert(skip_duplicates=True)``), e.g. ``{"Project"}``.

    Runs inside the caller's transaction when there is one; empty tables are skipped.
    """
    schema.activate()
    written = {}
    for name, table_rows in rows.items():
        if table_rows:
            _write_table(table_named(name)(), name, table_rows, name in skip_duplicates)
        written[name] = len(table_rows)
    return written
