"""Bulk writes: the rows of one insert chunk, table by table, in a few statements; and bulk reads of plain rows.

DataJoint's ``insert`` turns every value of every row into a placeholder through the table's
heading (codecs, UUIDs, JSON), about 10 us a value: at 100,000 sessions that alone was most of
insertion's time. The tables this tool writes hold plain values, so :func:`write_rows` checks
the column names once per table and per-row only serialises JSON. On PostgreSQL a table's rows
go as one ``COPY ... FROM STDIN`` per set of columns left to their default, on DataJoint's own
connection inside its transaction (the server parses COPY's text at a fraction of the cost of
a multi-row INSERT); MySQL/MariaDB, and rows written with ``skip_duplicates``, get one
``INSERT ... VALUES (...), (...)`` per batch of rows. Errors are DataJoint's either way: a
duplicate key is ``DuplicateError``. A table with a codec, blob or UUID column among those
written goes through DataJoint's own ``insert``.

Values mean what they mean to DataJoint: ``None`` (and NaN in a column DataJoint calls numeric)
is the column's default, NULL for a nullable column.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

import datajoint as dj

from mass_ingest.db import schema
from mass_ingest.db.limits import as_columns

# Rows per statement: a few MB of SQL at most (MySQL's max_allowed_packet is 16-64 MB).
BATCH_ROWS = 2000


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
    named = set().union(*rows)  # the keys of every row, in C
    if not named <= set(table.heading.names):
        ordered = dict.fromkeys(c for row in rows for c in row)  # named in the rows' order
        unknown = [c for c in ordered if c not in table.heading.names]
        raise ValueError(f"table {name} has no column(s) {', '.join(unknown)}; its columns are "
                         f"{', '.join(table.heading.names)}")
    return [c for c in table.heading.names if c in named]


def _plain(table: dj.Table, columns: list[str]) -> bool:
    """Whether every column holds a plain value (no codec, blob or UUID encoding needed)."""
    attributes = table.heading.attributes
    return not any(attributes[c].codec or attributes[c].is_blob or attributes[c].uuid for c in columns)


def _as_json(value):
    return None if value is None else json.dumps(value)


def _as_number(value):
    """As DataJoint sends numbers: NaN and '' are missing; a bool as 1/0 text, which either backend casts to
    the column's type (a Python bool would not go into a PostgreSQL integer column)."""
    if value is None or value == "" or (type(value) is float and math.isnan(value)):
        return None
    return str(int(value)) if type(value) is bool else value


def _write_table(table: dj.Table, name: str, rows: Sequence[Mapping], skip_duplicates: bool) -> None:
    columns = _columns(table, name, rows)
    if not _plain(table, columns):
        table.insert(rows, skip_duplicates=skip_duplicates)
        return
    attributes = table.heading.attributes
    convert = [(i, _as_json if attributes[c].json else _as_number) for i, c in enumerate(columns)
               if attributes[c].json or attributes[c].numeric]
    # Where a missing value is not simply NULL (a NOT NULL column with a default, e.g. arena=''),
    # the row says DEFAULT, as DataJoint's insert does; elsewhere None goes as NULL.
    by_default = [i for i, c in enumerate(columns)
                  if not (attributes[c].nullable and str(attributes[c].default).lower() in ("none", "null"))]
    # Column by column: a column's values are mostly of one type, converted and written with one call each.
    by_column = as_columns(rows, columns)
    for i, f in convert:
        by_column[i] = list(map(f, by_column[i]))
    if table.connection.adapter.backend == "postgresql" and not skip_duplicates:
        try:
            text = _copy_groups(by_column, by_default)
            if any(len(m) == len(columns) for m in text):
                raise _NotForCopy("a row of defaults only")  # COPY names at least one column
        except _NotForCopy:
            pass  # a value whose text PostgreSQL might read otherwise than psycopg2 sends it: INSERT it
        else:
            for missing, lines in text.items():
                _copy(table, [c for i, c in enumerate(columns) if i not in missing], lines)
            return
    _insert(table, columns, list(zip(*by_column)), by_default, skip_duplicates)


