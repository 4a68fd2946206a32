"""The bulk writer on the real database: on PostgreSQL rows go by ``COPY ... FROM STDIN``, and what is stored
is what the rows say, exactly as a multi-row INSERT (MySQL/MariaDB) stores it.

Odd text (tabs, newlines, backslashes, ``\\N`` spelled out, unicode, empty strings) must come back as it went
in; None must be NULL in a nullable column and the column's default where it has one; a duplicate key must
be DataJoint's ``DuplicateError``; rows written inside a transaction that rolls back must be gone.
"""

from __future__ import annotations

import math
from datetime import datetime

import datajoint as dj
import pytest

from mass_ingest.db import bulk, schema
from mass_ingest.db.bulk import write_rows

pytestmark = [pytest.mark.backends, pytest.mark.usefixtures("clean_database")]

RUN = "00000000-0000-4000-8000-0000000000c1"
T1 = datetime(2024, 3, 5, 10, 30, 58)
ODD = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "\\.", "ünïcødé ✓ 猫", "", " ",
       "quote ' and \" both", "ends with backslash\\", "\\t literally"]


@pytest.fixture
def copies(monkeypatch) -> list[str]:
    """The tables written by COPY in this test (none on MySQL/MariaDB)."""
    seen: list[str] = []
    inner = bulk._copy

    def spy(table, columns, lines):
        seen.append(table.full_table_name)
        return inner(table, columns, lines)

    monkeypatch.setattr(bulk, "_copy", spy)
    return seen


@pytest.fixture
def session():
    schema.Subject.insert1({"subject": "s1"})
    schema.IngestRun.insert1({"ingest_id": RUN, "profile_name": "bulk", "profile_hash": "0" * 16,
                              "status": "completed", "started_at": T1})
    key = {"subject": "s1", "session_start": T1}
    write_rows({"Session": [{**key, "timezone": "Europe/Oslo", "modality": "ephys", "ingest_id": RUN}]})
    return key


def _sorted(table, order_by: str) -> list[dict]:
    return table.to_dicts(order_by=order_by)


def _nulls(table, column: str, name: str = "recording") -> list:
    """The ``name`` of the rows where ``column`` IS NULL in the database (DataJoint fetches a NULL float as NaN)."""
    quote = table.connection.adapter.quote_identifier
    return [r[0] for r in table.connection.query(
        f"SELECT {quote(name)} FROM {table.full_table_name} WHERE {quote(column)} IS NULL ORDER BY 1").fetchall()]


