"""Stage 6, insertion: approved sessions into the pipeline, in chunks, one transaction each.

A chunk holds new sessions (status ``approved``) and, where the approver approved them, known
sessions that gained data (``update``: only the parts listed in ``new_parts`` go in) or moved
(``moved``: the new place is recorded when the profile says so, the old one kept as history).
Rows for a whole chunk are built outside the transaction, with what they need from the database
(probes, implants) read once per chunk; inside it each table gets one batch insert, after the
sessions already present (by key or location) are re-checked, so a chunk that committed before
a crash, or a session another run inserted meanwhile, is never inserted twice. A session goes in
with all its parts or not at all.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import datajoint as dj
import polars as pl
from prefect import task
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest import progress, settings
from mass_ingest.candidates import Status, has_status
from mass_ingest.chunk_outcome import ChunkOutcome, Quarantined
from mass_ingest.db import limits, schema
from mass_ingest.gc_pause import gc_paused
from mass_ingest.db.bulk import matching, write_rows
from mass_ingest.db.session_parts import probe_files
from mass_ingest.db.connection import is_connection_error, outage_reported
from mass_ingest.db.runs import record_quarantine
from mass_ingest.db.sessions import record_moves
from mass_ingest.errors import DatabaseError
from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.db.locks import share_locks
from mass_ingest.db.session_parts import (describe_projects, experimenter_rows, inferred_start_rows, new_subject_rows,
                                          probe_file_rows, project_rows, system_recording_rows)
from mass_ingest.stage_cache import StageFrame
from tasks import STAGE_CACHE
from mass_ingest.probe_association import ProbeIndex

# Tables in the order a chunk inserts them (parents first).
KEY = ["subject", "session_start"]
# Candidate columns no row of the pipeline is made from (see _for_rows).
_NOT_INSERTED = ("findings", "bins_without_meta", "systems", "quality_failures", "quality_reasons", "pending_reasons",
                 "dedup_reason", "duplicate_of", "session_id", "layout", "excluded_by")
TABLES = ("Session", "Directory", "Recording", "ProbeFiles", "AddedRecording", "ProbeAssociation",
          "SystemRecording", "InferredStart", "Experimenter", "Membership", "Task", "Output", "Clustering")


class InsertOptions(BaseModel):
    """What insertion takes from the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probe_association: dict[str, dict[str, str]] = Field(default_factory=dict)
    record_moved_location: bool = True
    project_descriptions: dict[str, str] = Field(
        default_factory=dict, description="Project -> its description in the profile, stored with the project.")

    @classmethod
    def from_profile(cls, profile) -> "InsertOptions":
        return cls(probe_association=profile.probe_association,
                   record_moved_location=profile.dedup.record_moved_location,
                   project_descriptions={p.name: p.description for p in profile.projects if p.description})


def _table_name(name: str) -> str:
    """The :func:`mass_ingest.db.bulk.write_rows` name of a table of :data:`TABLES`."""
    return name if name == "Session" else f"Session.{name}"


def _recording_name(folder: str | None) -> str:
    return folder or "."


def _tasks(row: dict, key: dict, ingest_id: str) -> list[dict]:
    """Inferred tasks: each stops where the next starts, the last where the recording ends (if known)."""
    hints = sorted(row["task_hints"] or [], key=lambda h: (h["start_s"], h["order"]))
    lengths = [p["file_time_secs"] for p in row["probes"] if p["file_time_secs"] is not None]
    end = max(lengths) if lengths else None
    out = []
    for i, hint in enumerate(hints):
        stop = hints[i + 1]["start_s"] if i + 1 < len(hints) else end
        out.append({**key, "task_order": i + 1, "task": hint["name"], "task_type": hint["kind"] or "",
                    "start_s": hint["start_s"], "stop_s": stop if stop is not None and stop >= hint["start_s"]
                    else None, "confirmed": False, "ingest_id": ingest_id})
    return out