def _insert(table: dj.Table, columns: list[str], values: list[Sequence], by_default: list[int],
            skip_duplicates: bool) -> None:
    adapter = table.connection.adapter
    every = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO {table.full_table_name} ({', '.join(adapter.quote_identifier(c) for c in columns)}) VALUES "
    tail = adapter.skip_duplicates_clause(table.full_table_name, table.primary_key) if skip_duplicates else ""
    for start in range(0, len(values), BATCH_ROWS):
        groups, args = [], []
        for row_values in values[start:start + BATCH_ROWS]:
            missing = [i for i in by_default if row_values[i] is None]
            if not missing:
                groups.append(every)
                args.extend(row_values)
                continue
            groups.append("(" + ", ".join("DEFAULT" if i in missing else "%s" for i in range(len(columns))) + ")")
            args.extend(v for i, v in enumerate(row_values) if i not in missing)
        table.connection.query(head + ", ".join(groups) + tail, args=args)


class _NotForCopy(Exception):
    """A value :func:`_copy_text` does not write (the table goes through INSERT instead)."""


# COPY's text format: a backslash escapes, a tab ends the field, a newline the row.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _copy_text(value) -> str:
    """``value`` as a field of COPY's text format, read by PostgreSQL as psycopg2 would have sent it."""
    kind = type(value)
    if kind is str:
        return value.translate(_ESCAPES)
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if kind is float:
        text = repr(value)
        return _FLOATS.get(text, text)
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime.datetime and value.tzinfo is None or kind is datetime.date:
        return value.isoformat()
    if kind is decimal.Decimal:
        return str(value)
    # An aware datetime psycopg2 sends as timestamptz (converted to the session's zone), a list as an ARRAY,
    # numpy scalars through DataJoint's adapters: not rewritten here.
    raise _NotForCopy(kind.__name__)


_SPECIAL = ("\\", "\t", "\n", "\r")  # what _ESCAPES rewrites


def _copy_column(values: list) -> list[str]:
    """:func:`_copy_text` of each of ``values`` (one column): one call for a column of text, integers,
    naive datetimes or finite floats, with or without NULLs; value by value otherwise."""
    kinds = set(map(type, values))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    if len(kinds) != 1:
        return [_copy_text(v) for v in values]
    kind = kinds.pop()
    present = [v for v in values if v is not None] if nulls else values
    if kind is str:
        joined = "".join(present)
        text = ([v.translate(_ESCAPES) for v in present] if any(c in joined for c in _SPECIAL)
                else present)
    elif kind is int:
        text = list(map(str, present))
    elif kind is float:
        text = list(map(repr, present))
        if "n" in "".join(text):  # nan, inf, -inf: as PostgreSQL spells them
            text = [_FLOATS.get(t, t) for t in text]
    elif kind is datetime.datetime and all(v.tzinfo is None for v in present) or kind is datetime.date:
        text = [v.isoformat() for v in present]
    else:
        return [_copy_text(v) for v in values]
    if not nulls:
        return text
    found = iter(text)
    return ["\\N" if v is None else next(found) for v in values]


def _copy_groups(by_column: list[list], by_default: list[int]) -> dict[tuple[int, ...], list[str]]:
    """COPY's lines of the rows (given as columns), grouped by the columns they leave to their default
    (the indexes of ``by_default`` where the row holds None): one COPY per group names the rest."""
    fields = [_copy_column(values) for values in by_column]
    defaults = [i for i in by_default if None in by_column[i]]  # every value is of a type _copy_column knows
    if not defaults:
        return {(): list(map("\t".join, zip(*fields)))}
    text: dict[tuple[int, ...], list[str]] = {}
    for r, row_fields in enumerate(zip(*fields)):
        missing = tuple(i for i in defaults if by_column[i][r] is None)
        text.setdefault(missing, []).append(
            "\t".join(f for i, f in enumerate(row_fields) if i not in missing) if missing else "\t".join(row_fields))
    return text