def test_odd_text_none_defaults_json_bools_and_nan_are_stored_as_the_rows_say(session, copies) -> None:
    recordings = [{**session, "recording": f"r{i:02d}", "meta_file": text, "serial": text or None,
                   "n_saved_chans": i, "sample_rate": 30000.5 + i, "file_size_bytes": 2 ** 40 + i,
                   "file_time_secs": float("nan") if i % 3 == 0 else 0.1 * i,
                   "file_create_time": None if i % 2 else datetime(2024, 1, 2, 3, 4, 5, 678900)}
                  for i, text in enumerate(ODD)]
    systems = [{**session, "system": "video", "recording": f"v{i:02d}", "folder": text,
                "files": [text, {"k\t": text}], "n_files": True if i == 1 else i,
                "details": None if i % 2 else {"text": text, "n": i, "x": 1.5}, "ingest_id": RUN}
               for i, text in enumerate(ODD)]
    tasks = [{**session, "task_order": 1, "task": "a\tb", "start_s": 0, "stop_s": None, "confirmed": True,
              "ingest_id": RUN},  # task_type and arena left out: their default ''
             {**session, "task_order": 2, "task": "c", "task_type": None, "start_s": 1.25, "stop_s": 2.5,
              "arena": "box\n1", "confirmed": False, "ingest_id": RUN}]  # None in task_type: its default
    write_rows({"Session.Recording": recordings, "Session.SystemRecording": systems, "Session.Task": tasks})

    on_postgresql = schema.Session.connection.adapter.backend == "postgresql"
    stored = _sorted(schema.Session.Recording, "recording")
    assert [r["meta_file"] for r in stored] == ODD
    assert [r["serial"] for r in stored] == [t or None for t in ODD]  # '' went as None: NULL, not ''
    assert [r["n_saved_chans"] for r in stored] == list(range(len(ODD)))
    assert [r["file_size_bytes"] for r in stored] == [2 ** 40 + i for i in range(len(ODD))]
    assert [r["sample_rate"] for r in stored] == [30000.5 + i for i in range(len(ODD))]
    # NaN reads back as NaN (NULL on MySQL, where DataJoint calls a double numeric; NaN on PostgreSQL, where
    # 'double precision' is not numeric to it, as INSERT stored it too).
    assert [None if r["file_time_secs"] is None or math.isnan(r["file_time_secs"]) else r["file_time_secs"]
            for r in stored] == [
        None if i % 3 == 0 else 0.1 * i for i in range(len(ODD))]
    assert _nulls(schema.Session.Recording, "file_create_time") == [f"r{i:02d}" for i in range(1, len(ODD), 2)]
    fraction = 678900 if on_postgresql else 0  # MySQL's datetime holds whole seconds
    assert [r["file_create_time"] for r in stored] == [
        None if i % 2 else datetime(2024, 1, 2, 3, 4, 5, fraction) for i in range(len(ODD))]
    stored = _sorted(schema.Session.SystemRecording, "recording")
    assert [r["folder"] for r in stored] == ODD
    assert [r["files"] for r in stored] == [[t, {"k\t": t}] for t in ODD]
    assert [r["n_files"] for r in stored] == [1 if i == 1 else i for i in range(len(ODD))]
    assert [r["details"] for r in stored] == [None if i % 2 else {"text": t, "n": i, "x": 1.5}
                                              for i, t in enumerate(ODD)]
    stored = _sorted(schema.Session.Task, "task_order")
    assert [(r["task"], r["task_type"], r["arena"], r["start_s"], bool(r["confirmed"])) for r in stored] == [
        ("a\tb", "", "", 0.0, True), ("c", "", "box\n1", 1.25, False)]
    assert _nulls(schema.Session.Task, "stop_s", "task_order") == [1] and stored[1]["stop_s"] == 2.5
    assert len(copies) == (4 if on_postgresql else 0)  # Recording, SystemRecording, Task twice (one per set of defaults)


def test_a_duplicate_key_is_datajoints_duplicate_error_and_a_rolled_back_copy_leaves_nothing(session, copies
                                                                                            ) -> None:
    row = {**session, "recording": "probe_1", "meta_file": "probe_1/x.ap.meta"}
    connection = schema.Session.connection
    with pytest.raises(dj.errors.DuplicateError):
        with connection.transaction:
            write_rows({"Session.Recording": [row, {**row, "recording": "probe_2"}]})
            write_rows({"Session.Recording": [{**row, "meta_file": "again"}]})
    assert len(schema.Session.Recording()) == 0  # the first write was inside the transaction that rolled back
    with pytest.raises(dj.errors.IntegrityError):  # a part of a session that is not there
        write_rows({"Session.Recording": [{**row, "subject": "nobody"}]})
    assert len(schema.Session.Recording()) == 0
    assert len(copies) == (3 if connection.adapter.backend == "postgresql" else 0)


def test_a_value_copy_does_not_write_goes_through_insert(session, copies) -> None:
    class Text(str):  # not a plain str: psycopg2/pymysql adapt it, COPY's writer leaves it to them
        pass

    write_rows({"Session.InferredStart": [{**session, "inferred_from": Text("a\tfile")}]})
    assert [r["inferred_from"] for r in schema.Session.InferredStart.to_dicts()] == ["a\tfile"]
    assert not [t for t in copies if "inferred" in t]