def _output_rows(outputs: list[dict], key: dict, ingest_id: str) -> tuple[list[dict], list[dict]]:
    """Complete outputs (an incomplete one comes in as late data once complete), and the clustering
    candidates among them. A curation is preferred over the sorting it curates."""
    complete = [o for o in outputs if o["complete"]]
    curated = {o["recording"] for o in complete if o["kind"] == "curation"}
    rows, clusterings = [], []
    for o in complete:
        name = next((f for f in o["files"] if f.endswith(".h5")), "") if o["kind"] == "dlc" else ""
        preferred = o["kind"] != "suite2p_split" and not (o["kind"] == "kilosort" and o["recording"] in curated)
        preferred = preferred or bool(o.get("preferred"))  # discovery marks the one to use where it knows
        out = {**key, "output_path": o["path"], "output_name": name}
        rows.append({**out, "kind": o["kind"], "recording": o["recording"] or "", "files": list(o["files"]),
                     "preferred": preferred, "ingest_id": ingest_id})
        if o["kind"] in ("kilosort", "curation"):
            clusterings.append({**out, "recording": o["recording"] or ""})
    return rows, clusterings


def _parts(row: dict, key: dict, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
           new_parts: list[str] | None = None, into: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Rows per part table of one session, added to ``into`` (the chunk's rows; a new dict when None);
    with ``new_parts`` (an update), only those parts."""
    rows = into if into is not None else {name: [] for name in TABLES}
    new_probes = {p.split(" ", 1)[1] for p in new_parts or [] if p.startswith("probe ")}
    new_outputs = {p.split(" ", 2)[2] for p in new_parts or [] if p.startswith("output ")}
    for probe in row["probes"]:
        name = _recording_name(probe["folder"])
        if new_parts is not None and name not in new_probes:
            continue
        recording = {**key, "recording": name}
        rows["Recording"].append({**recording, "meta_file": probe["meta_file"],
                                  **{k: probe[k] for k in ("serial", "probe_type", "part_number", "n_saved_chans",
                                                           "sample_rate", "file_size_bytes", "file_time_secs",
                                                           "file_create_time")}})
        rows["ProbeFiles"] += probe_file_rows(recording, probe)
        if new_parts is not None:
            rows["AddedRecording"].append({**recording, "ingest_id": ingest_id})
        found = probes.associate(key["subject"], name, probe["serial"], options.probe_association)
        if found.probe:
            rows["ProbeAssociation"].append({**recording, "probe": found.probe, "decided_by": found.decided_by,
                                             "ingest_id": ingest_id})
    outputs = row["outputs"] if new_parts is None else [o for o in row["outputs"] if o["path"] in new_outputs]
    if outputs:
        output_rows, clusterings = _output_rows(outputs, key, ingest_id)
        rows["Output"] += output_rows
        rows["Clustering"] += clusterings
    if new_parts is None:
        if row["recordings"]:
            rows["SystemRecording"] += system_recording_rows(row["recordings"], key, ingest_id)
        rows["InferredStart"] += inferred_start_rows(row, key)
        rows["Experimenter"] += experimenter_rows(row, key)
        if row["task_hints"]:
            rows["Task"] += _tasks(row, key, ingest_id)
        rows["Membership"] += [{**key, "project": p} for p in row["projects"]]
    return rows


def table_for(name: str):
    """The table a name of :data:`TABLES` writes to."""
    return schema.Session if name == "Session" else getattr(schema.Session, name)


def _merge(into: dict[str, list[dict]], rows: dict[str, list[dict]]) -> None:
    for name, table_rows in rows.items():
        into[name].extend(table_rows)


def _for_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame without the columns insertion never reads: turning the findings and the quality
    verdicts of every row into Python objects took longer than building the rows."""
    return frame.drop([c for c in _NOT_INSERTED if c in frame.columns])


_RECORDING_FIELDS = ("serial", "probe_type", "part_number", "n_saved_chans", "sample_rate", "file_size_bytes",
                     "file_time_secs", "file_create_time")


def _items(frame: pl.DataFrame, column: str, *others: str) -> pl.DataFrame:
    """One row per item of the list column ``column`` (a struct's fields as columns), sessions without any
    left out, in session order then list order, with the session's key and ``others``: polars makes the
    Python values of flat columns several times faster than those of each session's list of structs."""
    return (frame.filter(pl.col(column).list.len() > 0).select(*KEY, *others, column)
            .explode(column).unnest(column))


def _with_rows(frame: pl.DataFrame, keep: pl.Expr, *columns: str) -> list[dict]:
    """The sessions ``keep`` selects, as dicts of their key and ``columns`` (those the frame has)."""
    return frame.filter(keep).select(*KEY, *[c for c in columns if c in frame.columns]).rows(named=True)


def _new_session_rows(frame: pl.DataFrame, timezone: str, ingest_id: str, probes: ProbeIndex,
                      options: InsertOptions) -> dict[str, list[dict]]:
    """The rows of the new sessions of ``frame``, table by table (as :func:`_parts` makes them, in the same
    order), built column by column in polars: probes, outputs, tasks and projects are exploded, so no session's
    list of structs becomes Python objects as a whole."""
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    key = [pl.col("subject"), pl.col("session_start")]
    rows["Session"] = frame.select(*key, pl.lit(timezone, pl.String).alias("timezone"), "modality",
                                   pl.lit(ingest_id, pl.String).alias("ingest_id")).rows(named=True)
    rows["Directory"] = frame.select(*key, "share", "rel_path", "location", pl.col("group").alias("session_group"),
                                     pl.col("candidate_id").alias("location_hash")).rows(named=True)
    indexed = frame.with_row_index("_session")  # groups a list column's items by session again
    recordings = _items(indexed, "probes", "_session")
    folder = pl.col("folder")
    recordings = recordings.with_columns(  # _recording_name: a probe without a folder is '.'
        pl.when(folder.is_null() | (folder == "")).then(pl.lit(".")).otherwise(folder).alias("recording"),
        *[pl.lit(None).alias(c) for c in ("bin_file", "bin_size") if c not in recordings.columns])
    rows["Recording"] = recordings.select(*key, "recording", "meta_file", *_RECORDING_FIELDS).rows(named=True)
    subjects, starts, names, metas, bins, bin_sizes, serials = (
        recordings[c].to_list() for c in ("subject", "session_start", "recording", "meta_file", "bin_file",
                                          "bin_size", "serial"))
    rows["ProbeFiles"] = [{"subject": s, "session_start": t, "recording": n,
                           "files": probe_files({"meta_file": m, "bin_file": b, "bin_size": z})}
                          for s, t, n, m, b, z in zip(subjects, starts, names, metas, bins, bin_sizes)]
    if probes.names or probes.by_serial:  # an empty index associates nothing
        for s, t, n, serial in zip(subjects, starts, names, serials):
            found = probes.associate(s, n, serial, options.probe_association)
            if found.probe:
                rows["ProbeAssociation"].append({"subject": s, "session_start": t, "recording": n,
                                                 "probe": found.probe, "decided_by": found.decided_by,
                                                 "ingest_id": ingest_id})
    outputs = _items(indexed, "outputs", "_session")
    for _, group in groupby(outputs.rows(named=True), key=itemgetter("_session")):
        session_outputs = list(group)
        output_rows, clusterings = _output_rows(session_outputs, _key(session_outputs[0]), ingest_id)
        rows["Output"] += output_rows
        rows["Clustering"] += clusterings
    rows["Membership"] = (frame.filter(pl.col("projects").list.len() > 0)
                          .select(*key, pl.col("projects").alias("project")).explode("project").rows(named=True))
    # The rarer parts, from the sessions that have them.
    for row in _with_rows(frame, pl.col("recordings").list.len() > 0, "recordings"):
        rows["SystemRecording"] += system_recording_rows(row["recordings"], _key(row), ingest_id)
    if "start_inferred" in frame.columns:
        for row in _with_rows(frame, pl.col("start_inferred").fill_null(False), "start_inferred", "start_source"):
            rows["InferredStart"] += inferred_start_rows(row, _key(row))
    if "experimenter" in frame.columns:
        for row in _with_rows(frame, pl.col("experimenter").fill_null("") != "", "experimenter"):
            rows["Experimenter"] += experimenter_rows(row, _key(row))
    hints = _items(indexed, "task_hints", "_session").rows(named=True)
    if hints:  # a task ends where the next starts or the recordings end: _tasks reads only the probes' lengths
        lengths: dict[int, list[dict]] = {}
        for i, seconds in zip(recordings["_session"].to_list(), recordings["file_time_secs"].to_list()):
            lengths.setdefault(i, []).append({"file_time_secs": seconds})
        for i, group in groupby(hints, key=itemgetter("_session")):
            session_hints = list(group)
            rows["Task"] += _tasks({"task_hints": session_hints, "probes": lengths.get(i, [])}, _key(session_hints[0]),
                                   ingest_id)
    return rows


def _key(row: dict) -> dict:
    return {"subject": row["subject"], "session_start": row["session_start"]}


def _update_rows(frame: pl.DataFrame, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
                 stored: set[tuple], stored_outputs: set[tuple]) -> dict[str, list[dict]]:
    """The new parts of known sessions, less any that are stored already (``stored``: session keys and
    (key, recording) pairs; ``stored_outputs``: (key, path) pairs), read inside the transaction."""
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    for row in _for_rows(frame).iter_rows(named=True):
        key = _key(row)
        if (row["subject"], row["session_start"]) not in stored:
            continue  # gone since dedup (undone): nothing to add to
        parts = _parts(row, key, ingest_id, probes, options, new_parts=row["new_parts"])
        fresh = {r["recording"] for r in parts["Recording"]
                 if (r["subject"], r["session_start"], r["recording"]) not in stored}
        for name in ("Recording", "ProbeFiles", "AddedRecording", "ProbeAssociation"):
            parts[name] = [r for r in parts[name] if r["recording"] in fresh]
        for name in ("Output", "Clustering"):
            parts[name] = [r for r in parts[name]
                           if (r["subject"], r["session_start"], r["output_path"]) not in stored_outputs]
        _merge(rows, parts)
    return rows


def insert_sessions(frame: pl.DataFrame, *, timezone: str, ingest_id: str,
                    options: InsertOptions | None = None, probes: ProbeIndex | None = None,
                    built: dict[str, list[dict]] | None = None) -> int:
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
                     probes: ProbeIndex | None, built: dict[str, list[dict]] | None) -> int:
    schema.activate()
    status = (frame["status"] if "status" in frame.columns
              else pl.repeat(Status.APPROVED.value, frame.height, eager=True))
    updates = frame.filter(status == Status.UPDATE)
    moves = frame.filter(status == Status.MOVED) if options.record_moved_location else frame.clear()
    shares = frame["share"].to_list()  # every share of the chunk, updates and moves included
    frame = frame.filter(~status.is_in([Status.UPDATE, Status.MOVED]))
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
            rows = _new_session_rows(fresh, timezone, ingest_id, probes, options)
        else:
            fresh_keys = set(zip(fresh["subject"].to_list(), fresh["session_start"].to_list()))
            if all((r["subject"], r["session_start"]) in fresh_keys for r in built["Session"]):
                rows = {name: list(built[name]) for name in TABLES}  # the usual case: every session built is new
            else:
                rows = {name: [r for r in built[name] if (r["subject"], r["session_start"]) in fresh_keys]
                        for name in TABLES}
        # Subjects the lab lets be unknown before ingest (imaging) are created with their sessions; an ephys
        # subject must exist already (with its implants), so an unknown one fails the chunk, never appears.
        imaging = fresh.filter(pl.col("modality") != "ephys")["subject"].to_list()
        subjects, created = new_subject_rows(set(imaging), ingest_id)
        if update_keys:
            stored = set(matching("Session", KEY, update_keys))
            stored |= set(matching("Session.Recording", KEY, update_keys, [*KEY, "recording"]))
            stored_outputs = set(matching("Session.Output", KEY, update_keys, [*KEY, "output_path"]))
            _merge(rows, _update_rows(updates, ingest_id, probes, options, stored, stored_outputs))
        # One bulk write for the chunk, parents first (see db/bulk.py write_rows).
        write_rows({"Project": project_rows(projects, options.project_descriptions), "Subject": subjects,
                    "CreatedSubject": created, **{_table_name(n): rows[n] for n in TABLES}},
                   skip_duplicates={"Project"})
        describe_projects(projects, options.project_descriptions)
        record_moves(moves, ingest_id)
    return fresh.height


def new_sessions(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a chunk that are new sessions (neither late data of a stored one nor a move)."""
    if "status" not in frame.columns:
        return frame
    return frame.filter(~pl.col("status").is_in([Status.UPDATE, Status.MOVED]))


def schema_problems(frame: pl.DataFrame, *, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
                    built: dict[str, list[dict]]) -> dict[str, list[str]]:
    """candidate id -> every value its rows would write that the schema refuses (see :mod:`mass_ingest.db.limits`).

    The rows are those :func:`insert_sessions` writes (``built``, the new sessions' rows as
    :func:`insert_isolated` made them; updates their new parts), so any table a session's rows go to
    is covered, however they are written.
    """
    status = (frame["status"] if "status" in frame.columns
              else pl.repeat(Status.APPROVED.value, frame.height, eager=True))
    rows = {name: list(table_rows) for name, table_rows in built.items()}  # a copy: `built` is written as is
    for row in frame.filter(status == Status.UPDATE).iter_rows(named=True):
        key = _key(row)
        _merge(rows, _parts(row, key, ingest_id, probes, options, new_parts=row["new_parts"]))
    moved = frame.filter(status == Status.MOVED)
    rows.setdefault("Directory", []).extend(
        {"subject": r["subject"], "session_start": r["session_start"], "share": r["share"], "rel_path": r["rel_path"],
         "location": r["location"], "session_group": r["group"], "location_hash": r["candidate_id"]}
        for r in moved.iter_rows(named=True))
    by_key = {}
    for cid, subject, start in zip(*(frame[c].to_list() for c in ("candidate_id", "subject", "session_start"))):
        by_key.setdefault((subject, start), []).append(cid)
    found = limits.violations(rows, table_for, lambda r: (r.get("subject"), r.get("session_start")))
    return {cid: reasons for key, reasons in found.items() for cid in by_key.get(key, [])}


SCHEMA_LIMIT_FIX = ("rename the folder or file on the share (or correct the file that holds the value) so it fits, "
                    "and run the profile again")


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
    built = _new_session_rows(new_sessions(frame), timezone, ingest_id, probes, options)
    bad = schema_problems(frame, ingest_id=ingest_id, probes=probes, options=options, built=built)
    left_out = {r["candidate_id"]: [_left_out("INSERT.SCHEMA_LIMIT", r, f"{why}; {SCHEMA_LIMIT_FIX}")
                                    for why in bad[r["candidate_id"]]]
                for r in frame.filter(pl.col("candidate_id").is_in(list(bad))).iter_rows(named=True)}
    good = frame.filter(~pl.col("candidate_id").is_in(list(bad)))
    inserted = _bisect(good, timezone, ingest_id, options, left_out, probes, built)
    return ChunkOutcome(inserted=inserted, quarantined=_quarantined(frame, left_out))


def _bisect(frame: pl.DataFrame, timezone: str, ingest_id: str, options: InsertOptions,
            left_out: dict[str, list[Finding]], probes: ProbeIndex, built: dict[str, list[dict]]) -> int:
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
    half = frame.height // 2
    return (_bisect(frame.head(half), timezone, ingest_id, options, left_out, probes, built)
            + _bisect(frame.tail(frame.height - half), timezone, ingest_id, options, left_out, probes, built))


def select_for_insertion(decided: pl.DataFrame) -> pl.DataFrame:
    """What the decision lets in: new sessions approved, and known ones whose late data or move was approved."""
    return decided.filter(has_status(Status.APPROVED) | pl.col("change_approved"))


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
def insert_chunk_task(approved: StageFrame, offset: int, length: int, timezone: str, ingest_id: str,
                      options: InsertOptions | None = None) -> ChunkOutcome:
    """One committed chunk; cached, so a re-run after a crash skips chunks already committed.

    Sessions left out are stored in the Quarantine table before the task returns, so the list is
    kept whatever happens to the rest of the run.
    """
    with outage_reported(f"inserting rows {offset}+{length} of ingest {ingest_id}"):
        outcome = insert_isolated(approved.load(offset, length), timezone=timezone, ingest_id=ingest_id,
                                  options=options)
        record_quarantine(ingest_id, [{**q.model_dump(exclude={"reasons", "findings"}), "quality_reasons": q.reasons}
                                      for q in outcome.quarantined])
    progress.report("insert", offset + length, approved.rows, "insertion", unit="approved sessions")
    outcome.flow_run_id = str(flow_run.get_id() or "")
    return outcome
