"""Stage 6, insertion: approved sessions into the pipeline, in chunks, one transaction each.

Each chunk re-checks inside its transaction which sessions already exist (by key and by
location), so a chunk that committed before a crash, or a session another run inserted
meanwhile, is never inserted twice; a session goes in with all its parts or not at all.
"""

from __future__ import annotations


import datajoint as dj
import polars as pl
from prefect import task

from mass_ingest import settings
from mass_ingest.db import schema
from mass_ingest.db.connection import is_connection_error, outage_reported
from mass_ingest.db.locks import share_locks
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame


def _rows(frame: pl.DataFrame, timezone: str, ingest_id: str) -> dict[str, list[dict]]:
    """Rows per table for the sessions in ``frame`` (a whole chunk, built outside the transaction)."""
    sessions, directories, recordings, memberships = [], [], [], []
    for row in frame.iter_rows(named=True):
        key = {"subject": row["subject"], "session_start": row["session_start"]}
        sessions.append({**key, "timezone": timezone, "modality": row["modality"], "ingest_id": ingest_id})
        directories.append({**key, "share": row["share"], "rel_path": row["rel_path"], "location": row["location"],
                            "session_group": row["group"], "location_hash": row["candidate_id"]})
        for probe in row["probes"]:
            recordings.append({**key, "recording": probe["folder"] or ".", "meta_file": probe["meta_file"],
                               **{k: probe[k] for k in ("serial", "probe_type", "part_number", "n_saved_chans",
                                                        "sample_rate", "file_size_bytes", "file_time_secs",
                                                        "file_create_time")}})
        memberships.extend({**key, "project": p} for p in row["projects"])
    return {"Session": sessions, "Directory": directories, "Recording": recordings, "Membership": memberships}


def insert_sessions(frame: pl.DataFrame, *, timezone: str, ingest_id: str) -> int:
    """Insert the sessions of ``frame`` in one transaction; return how many were new."""
    if frame.is_empty():
        return 0
    schema.activate()
    connection = schema.Session.connection
    keys = [{"subject": s, "session_start": t} for s, t in zip(frame["subject"], frame["session_start"])]
    # A folder's candidate id hashes its location (and group): the directory's unique key.
    hashes = [{"location_hash": cid} for cid in frame["candidate_id"]]
    projects = sorted({p for ps in frame["projects"] for p in ps})
    with share_locks(connection, frame["share"]), connection.transaction:  # see db/locks.py
        existing = {(r["subject"], r["session_start"]) for r in (schema.Session & keys).proj().to_dicts()}
        existing_at = {r["location_hash"] for r in (schema.Session.Directory & hashes).proj("location_hash").to_dicts()}
        fresh = frame.filter([(s, t) not in existing and cid not in existing_at
                              for s, t, cid in zip(frame["subject"], frame["session_start"], frame["candidate_id"])])
        if fresh.is_empty():
            return 0
        rows = _rows(fresh, timezone, ingest_id)
        schema.Project.insert([{"project": p} for p in projects], skip_duplicates=True)
        schema.Session.insert(rows["Session"])
        schema.Session.Directory.insert(rows["Directory"])
        schema.Session.Recording.insert(rows["Recording"])
        schema.Session.Membership.insert(rows["Membership"])
    return fresh.height


def chunk_bounds(rows: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    chunk_size = chunk_size or settings.insert_chunk_size()
    return [(start, min(chunk_size, rows - start)) for start in range(0, rows, chunk_size)]


def _retry_when_redoing_helps(task, task_run, state) -> bool:
    """A lost connection, or a session another run inserted meanwhile: the retry re-checks and goes on."""
    exc = state.result(raise_on_failure=False)
    return is_connection_error(exc) or isinstance(exc, dj.errors.DuplicateError)


@task(name="insert-chunk", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json",
      task_run_name="insert rows {offset}+{length}", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=_retry_when_redoing_helps)
def insert_chunk_task(approved: StageFrame, offset: int, length: int, timezone: str, ingest_id: str) -> int:
    """One committed chunk; cached, so a re-run after a crash skips chunks already committed."""
    with outage_reported(f"inserting rows {offset}+{length} of ingest {ingest_id}"):
        return insert_sessions(approved.load().slice(offset, length), timezone=timezone, ingest_id=ingest_id)


def sessions_inserted_by(ingest_id: str) -> int:
    """Sessions in the pipeline that this ingest inserted (true after any number of resumes)."""
    schema.activate()
    return len(schema.Session & {"ingest_id": ingest_id})


