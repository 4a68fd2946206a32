"""Reads of the stored sessions: what dedup compares candidates with, and what one ingest inserted or changed;
and the one change of a stored session in place, its folder's move.

The schema (and DataJoint) is imported on first use: discovery and dedup import this module
without needing a database.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

KEY = ["subject", "session_start"]
EXISTING_SCHEMA = {
    "subject": pl.String,
    "session_start": pl.Datetime("us"),
    "location": pl.String,
    "group": pl.String,
    # The session's probe serials and recording names (Session.Recording), to tell a moved folder
    # from a conflict and to see probes recorded since.
    "existing_serials": pl.List(pl.String),
    "existing_recordings": pl.List(pl.String),
    # Output folders (relative to the session folder) the pipeline holds (Session.Output: insertion
    # stores complete outputs). Null: not recorded for this session, so outputs are not compared.
    "existing_outputs": pl.List(pl.String),
    # The ingest that inserted the session, and when that ingest finished (else began): a duplicate's
    # reason names them, so a person finds the stored session and the run that brought it.
    "ingest_id": pl.String,
    "ingested_at": pl.Datetime("us"),
}


def fetch_existing_sessions() -> pl.DataFrame:
    """Every session in the pipeline (:data:`EXISTING_SCHEMA`): one query per table, aggregated in polars.

    The sessions' query joins the ingest that inserted each one (a few rows), so naming it costs no query.
    """
    from mass_ingest.db import schema

    schema.activate()
    runs = schema.IngestRun.proj(run_started="started_at", run_finished="finished_at")
    sessions = (schema.Session * schema.Session.Directory * runs).proj(
        "location", "session_group", "ingest_id", "run_started", "run_finished").to_polars()
    if sessions.is_empty():
        return pl.DataFrame(schema=EXISTING_SCHEMA)
    recordings = schema.Session.Recording.proj("serial").to_polars()
    if recordings.is_empty():  # an empty result has no columns at all
        recordings = pl.DataFrame(schema={"subject": pl.String, "session_start": pl.Datetime("us"),
                                          "recording": pl.String, "serial": pl.String})
    per_session = (
        recordings.select(pl.col("subject").cast(pl.String), pl.col("session_start").cast(pl.Datetime("us")),
                          pl.col("recording").cast(pl.String), pl.col("serial").cast(pl.String))
        .group_by(KEY)
        .agg(pl.col("serial").drop_nulls().unique().sort().alias("existing_serials"),
             pl.col("recording").sort().alias("existing_recordings")))
    outputs = schema.Session.Output.proj().to_polars()
    if outputs.is_empty():
        outputs = pl.DataFrame(schema={"subject": pl.String, "session_start": pl.Datetime("us"),
                                       "output_path": pl.String})
    per_session = per_session.join(
        outputs.select(pl.col("subject").cast(pl.String), pl.col("session_start").cast(pl.Datetime("us")),
                       pl.col("output_path").cast(pl.String))
        .group_by(KEY).agg(pl.col("output_path").unique().sort().alias("existing_outputs")),
        on=KEY, how="full", coalesce=True)
    no_list = pl.lit([], dtype=pl.List(pl.String))
    return (
        sessions.select(pl.col("subject").cast(pl.String), pl.col("session_start").cast(pl.Datetime("us")),
                        pl.col("location").cast(pl.String), pl.col("session_group").cast(pl.String).alias("group"),
                        pl.col("ingest_id").cast(pl.String),
                        pl.coalesce(pl.col("run_finished").cast(pl.Datetime("us")),
                                    pl.col("run_started").cast(pl.Datetime("us"))).alias("ingested_at"))
        .join(per_session, on=KEY, how="left", maintain_order="left")
        .select(*KEY, "location", "group",
                pl.col("existing_serials").fill_null(no_list), pl.col("existing_recordings").fill_null(no_list),
                pl.col("existing_outputs").fill_null(no_list), "ingest_id", "ingested_at"))


def sessions_inserted_by(ingest_id: str) -> int:
    """Sessions in the pipeline that this ingest inserted (true after any number of resumes)."""
    from mass_ingest.db import schema

    schema.activate()
    return len(schema.Session & {"ingest_id": ingest_id})


def sessions_changed_by(ingest_id: str) -> dict[str, int]:
    """Known sessions this ingest added late parts to, and moves it recorded."""
    from mass_ingest.db import schema
    from mass_ingest.db.antijoin import without

    schema.activate()
    run = {"ingest_id": ingest_id}
    own = (schema.Session & run).proj()
    added = {(r["subject"], r["session_start"])
             for table in (schema.Session.AddedRecording, schema.Session.Output)
             for r in without(table & run, own).proj().to_dicts()}  # NOT EXISTS: see db/antijoin.py
    return {"updated": len(added), "moves_recorded": len(schema.Session.PreviousLocation & run)}


def record_moves(frame: pl.DataFrame, ingest_id: str) -> int:
    """Point each moved session's Directory at its new place, keeping the old one; inside the transaction."""
    if frame.is_empty():
        return 0
    from mass_ingest.db import schema

    keys = [{"subject": s, "session_start": t} for s, t in zip(frame["subject"], frame["session_start"])]
    current = {(d["subject"], d["session_start"]): d for d in (schema.Session.Directory & keys).to_dicts()}
    taken = {d["location_hash"] for d in (schema.Session.Directory
                                          & [{"location_hash": c} for c in frame["candidate_id"]]).to_dicts()}
    now = datetime.now().replace(microsecond=0)
    history, moved = [], 0
    for row in frame.iter_rows(named=True):
        old = current.get((row["subject"], row["session_start"]))
        if old is None or row["candidate_id"] in taken:
            continue  # undone meanwhile, or the place is already recorded (a re-run)
        history.append({k: old[k] for k in ("subject", "session_start", "share", "rel_path", "location",
                                            "session_group")}
                       | {"previous_hash": old["location_hash"], "moved_at": now, "ingest_id": ingest_id})
        # One statement per moved session: moves are rare, and update1 is the only way to change a row.
        schema.Session.Directory.update1({"subject": row["subject"], "session_start": row["session_start"],
                                          "share": row["share"], "rel_path": row["rel_path"],
                                          "location": row["location"], "session_group": row["group"],
                                          "location_hash": row["candidate_id"]})
        moved += 1
    schema.Session.PreviousLocation.insert(history)
    return moved
