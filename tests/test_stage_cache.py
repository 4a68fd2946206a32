"""Stage frames on disk: written whole under their real name, even by two writers at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from mass_ingest.stage_cache import StageFrame


def test_two_writers_of_one_stage_each_rename_their_own_complete_file():
    # Two runs of one ingest (two processes, or two threads) may save the same stage at once;
    # a shared temporary name let one writer rename the other's file and then fail on its own.
    frame = pl.DataFrame({"candidate_id": [f"{i:016x}" for i in range(2000)]})

    def save_many(_: int) -> list[int]:
        return [StageFrame.save(frame, stage="discover", ingest_id="two-writers", part="N-0").rows
                for _ in range(40)]

    with ThreadPoolExecutor(2) as pool:
        saved = [rows for result in pool.map(save_many, range(2)) for rows in result]
    assert saved == [2000] * 80
    stage = StageFrame.save(frame, stage="discover", ingest_id="two-writers", part="N-0")
    assert stage.load().equals(frame)
    assert [p.name for p in Path(stage.path).parent.iterdir()] == ["discover-N-0.parquet"]


def test_a_stage_reads_only_the_columns_and_rows_it_asks_for():
    # The re-check reads four columns of the approved candidates, not their probes and findings.
    frame = pl.DataFrame({"candidate_id": [f"{i:016x}" for i in range(5000)], "share": ["N"] * 5000,
                          "probes": [[i, i + 1] for i in range(5000)]})
    stage = StageFrame.save(frame, stage="approved", ingest_id="some-columns")
    assert stage.load(columns=["share", "candidate_id"]).equals(frame.select("share", "candidate_id"))
    assert stage.load(2500, 100, columns=["candidate_id"]).equals(frame.select("candidate_id").slice(2500, 100))
    assert stage.load(2500, 100).equals(frame.slice(2500, 100))
