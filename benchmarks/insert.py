#!/usr/bin/env python
"""Insertion speed: 10,000 approved sessions with their parts into the embedded database.

What it does:

1. Starts its own embedded PostgreSQL and Prefect (temporary MASS_INGEST_HOME and PREFECT_HOME,
   removed afterwards unless ``--keep``), and generates the approved frame in polars with the
   dedup benchmark's generator: new sessions of about 5,000 subjects, one or two probes each,
   half of them in a project. The subjects and the ingest run are inserted first (not timed).
2. Database only: ``insert_sessions`` on each chunk in turn, no Prefect (best of ``--repeats``;
   the sessions are deleted between repeats).
3. Through Prefect: a flow calling ``insert_chunk_task`` per chunk, as the ingest flow does, on a
   fresh ingest id (no cache hits). The time inside ``insert_sessions`` is summed from within the
   same run, so the rest of the flow's wall time is Prefect's (task runs, their state and result
   records, events).

Both paths go through ``mass_ingest.db.insertion`` (the task: ``tasks.insert``), so whatever parts insertion writes (now: session,
directory, recordings, project membership) are timed with it. It prints sessions/s for both,
the flow's split into Prefect and database time, and how many rows each table got.

Nothing is asserted: timings depend on the machine.

Examples::

    .venv/bin/python benchmarks/insert.py
    .venv/bin/python benchmarks/insert.py --sessions 2000 --chunk-size 100
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import functools
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
_HOME = Path(tempfile.mkdtemp(prefix="mass-ingest-insert-bench-"))
_KEEP = "--keep" in sys.argv
# Removed at exit, after Prefect's own exit handlers (registered later, so run earlier) have stopped its
# temporary server: removing it while the server still wrote its SQLite file failed the run under load.
atexit.register(lambda: _KEEP or shutil.rmtree(_HOME, ignore_errors=True))
# Before Prefect and the tool are imported: everything below goes to the temporary home.
os.environ.update({"MASS_INGEST_HOME": str(_HOME / "home"), "PREFECT_HOME": str(_HOME / "prefect"),
                   "MASS_INGEST_SCHEMA_PREFIX": "insert_bench", "PREFECT_LOGGING_LEVEL": "WARNING",
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
# As the command line allows (mass_ingest/cli/environment.py): on a slow or busy machine the temporary server took
# longer than Prefect's default 20 s to answer, and the benchmark failed before timing anything.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.pop("PREFECT_API_URL", None)  # a temporary local server, started by the first flow
os.environ.pop("MASS_INGEST_DATABASE", None)

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from prefect import flow  # noqa: E402

import mass_ingest.db.insertion as insertion  # noqa: E402
import tasks.insert as insert  # noqa: E402
from benchmarks.dedup import YEARS, _candidates, _sessions  # noqa: E402
from mass_ingest.candidates import candidate_id  # noqa: E402
from mass_ingest.db import connection, schema  # noqa: E402
from mass_ingest.stage_cache import StageFrame  # noqa: E402


def approved_frame(sessions: int, seed: int = 0) -> pl.DataFrame:
    """``sessions`` new sessions as the approval stage leaves them (candidate columns, status approved)."""
    rng = np.random.default_rng(seed)
    starts = rng.permutation(np.unique(rng.integers(0, YEARS * 365 * 86400, size=2 * sessions)))[:sessions]
    base = _sessions(rng, sessions, starts).with_columns(
        pl.format("recordings/{}/{}", "subject", pl.col("session_start").dt.strftime("%Y-%m-%d_%H-%M-%S"))
        .alias("rel_path"), pl.lit(False).alias("late_output"))
    frame = _candidates(base, "N")
    return frame.with_columns(
        # The real id (sha1 of the location): Directory.location_hash holds 16 characters.
        pl.Series("candidate_id", [candidate_id(loc) for loc in frame["location"]]),
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit(["grid-cells"])).otherwise(pl.lit([], pl.List(pl.String)))
        .alias("projects"), pl.lit("approved").alias("status"))


def new_ingest() -> str:
    ingest_id = str(uuid.uuid4())
    schema.IngestRun.insert1({"ingest_id": ingest_id, "profile_name": "insert-bench", "profile_hash": "0" * 16,
                              "status": "approved", "started_at": datetime.now().replace(microsecond=0)})
    return ingest_id


class Timer:
    """Wraps a function as ``mass_ingest.db.insertion`` calls it (or a task's ``fn``) and sums the seconds spent
    in it."""

    def __init__(self, name: str, owner=insertion):
        self.owner, self.name, self.inner, self.seconds = owner, name, getattr(owner, name), 0.0
        functools.update_wrapper(self, self.inner)  # Prefect binds a task's parameters by its signature
        setattr(owner, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


STAGE_SECONDS: list[float] = []  # each flow's body: its task runs, as the ingest flow's insertion stage


@flow(name="insert-benchmark")
def insert_flow(approved: StageFrame, timezone: str, ingest_id: str) -> int:
    started = time.perf_counter()
    inserted = sum(insert.insert_chunk_task(approved, offset, length, timezone, ingest_id).inserted
                   for offset, length in insert.chunk_bounds(approved.rows))
    STAGE_SECONDS.append(time.perf_counter() - started)
    return inserted


def backend_cpu() -> float:
    """CPU seconds of the embedded PostgreSQL backend serving this process's connection (same machine)."""
    pid = schema.Session.connection.query("SELECT pg_backend_pid()").fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row_counts() -> dict[str, int]:
    return {"Session": len(schema.Session()), "Directory": len(schema.Session.Directory()),
            "Recording": len(schema.Session.Recording()), "Membership": len(schema.Session.Membership())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=2000, help="sessions per transaction (MASS_INGEST_CHUNK_SIZE)")
    parser.add_argument("--repeats", type=int, default=2, help="database-only repeats (best is shown)")
    parser.add_argument("--keep", action="store_true", help=f"keep the temporary home ({_HOME})")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the run through Prefect into FILE (pstats) and "
                        "print its 25 costliest functions; the profiler's overhead slows that run")
    args = parser.parse_args()
    os.environ["MASS_INGEST_CHUNK_SIZE"] = str(args.chunk_size)
    try:
        run(args)
    finally:
        connection.stop_embedded()