def _copy(table: dj.Table, columns: list[str], lines: list[str]) -> None:
    """``lines`` into ``table`` by one ``COPY ... FROM STDIN`` on DataJoint's own psycopg2 connection, so
    inside the transaction DataJoint opened (it runs in autocommit and says BEGIN itself), its errors
    translated as DataJoint's (a duplicate key is ``DuplicateError``)."""
    connection = table.connection
    quote = connection.adapter.quote_identifier
    sql = f"COPY {table.full_table_name} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    try:
        with connection._conn.cursor() as cursor:  # DataJoint exposes no COPY; its psycopg2 connection does
            cursor.copy_expert(sql, io.StringIO("\n".join(lines) + "\n"))
    except Exception as exc:
        translated = connection.adapter.translate_error(exc, sql)
        if translated is exc:  # not one DataJoint names (a CHECK constraint): as psycopg2 raised it
            raise
        raise translated from exc


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


def matching(name: str, on: Sequence[str], keys: Iterable[Sequence], fetch: Sequence[str] | None = None
             ) -> list[tuple]:
    """The ``fetch`` columns (default ``on``) of the rows of table ``name`` whose ``on`` columns equal one of
    ``keys`` (tuples in ``on``'s order): an existence check of a whole chunk as one join per batch of keys.

    DataJoint restricts by a list of dicts with one OR term per key, which the database plans key by
    key. Here PostgreSQL joins the table with a ``VALUES`` list of the keys, MySQL/MariaDB looks the
    row constructors up in the primary key (``(a, b) IN ((..), ..)``).
    """
    schema.activate()
    table = table_named(name)()
    adapter = table.connection.adapter
    fetch = list(fetch or on)
    for column in (*on, *fetch):
        if column not in table.heading.names:
            raise ValueError(f"table {name} has no column {column}")
    keys = [tuple(k) for k in keys]
    quoted = {c: adapter.quote_identifier(c) for c in (*on, *fetch)}
    found: list[tuple] = []
    for start in range(0, len(keys), BATCH_ROWS):
        batch = keys[start:start + BATCH_ROWS]
        marks = ", ".join(["(" + ", ".join(["%s"] * len(on)) + ")"] * len(batch))
        args = [v for key in batch for v in key]
        if adapter.backend == "mysql":
            sql = (f"SELECT {', '.join(quoted[c] for c in fetch)} FROM {table.full_table_name} "
                   f"WHERE ({', '.join(quoted[c] for c in on)}) IN ({marks})")
        else:
            key_alias = adapter.quote_identifier("_keys")
            sql = (f"SELECT {', '.join('t.' + quoted[c] for c in fetch)} FROM {table.full_table_name} AS t "
                   f"JOIN (VALUES {marks}) AS {key_alias}({', '.join(quoted[c] for c in on)}) ON "
                   + " AND ".join(f"t.{quoted[c]} = {key_alias}.{quoted[c]}" for c in on))
        found.extend(tuple(row) for row in table.connection.query(sql, args=args).fetchall())
    return found


def plain_rows(query: dj.expression.QueryExpression, order_by: str | list[str] = "KEY") -> Iterator[dict]:
    """``query``'s rows as dicts of the values the driver gives, in ``order_by`` order.

    Only for plain columns (text, numbers, times; a MySQL boolean is 0 or 1), which DataJoint's decoding
    leaves as they are. ``to_dicts`` looks every attribute of every row up in the heading: most of the
    follow-up stage's time at 600,000 items, and of reading the probes once per insert chunk.
    """
    query = query & dj.Top(None, order_by)
    names = query.heading.names
    for row in query.cursor():
        yield dict(zip(names, row))
