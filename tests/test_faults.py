"""Clean faults (issue 13, item 7): after a lost database or on a full disk, the error says what happened,
where, and what to do; and the next unit of work is not refused with a riddle.
"""

from __future__ import annotations

import os
from pathlib import Path

import datajoint as dj
import polars as pl
import pytest

from mass_ingest.db import connection, schema
from mass_ingest.errors import StorageError
from mass_ingest.stage_cache import StageFrame


@pytest.mark.usefixtures("clean_database")
def test_a_transaction_cut_by_a_database_restart_does_not_make_the_next_one_nested() -> None:
    home = Path(os.environ["MASS_INGEST_HOME"])
    schema.activate()
    conn = dj.conn()
    conn.start_transaction()
    connection.stop_embedded_server(home / "pgdata")  # the server dies under the open transaction
    with pytest.raises(Exception):
        conn.cancel_transaction()  # the rollback fails on the dead connection: the flag stays set
    assert conn._in_transaction
    schema.activate()  # the next unit of work: reconnects (starting the server again)
    with conn.transaction:  # was "Nested connections are not supported"
        schema.Subject.insert1({"subject": "after-restart"})
    assert len(schema.Subject & {"subject": "after-restart"}) == 1


def test_a_full_disk_names_the_file_the_stage_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_INGEST_HOME", str(tmp_path / "home"))

    def write_to_a_full_disk(self, path, *args, **kwargs):  # /dev/full: every write fails with ENOSPC
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 4096)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", write_to_a_full_disk)
    with pytest.raises(StorageError) as raised:
        StageFrame.save(pl.DataFrame({"a": [1]}), stage="discover", ingest_id="ing-1", part="N-0")
    message = str(raised.value)
    target = tmp_path / "home" / "runs" / "ing-1" / "discover-N-0.parquet"
    assert message.startswith(f"no space left on the device holding {target} (MASS_INGEST_HOME is "
                              f"{tmp_path / 'home'}) while saving the discover stage of ingest ing-1; free space")
    assert "run the same profile again" in message
    assert list(target.parent.iterdir()) == []  # no half-written temporary file left behind