def run(args: argparse.Namespace) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; home {_HOME}")
    frame = approved_frame(args.sessions)
    schema.activate()
    schema.Subject.insert([{"subject": s, "source": "benchmark"} for s in frame["subject"].unique()])
    bounds = insert.chunk_bounds(frame.height)
    print(f"{frame.height} sessions, {frame['probes'].list.len().sum()} recordings, "
          f"{len(bounds)} chunks of {args.chunk_size}")

    # 2. Database only.
    db_times, cpu = [], []
    for _ in range(args.repeats):
        ingest_id = new_ingest()
        started, client, server = time.perf_counter(), time.process_time(), backend_cpu()
        inserted = sum(insertion.insert_sessions(frame.slice(o, n), timezone="Europe/Oslo", ingest_id=ingest_id)
                       for o, n in bounds)
        db_times.append(time.perf_counter() - started)
        cpu.append((time.process_time() - client, backend_cpu() - server))
        counts = row_counts()
        assert inserted == frame.height, f"inserted {inserted} of {frame.height}"
        (schema.IngestRun & {"ingest_id": ingest_id}).delete()  # cascades to the sessions and their parts
    db = min(db_times)
    print(f"database only: {db:.2f} s, {frame.height / db:,.0f} sessions/s "
          f"(repeats: {', '.join(f'{t:.2f}' for t in db_times)} s); rows {counts}")
    client, server = min(cpu)
    print(f"  CPU seconds (steadier than wall time on a loaded machine): this process {client:.2f}, the PostgreSQL "
          f"backend serving it {server:.2f} = {frame.height / (client + server):,.0f} sessions per CPU-second; "
          f"load average {os.getloadavg()[0]:.2f}")

    # 3. Through Prefect, as the ingest flow inserts.
    warm_up = new_ingest()  # one session, to start the temporary Prefect server before timing
    insert_flow(StageFrame.save(frame.head(1), stage="approved", ingest_id=warm_up), "Europe/Oslo", warm_up)
    (schema.IngestRun & {"ingest_id": warm_up}).delete()
    ingest_id = new_ingest()
    approved = StageFrame.save(frame, stage="approved", ingest_id=ingest_id)
    # The task's body (reading its slice of the frame, then insert_sessions) and what it calls.
    in_task, in_insert, in_rows = Timer("fn", insert.insert_chunk_task), Timer("insert_sessions"), Timer("new_session_rows")
    in_check, in_write = Timer("schema_problems"), Timer("write_rows")
    profiler = cProfile.Profile() if args.profile else None
    started, client, server = time.perf_counter(), time.process_time(), backend_cpu()
    if profiler:
        profiler.enable()
    inserted = insert_flow(approved, "Europe/Oslo", ingest_id)
    if profiler:
        profiler.disable()
    total, client, server = time.perf_counter() - started, time.process_time() - client, backend_cpu() - server
    assert inserted == frame.height, f"inserted {inserted} of {frame.height}"
    stage = STAGE_SECONDS[-1]
    prefect_s, reading_s = stage - in_task.seconds, in_task.seconds - in_insert.seconds
    print(f"through Prefect, the flow's {len(bounds)} task runs (the insertion stage of a run): {stage:.2f} s, "
          f"{frame.height / stage:,.0f} sessions/s; load average {os.getloadavg()[0]:.2f}")
    print(f"  the flow call as a whole: {total:.2f} s, {frame.height / total:,.0f} sessions/s (+{total - stage:.2f} s: "
          "creating the flow run and, at its end, joining its heartbeat thread, which sleeps in 1 s steps: once "
          "per ingest, not per chunk)")
    print(f"  CPU seconds of the flow call: this process {client:.2f} (Prefect's threads included), the PostgreSQL "
          f"backend {server:.2f} = {frame.height / (client + server):,.0f} sessions per CPU-second")
    print(f"  Prefect in the task runs (states, cache, results, events): {prefect_s:.2f} s = {prefect_s / stage:.0%}, "
          f"{prefect_s / len(bounds) * 1000:.0f} ms per task run")
    print(f"  database (insert_sessions, transactions): {in_insert.seconds:.2f} s = {in_insert.seconds / stage:.0%}"
          f", of which the bulk writes {in_write.seconds:.2f} s")
    print(f"  before it, in the task: {reading_s:.2f} s = {reading_s / stage:.0%}: building rows in Python "
          f"{in_rows.seconds:.2f} s, checking them against the schema's limits {in_check.seconds:.2f} s, reading the "
          f"chunk from the approved parquet and the rest {reading_s - in_rows.seconds - in_check.seconds:.2f} s")
    print(f"rows {row_counts()}")
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
