"""The schema's limits, checked on rows before they are written.

A value the database would refuse (a 200-character subject in a ``varchar(64)``, a NULL in a
NOT NULL column, a number out of an integer's range, NaN, a NUL character) fails the whole
transaction it is in. Checking every row against the table's heading first lets insertion leave
out exactly the session that holds it, with a reason naming the value and the limit, and put
the rest in. The check is a function of the rows (table name -> rows) and the tables' headings
only, so it covers any table and any way of writing the rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter

_CHAR = re.compile(r"^(?:var)?char(?:acter)?(?: varying)?\((\d+)\)", re.IGNORECASE)
_INT_BITS = {"int8": 8, "tinyint": 8, "int16": 16, "smallint": 16, "int32": 32, "int": 32, "integer": 32,
             "mediumint": 24, "int64": 64, "bigint": 64}
_SHOWN = 60  # characters of a long value shown in a reason


@dataclass(frozen=True)
class Limit:
    """What one column accepts."""

    name: str
    type: str
    nullable: bool
    has_default: bool
    max_chars: int | None = None
    int_range: tuple[int, int] | None = None
    is_float: bool = False
    is_datetime: bool = False


def _limit(attr) -> Limit:
    original = (attr.original_type or "").lower()
    sql = (attr.type or "").lower()
    unsigned = "unsigned" in sql or original.startswith("uint")
    int_range = None
    for text in (original, sql.split()[0] if sql else ""):
        base = text.removeprefix("u") if text.startswith("uint") else text
        base = base.split("(")[0]
        if base in _INT_BITS:
            bits = _INT_BITS[base]
            int_range = (0, 2 ** bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            break
    chars = _CHAR.match(original) or _CHAR.match(sql)
    return Limit(
        name=attr.name, type=attr.original_type or attr.type, nullable=bool(attr.nullable),
        has_default=attr.default is not None and str(attr.default).lower() != "null",
        max_chars=int(chars.group(1)) if chars else None, int_range=int_range,
        is_float=any(t in (original + " " + sql) for t in ("float", "double", "real", "decimal", "numeric")),
        is_datetime=any(t in (original + " " + sql) for t in ("datetime", "timestamp", "date")))


@lru_cache(maxsize=None)
def _limits_of(table_class, full_name: str) -> dict[str, Limit]:
    # Keyed by the table's full name too: tests re-activate schemas under other prefixes.
    return {name: _limit(attr) for name, attr in table_class.heading.attributes.items()}


def limits(table) -> dict[str, Limit]:
    """Column name -> :class:`Limit` of a DataJoint table (read once per table from its heading)."""
    return _limits_of(table if isinstance(table, type) else type(table), table.full_table_name)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(str(value))} characters)"


def problem(limit: Limit, value: object) -> str | None:
    """Why ``value`` breaks ``limit`` (what was found and the limit), or None when the column takes it."""
    if value is None:
        if limit.nullable or limit.has_default:
            return None
        return f"{limit.name} is empty (NULL), but {limit.type} requires a value"
    if isinstance(value, str):
        if limit.max_chars is not None and len(value) > limit.max_chars:
            return f"{limit.name} {_shown(value)} has {len(value)} characters; {limit.type} holds at most " \
                   f"{limit.max_chars}"
        if "\x00" in value:
            return f"{limit.name} {_shown(value)} contains a NUL character, which the database cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{limit.name} {_shown(value)} is not valid UTF-8"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and limit.int_range is not None:
        low, high = limit.int_range
        if not low <= value <= high:
            return f"{limit.name} {value} is outside {limit.type}'s range {low}..{high}"
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{limit.name} is {value}, not a finite number; {limit.type} on MySQL refuses it"
        if limit.int_range is not None and not (limit.int_range[0] <= value <= limit.int_range[1]):
            return f"{limit.name} {value} is outside {limit.type}'s range {limit.int_range[0]}..{limit.int_range[1]}"
        return None
    if isinstance(value, (datetime, date)) and limit.is_datetime and value.year < 1000:
        return f"{limit.name} {value.isoformat()} is before year 1000, which {limit.type} on MySQL refuses"
    return None


_MISSING = object()  # a column a row leaves out
_NEVER = {bool, list, dict, tuple}  # types problem() passes whatever the column


def _column_may_break(limit: Limit, values: list, required: bool) -> bool:
    """Whether any of a column's ``values`` might break ``limit``: False only when none can, decided over
    the whole column at once (lengths, one join, one UTF-8 encode, min/max); a type it does not know, or a
    missing value, says True."""
    kinds = set(map(type, values))
    if type(None) in kinds:
        if not (limit.nullable or limit.has_default):
            return True
        values = [v for v in values if v is not None]
        kinds.discard(type(None))
    if object in kinds:  # a row without the column (_MISSING)
        if required:
            return True
        values = [v for v in values if v is not _MISSING]
        kinds.discard(object)
    for kind in kinds - _NEVER:
        of_kind = [v for v in values if type(v) is kind] if len(kinds) > 1 else values
        if kind is str:
            if limit.max_chars is not None and max(map(len, of_kind)) > limit.max_chars:
                return True
            joined = "".join(of_kind)
            if "\x00" in joined:
                return True
            try:
                joined.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif kind is int or kind is float:
            if kind is float and not all(map(math.isfinite, of_kind)):
                return True
            if limit.int_range is not None and not (limit.int_range[0] <= min(of_kind)
                                                    and max(of_kind) <= limit.int_range[1]):
                return True
        elif kind is datetime or kind is date:
            if limit.is_datetime and min(v.year for v in of_kind) < 1000:
                return True
        else:
            return True
    return False


def as_columns(rows: Sequence[Mapping], names: Sequence[str], missing: object = None) -> list[Sequence]:
    """The values of each of ``names`` over ``rows``, ``missing`` where a row leaves one out: one pass in C
    over the rows when every row has every name (a dict lookup per value in Python otherwise)."""
    if not rows or not names:
        return [[] for _ in names]
    try:
        if len(names) == 1:
            return [list(map(itemgetter(names[0]), rows))]
        return list(zip(*map(itemgetter(*names), rows)))
    except KeyError:
        return [[row.get(name, missing) for row in rows] for name in names]


def _suspects(rows: list[dict], columns: dict[str, Limit], required: set[str]) -> list[int]:
    """The indexes of the rows that may hold a value breaking a limit: those of every column whose values
    together might (:func:`_column_may_break`), checked value by value only there."""
    named = set().union(*rows)
    names = [name for name in columns if name in named or name in required]  # a column no row has is not checked
    suspects: set[int] = set()
    for name, values in zip(names, as_columns(rows, names, _MISSING)):
        limit = columns[name]
        if not _column_may_break(limit, values, name in required):
            continue
        suspects.update(i for i, v in enumerate(values)
                        if (v is _MISSING and name in required) or (v is not _MISSING and problem(limit, v)))
    return sorted(suspects)


def violations(rows: Mapping[str, list[dict]], table_for: Callable[[str], object],
               owner: Callable[[dict], object], *, column_wise: bool = True) -> dict[object, list[str]]:
    """Every value of ``rows`` (table name -> rows) that its table would refuse, grouped by owner.

    ``table_for`` gives the DataJoint table of a name; ``owner`` the key a row belongs to (for the
    pipeline, its session: (subject, session_start)). Each reason reads 'Table: column value ...; limit'.
    Each column is first checked as a whole and only a column that may hold a bad value is checked
    value by value (``column_wise=False``: every value, the same result more slowly).
    """
    found: dict[object, list[str]] = {}
    for name, table_rows in rows.items():
        if not table_rows:
            continue
        columns = limits(table_for(name))
        required = [c for c in columns.values() if not c.nullable and not c.has_default]
        suspects = (_suspects(table_rows, columns, {c.name for c in required}) if column_wise
                    else range(len(table_rows)))
        for i in suspects:
            row = table_rows[i]
            reasons = [f"{name}: {why}" for column, value in row.items()
                       if column in columns and (why := problem(columns[column], value))]
            reasons += [f"{name}: {c.name} is missing, but {c.type} requires a value"
                        for c in required if c.name not in row]
            if reasons:
                found.setdefault(owner(row), []).extend(reasons)
    return found
