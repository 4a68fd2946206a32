"""Writing a chunk of approved sessions into the pipeline, one transaction each.

A chunk holds new sessions (status ``approved``) and, where the approver approved them, known
sessions that gained data (``update``: only the parts listed in ``new_parts`` go in) or moved
(``moved``: the new place is recorded when the profile says so, the old one kept as history).
Rows for a whole chunk are built outside the transaction (:mod:`mass_ingest.session_rows`), with what
they need from the database (probes, implants) read once per chunk; inside it each table gets one batch
insert, after the sessions already present (by key or location) are re-checked, so a chunk that committed
before a crash, or a session another run inserted meanwhile, is never inserted twice. A session goes in
with all its parts or not at all.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import Status
from mass_ingest.chunk_outcome import ChunkOutcome, Quarantined
from mass_ingest.db import limits, schema
from mass_ingest.db.bulk import matching, write_rows
from mass_ingest.db.connection import is_connection_error
from mass_ingest.db.locks import share_locks
from mass_ingest.db.session_parts import describe_projects, new_subject_rows, project_rows
from mass_ingest.db.sessions import record_moves
from mass_ingest.errors import DatabaseError
from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.gc_pause import gc_paused
from mass_ingest.probe_association import ProbeIndex
from mass_ingest.session_rows import (KEY, TABLES, InsertOptions, Rows, merge, new_session_rows, new_sessions,
                                      rows_of, update_rows)

SCHEMA_LIMIT_FIX = ("rename the folder or file on the share (or correct the file that holds the value) so it fits, "
                    "and run the profile again")


def table_for(name: str):
    """The table a name of :data:`mass_ingest.session_rows.TABLES` writes to."""
    return schema.Session if name == "Session" else getattr(schema.Session, name)


def _table_name(name: str) -> str:
    """The :func:`mass_ingest.db.bulk.write_rows` name of a table of :data:`TABLES`."""
    return name if name == "Session" else f"Session.{name}"


def _status(frame: pl.DataFrame) -> pl.Series:
    return (frame["status"] if "status" in frame.columns
            else pl.repeat(Status.APPROVED.value, frame.height, eager=True))


def insert_sessions(frame: pl.DataFrame, *, timezone: str, ingest_id: str,
                    options: InsertOptions | None = None, probes: ProbeIndex | None = None,
                    built: Rows | None = None) -> int:
    """Insert the chunk ``frame`` in one transaction; return how many sessions were new.

    Rows with status ``update`` add their ``new_parts`` to the stored session, rows with status
    ``moved`` record the new place (when ``options.record_moved_location``); other rows (or a
    frame without ``status``) are new sessions. ``built``: the new sessions' rows already made
    (by :func:`insert_isolated`, for its schema check) for these sessions or more; only those of
    sessions not stored yet are written.
    """
    if frame.is_empty():
        return 0
    with gc_paused():
        return _insert_sessions(frame, timezone, ingest_id, options or InsertOptions(), probes, built)


def _insert_sessions(frame: pl.DataFrame, timezone: str, ingest_id: str, options: InsertOptions,
                     probes: ProbeIndex | None, built: Rows | None) -> int:
    schema.activate()
    status = _status(frame)
    updates = frame.filter(status == Status.UPDATE)
    moves = frame.filter(status == Status.MOVED) if options.record_moved_location else frame.clear()
    shares = frame["share"].to_list()  # every share of the chunk, updates and moves included
    frame = new_sessions(frame)
    probes = probes or ProbeIndex.fetch(set(frame["subject"].to_list()) | set(updates["subject"].to_list()))
    subjects, starts, candidate_ids = (frame[c].to_list() for c in ("subject", "session_start", "candidate_id"))
    keys = list(zip(subjects, starts))
    projects = sorted({p for ps in frame["projects"].to_list() for p in ps})
    update_keys = list(zip(updates["subject"].to_list(), updates["session_start"].to_list()))
    connection = schema.Session.connection
    with share_locks(connection, shares), connection.transaction:  # see db/locks.py
        # Each check is one join with the chunk's keys (see db/bulk.py matching).
        existing = set(matching("Session", KEY, keys))
        # A folder's candidate id hashes its location (and group): the directory's unique key.
        existing_at = {h for (h,) in matching("Session.Directory", ["location_hash"],
                                              [(cid,) for cid in candidate_ids])}
        fresh = frame.filter([(s, t) not in existing and cid not in existing_at
                              for s, t, cid in zip(subjects, starts, candidate_ids)])
        if built is None:
            rows = new_session_rows(fresh, timezone, ingest_id, probes, options)
        else:
            fresh_keys = set(zip(fresh["subject"].to_list(), fresh["session_start"].to_list()))
            if all((r["subject"], r["session_start"]) in fresh_keys for r in built["Session"]):  # the usual case
                rows = {name: list(built[name]) for name in TABLES}
            else:
                rows = rows_of(built, fresh_keys)
        # Subjects the lab lets be unknown before ingest (imaging) are created with their sessions; an ephys
        # subject must exist already (with its implants), so an unknown one fails the chunk, never appears.
        imaging = fresh.filter(pl.col("modality") != "ephys")["subject"].to_list()
        subjects, created = new_subject_rows(set(imaging), ingest_id)
        if update_keys:
            stored = set(matching("Session", KEY, update_keys))
            stored |= set(matching("Session.Recording", KEY, update_keys, [*KEY, "recording"]))
            stored_outputs = set(matching("Session.Output", KEY, update_keys, [*KEY, "output_path"]))
            merge(rows, update_rows(updates, ingest_id, probes, options, stored, stored_outputs))
        # One bulk write for the chunk, parents first (see db/bulk.py write_rows).
        write_rows({"Project": project_rows(projects, options.project_descriptions), "Subject": subjects,
                    "CreatedSubject": created, **{_table_name(n): rows[n] for n in TABLES}},
                   skip_duplicates={"Project"})
        describe_projects(projects, options.project_descriptions)
        record_moves(moves, ingest_id)
    return fresh.height


def schema_problems(frame: pl.DataFrame, *, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
                    built: Rows) -> dict[str, list[str]]:
    """candidate id -> every value its rows would write that the schema refuses (see :mod:`mass_ingest.db.limits`).

    The rows are those :func:`insert_sessions` writes (``built``, the new sessions' rows as
    :func:`insert_isolated` made them; updates their new parts), so any table a session's rows go to
    is covered, however they are written.
    """
    status = _status(frame)
    rows = {name: list(table_rows) for name, table_rows in built.items()}  # a copy: `built` is written as is
    merge(rows, update_rows(frame.filter(status == Status.UPDATE), ingest_id, probes, options))
    moved = frame.filter(status == Status.MOVED)
    rows.setdefault("Directory", []).extend(
        moved.select(*KEY, "share", "rel_path", "location", pl.col("group").alias("session_group"),
                     pl.col("candidate_id").alias("location_hash")).rows(named=True))
    by_key = {}
    for cid, subject, start in zip(*(frame[c].to_list() for c in ("candidate_id", "subject", "session_start"))):
        by_key.setdefault((subject, start), []).append(cid)
    found = limits.violations(rows, table_for, lambda r: (r.get("subject"), r.get("session_start")))
    return {cid: reasons for key, reasons in found.items() for cid in by_key.get(key, [])}


def _left_out(code: str, row: dict, message: str) -> Finding:
    """An INSERT.* finding on the session of ``row`` (its share and folder)."""
    return finding(code, stage=Stage.INSERT, share=row["share"], path=row["rel_path"], message=message)


def _quarantined(frame: pl.DataFrame, left_out: dict[str, list[Finding]]) -> list[Quarantined]:
    return [Quarantined(candidate_id=r["candidate_id"], share=r["share"], rel_path=r["rel_path"],
                        session_id=r["session_id"], findings=left_out[r["candidate_id"]],
                        reasons=[f"{f.code}: {f.message}" for f in left_out[r["candidate_id"]]])
            for r in frame.filter(pl.col("candidate_id").is_in(list(left_out)))
            .select("candidate_id", "share", "rel_path", "session_id").iter_rows(named=True)]


def _refused_by_database(exc: BaseException) -> bool:
    """A failure that is the data's (the database refused a value or a key), not the database's absence."""
    return not is_connection_error(exc) and not isinstance(exc, DatabaseError) and isinstance(exc, Exception)


def insert_isolated(frame: pl.DataFrame, *, timezone: str, ingest_id: str,
                    options: InsertOptions | None = None) -> ChunkOutcome:
    """Insert a chunk so that no session can stop the others.

    1. Every value is checked against the schema's limits; a session holding one the database
       would refuse is left out, with a reason naming the value and the limit.
    2. The rest goes in as one transaction (:func:`insert_sessions`). If the database still refuses
       it, the chunk is split in halves, each tried in a transaction of its own, down to the one
       session responsible, which is left out with the database's words. A lost connection is not
       bisected: it is raised, and the chunk retried as a whole.
    """
    options = options or InsertOptions()
    if frame.is_empty():
        return ChunkOutcome()
    with gc_paused():
        return _insert_isolated(frame, timezone, ingest_id, options)


def _insert_isolated(frame: pl.DataFrame, timezone: str, ingest_id: str, options: InsertOptions) -> ChunkOutcome:
    schema.activate()
    probes = ProbeIndex.fetch(set(frame["subject"].to_list()))
    # The new sessions' rows are made once: checked here, written by insert_sessions.
    built = new_session_rows(new_sessions(frame), timezone, ingest_id, probes, options)
    bad = schema_problems(frame, ingest_id=ingest_id, probes=probes, options=options, built=built)
    left_out = {r["candidate_id"]: [_left_out("INSERT.SCHEMA_LIMIT", r, f"{why}; {SCHEMA_LIMIT_FIX}")
                                    for why in bad[r["candidate_id"]]]
                for r in frame.filter(pl.col("candidate_id").is_in(list(bad))).iter_rows(named=True)}
    good = frame.filter(~pl.col("candidate_id").is_in(list(bad)))
    inserted = _bisect(good, timezone, ingest_id, options, left_out, probes, built)
    return ChunkOutcome(inserted=inserted, quarantined=_quarantined(frame, left_out))


def _bisect(frame: pl.DataFrame, timezone: str, ingest_id: str, options: InsertOptions,
            left_out: dict[str, list[Finding]], probes: ProbeIndex, built: Rows) -> int:
    if frame.is_empty():
        return 0
    try:
        return insert_sessions(frame, timezone=timezone, ingest_id=ingest_id, options=options, probes=probes,
                               built=built)
    except Exception as exc:
        if not _refused_by_database(exc):
            raise
        if frame.height == 1:
            words = " ".join(str(exc).split())[:500]
            row = frame.row(0, named=True)
            left_out[row["candidate_id"]] = [_left_out(
                "INSERT.REFUSED", row, f"the database refused this session's rows ({type(exc).__name__}: "
                f"{words}); fix the value it names on the share and run the profile again")]
            return 0
    inserted = 0
    for half in (frame.head(frame.height // 2), frame.tail(frame.height - frame.height // 2)):
        # Each half gets only its own sessions' rows: filtering the whole chunk's rows at every level would make
        # finding several refused sessions quadratic in the chunk.
        keys = set(zip(half["subject"].to_list(), half["session_start"].to_list()))
        inserted += _bisect(half, timezone, ingest_id, options, left_out, probes, rows_of(built, keys))
    return inserted
