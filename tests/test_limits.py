"""The schema-limit check column by column finds exactly what the check of every value finds.

``limits.violations`` first checks each column as a whole (lengths, one join, one UTF-8 encode, min/max) and
looks value by value only in a column that may hold a bad value; ``column_wise=False`` checks every value.
Both must give the same reasons, grouped by the same owners in the same order, on rows holding every kind
of bad value and on clean rows. The limits are read from the real tables' headings (the embedded database).
"""

from __future__ import annotations

import random
from datetime import date, datetime

import numpy as np
import pytest

from mass_ingest.db import limits
from mass_ingest.db.insertion import table_for

pytestmark = [pytest.mark.backends, pytest.mark.usefixtures("clean_database")]

T = datetime(2024, 3, 5, 10, 30, 58)


def recording(i: int, **values: object) -> dict:
    row = {"subject": f"s{i % 7}", "session_start": T.replace(day=1 + i % 28), "recording": f"probe_{i}",
           "meta_file": f"probe_{i}/npx.imec.ap.meta", "serial": "18408403232", "probe_type": None,
           "part_number": "NP1010", "n_saved_chans": 385, "sample_rate": 30000.0, "file_size_bytes": 2 ** 40,
           "file_time_secs": 3600.5, "file_create_time": datetime(2024, 3, 5, 10, 0)}
    return {**row, **values}


def task(i: int, **values: object) -> dict:
    row = {"subject": f"s{i % 7}", "session_start": T.replace(day=1 + i % 28), "task_order": i, "task": "sleep",
           "start_s": 1.5 * i, "stop_s": None, "confirmed": bool(i % 2), "ingest_id": "run-1"}
    return {**row, **values}


# One bad value per row, of every kind the check knows, and rows that are fine however odd.
BAD_RECORDINGS = [
    {"recording": "p" * 256},                       # longer than varchar(255)
    {"serial": "1" * 33},                           # longer than varchar(32)
    {"serial": "184\x0008403232"},                  # NUL
    {"part_number": "NP\ud8001010"},                # a lone surrogate: not UTF-8
    {"meta_file": None},                            # NULL where required
    {"n_saved_chans": 2 ** 31},                     # above int32
    {"n_saved_chans": -(2 ** 31) - 1},              # below int32
    {"n_saved_chans": 1e12},                        # a float out of int32's range
    {"file_size_bytes": 2 ** 63},                   # above int64
    {"sample_rate": float("nan")},
    {"sample_rate": float("inf")},
    {"file_time_secs": float("-inf")},
    {"file_create_time": datetime(999, 12, 31)},    # before year 1000
    {"file_create_time": date(5, 1, 1)},
    {"session_start": datetime(1, 1, 1)},
    {"recording": "q" * 300, "serial": "\x00", "sample_rate": float("nan")},  # several in one row
]
FINE_RECORDINGS = [
    {"recording": "p" * 255, "serial": "1" * 32},   # at the limits
    {"n_saved_chans": 2 ** 31 - 1, "file_size_bytes": -(2 ** 63)},
    {"n_saved_chans": True},                        # a bool passes
    {"serial": None, "sample_rate": None, "file_create_time": None},  # NULL where nullable
    {"meta_file": "ünïcødé ✓ 猫\t\n\\"},
    {"file_create_time": date(1000, 1, 1), "sample_rate": 1e308},
    {"n_saved_chans": 12.0},
    # A type the column-wise check does not know sends the column value by value; problem() passes numpy's.
    {"n_saved_chans": np.int64(2 ** 40)},
]


def both(rows: dict[str, list[dict]]) -> dict:
    def owner(row):
        return (row.get("subject"), row.get("session_start"))

    fast = limits.violations(rows, table_for, owner)
    slow = limits.violations(rows, table_for, owner, column_wise=False)
    assert list(fast.items()) == list(slow.items())  # same owners in the same order, same reasons in order
    return fast


def test_every_kind_of_bad_value_is_found_as_the_value_by_value_check_finds_it() -> None:
    rows = [recording(i, **values) for i, values in enumerate(BAD_RECORDINGS + FINE_RECORDINGS)]
    random.Random(1).shuffle(rows)
    tasks = [task(1, task_type=None), task(2, start_s=None), task(3, task="t" * 129),
             {k: v for k, v in task(4).items() if k != "start_s"},  # a required column left out
             {k: v for k, v in task(5).items() if k != "stop_s"}, task(6, arena="box")]
    found = both({"Recording": rows, "Task": tasks, "Membership": []})
    reasons = [r for rs in found.values() for r in rs]
    # Each bad value gives a reason (the row with three gives three; the bad session_start counts once).
    assert len(reasons) == len(BAD_RECORDINGS) + 2 + 3
    for says in ("has 256 characters", "NUL character", "not valid UTF-8", "meta_file is empty (NULL)",
                 "outside int32's range", "outside int64's range", "is nan", "is inf", "is -inf",
                 "before year 1000", "Task: start_s is empty (NULL)",
                 "Task: start_s is missing", "Task: task 'tttt"):
        assert any(says in r for r in reasons), says


@pytest.mark.parametrize("size", [1, 2000])
def test_clean_rows_give_nothing_either_way(size: int) -> None:
    rows = [recording(i, **FINE_RECORDINGS[i % len(FINE_RECORDINGS)]) for i in range(size)]
    assert both({"Recording": rows, "Task": [task(i) for i in range(size)]}) == {}
    # ... and column-wise, no row was looked at value by value (but for numpy's int in one row of 2000).
    columns = limits.limits(table_for("Recording"))
    required = {c.name for c in columns.values() if not c.nullable and not c.has_default}
    assert limits._suspects(rows[:7], columns, required) == []


def test_one_bad_value_among_many_clean_rows_names_only_its_owner() -> None:
    rows = [recording(i) for i in range(2000)]
    rows[1234] = recording(1234, serial="x" * 40)
    found = both({"Recording": rows})
    assert list(found) == [("s2", T.replace(day=1 + 1234 % 28))]
    assert found[("s2", T.replace(day=1 + 1234 % 28))] == [
        "Recording: serial 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' has 40 characters; varchar(32) holds at most 32"]
