"""The rows a chunk of approved sessions writes, table by table, built column by column in polars.

New sessions get every part; known sessions that gained data (status ``update``) get only the parts their
``new_parts`` name (``probe <recording>``, ``output <kind> <path>``), less those stored meanwhile. Both are made
by exploding the frame's list columns (probes, outputs, task hints, projects) rather than turning each
session's lists into Python objects: one builder, so a new kind of part is added in one place.
Pure functions; :mod:`mass_ingest.db.insertion` writes the rows in the chunk's transaction.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.candidates import Status, has_status
from mass_ingest.db.session_parts import experimenter_rows, inferred_start_rows, probe_files, system_recording_rows
from mass_ingest.probe_association import ProbeIndex

KEY = ["subject", "session_start"]
# Tables in the order a chunk inserts them (parents first).
TABLES = ("Session", "Directory", "Recording", "ProbeFiles", "AddedRecording", "ProbeAssociation",
          "SystemRecording", "InferredStart", "Experimenter", "Membership", "Task", "Output", "Clustering")
_RECORDING_FIELDS = ("serial", "probe_type", "part_number", "n_saved_chans", "sample_rate", "file_size_bytes",
                     "file_time_secs", "file_create_time")
Rows = dict[str, list[dict]]


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


def select_for_insertion(decided: pl.DataFrame) -> pl.DataFrame:
    """What the decision lets in: new sessions approved, and known ones whose late data or move was approved."""
    return decided.filter(has_status(Status.APPROVED) | pl.col("change_approved"))


def new_sessions(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a chunk that are new sessions (neither late data of a stored one nor a move)."""
    if "status" not in frame.columns:
        return frame
    return frame.filter(~pl.col("status").is_in([Status.UPDATE, Status.MOVED]))


def no_rows() -> Rows:
    return {name: [] for name in TABLES}


def key_of(row: dict) -> dict:
    """A session's key, from any row that has it."""
    return {"subject": row["subject"], "session_start": row["session_start"]}


def tasks_of(hints: list[dict], lengths: list[float], key: dict, ingest_id: str) -> list[dict]:
    """Inferred tasks: each stops where the next starts, the last where the recording ends (its longest
    probe, if known)."""
    hints = sorted(hints, key=lambda h: (h["start_s"], h["order"]))
    end = max(lengths) if lengths else None
    out = []
    for i, hint in enumerate(hints):
        stop = hints[i + 1]["start_s"] if i + 1 < len(hints) else end
        out.append({**key, "task_order": i + 1, "task": hint["name"], "task_type": hint["kind"] or "",
                    "start_s": hint["start_s"], "stop_s": stop if stop is not None and stop >= hint["start_s"]
                    else None, "confirmed": False, "ingest_id": ingest_id})
    return out


def output_rows(outputs: list[dict], key: dict, ingest_id: str) -> tuple[list[dict], list[dict]]:
    """One session's complete outputs (an incomplete one comes in as late data once complete), and the
    clustering candidates among them. A curation is preferred over the sorting it curates."""
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


def _items(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """One row per item of the list column ``column`` (a struct's fields as columns) with its session's key and
    index (``_session``), sessions without any left out, in session order then list order: polars makes the
    Python values of flat columns several times faster than those of each session's list of structs."""
    return (frame.filter(pl.col(column).list.len() > 0).select(*KEY, "_session", column)
            .explode(column).unnest(column))


def _recordings(indexed: pl.DataFrame) -> pl.DataFrame:
    """The probes of the sessions, each with its recording name (a probe without a folder is '.')."""
    recordings = _items(indexed, "probes")
    folder = pl.col("folder")
    return recordings.with_columns(
        pl.when(folder.is_null() | (folder == "")).then(pl.lit(".")).otherwise(folder).alias("recording"),
        *[pl.lit(None).alias(c) for c in ("bin_file", "bin_size") if c not in recordings.columns])


def _add_recordings(rows: Rows, recordings: pl.DataFrame, ingest_id: str, probes: ProbeIndex,
                    options: InsertOptions, added: bool) -> None:
    """Recording, ProbeFiles and ProbeAssociation rows of ``recordings``; with ``added`` (late data), the
    AddedRecording rows that say which ingest brought them."""
    rows["Recording"] += recordings.select(*KEY, "recording", "meta_file", *_RECORDING_FIELDS).rows(named=True)
    subjects, starts, names, metas, bins, bin_sizes, serials = (
        recordings[c].to_list() for c in ("subject", "session_start", "recording", "meta_file", "bin_file",
                                          "bin_size", "serial"))
    rows["ProbeFiles"] += [{"subject": s, "session_start": t, "recording": n,
                            "files": probe_files({"meta_file": m, "bin_file": b, "bin_size": z})}
                           for s, t, n, m, b, z in zip(subjects, starts, names, metas, bins, bin_sizes)]
    if added:
        rows["AddedRecording"] += [{"subject": s, "session_start": t, "recording": n, "ingest_id": ingest_id}
                                   for s, t, n in zip(subjects, starts, names)]
    if probes.names or probes.by_serial:  # an empty index associates nothing
        for s, t, n, serial in zip(subjects, starts, names, serials):
            found = probes.associate(s, n, serial, options.probe_association)
            if found.probe:
                rows["ProbeAssociation"].append({"subject": s, "session_start": t, "recording": n,
                                                 "probe": found.probe, "decided_by": found.decided_by,
                                                 "ingest_id": ingest_id})


def _add_outputs(rows: Rows, outputs: pl.DataFrame, ingest_id: str) -> None:
    """Output and Clustering rows of ``outputs`` (:func:`_items` of the sessions' outputs), session by session."""
    for _, group in groupby(outputs.rows(named=True), key=itemgetter("_session")):
        session_outputs = list(group)
        made, clusterings = output_rows(session_outputs, key_of(session_outputs[0]), ingest_id)
        rows["Output"] += made
        rows["Clustering"] += clusterings


def _with_rows(frame: pl.DataFrame, keep: pl.Expr, *columns: str) -> list[dict]:
    """The sessions ``keep`` selects, as dicts of their key and ``columns`` (those the frame has)."""
    return frame.filter(keep).select(*KEY, *[c for c in columns if c in frame.columns]).rows(named=True)


def new_session_rows(frame: pl.DataFrame, timezone: str, ingest_id: str, probes: ProbeIndex,
                     options: InsertOptions) -> Rows:
    """The rows of the new sessions of ``frame``, table by table, in session order then each list's order."""
    rows = no_rows()
    key = [pl.col("subject"), pl.col("session_start")]
    rows["Session"] = frame.select(*key, pl.lit(timezone, pl.String).alias("timezone"), "modality",
                                   pl.lit(ingest_id, pl.String).alias("ingest_id")).rows(named=True)
    rows["Directory"] = frame.select(*key, "share", "rel_path", "location", pl.col("group").alias("session_group"),
                                     pl.col("candidate_id").alias("location_hash")).rows(named=True)
    indexed = frame.with_row_index("_session")  # groups a list column's items by session again
    recordings = _recordings(indexed)
    _add_recordings(rows, recordings, ingest_id, probes, options, added=False)
    _add_outputs(rows, _items(indexed, "outputs"), ingest_id)
    rows["Membership"] = (frame.filter(pl.col("projects").list.len() > 0)
                          .select(*key, pl.col("projects").alias("project")).explode("project").rows(named=True))
    # The rarer parts, from the sessions that have them.
    for row in _with_rows(frame, pl.col("recordings").list.len() > 0, "recordings"):
        rows["SystemRecording"] += system_recording_rows(row["recordings"], key_of(row), ingest_id)
    if "start_inferred" in frame.columns:
        for row in _with_rows(frame, pl.col("start_inferred").fill_null(False), "start_inferred", "start_source"):
            rows["InferredStart"] += inferred_start_rows(row, key_of(row))
    if "experimenter" in frame.columns:
        for row in _with_rows(frame, pl.col("experimenter").fill_null("") != "", "experimenter"):
            rows["Experimenter"] += experimenter_rows(row, key_of(row))
    hints = _items(indexed, "task_hints").rows(named=True)
    if hints:  # a task ends where the next starts or the recordings end: only the probes' lengths are read
        lengths: dict[int, list[float]] = {}
        for i, seconds in zip(recordings["_session"].to_list(), recordings["file_time_secs"].to_list()):
            if seconds is not None:
                lengths.setdefault(i, []).append(seconds)
        for i, group in groupby(hints, key=itemgetter("_session")):
            session_hints = list(group)
            rows["Task"] += tasks_of(session_hints, lengths.get(i, []), key_of(session_hints[0]), ingest_id)
    return rows


def update_rows(frame: pl.DataFrame, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
                stored: set[tuple] | None = None, stored_outputs: set[tuple] | None = None) -> Rows:
    """The new parts (``new_parts``) of the known sessions of ``frame``.

    With ``stored`` (session keys and (key, recording) triples read inside the transaction) and ``stored_outputs``
    ((key, path) triples), a session no longer stored (undone since dedup) gets nothing and a part stored
    meanwhile is left out; without them (the schema check before the transaction) every new part is made.
    """
    rows = no_rows()
    if stored is not None:
        frame = frame.filter(pl.Series([k in stored for k in zip(frame["subject"].to_list(),
                                                                 frame["session_start"].to_list())], dtype=pl.Boolean))
    if frame.is_empty():
        return rows
    new_parts = [parts or [] for parts in frame["new_parts"].to_list()]
    wanted_probes = {(i, p.split(" ", 1)[1]) for i, parts in enumerate(new_parts) for p in parts
                     if p.startswith("probe ")}
    wanted_outputs = {(i, p.split(" ", 2)[2]) for i, parts in enumerate(new_parts) for p in parts
                      if p.startswith("output ")}
    indexed = frame.with_row_index("_session")
    recordings = _recordings(indexed)
    keep = [(i, n) in wanted_probes and (stored is None or (s, t, n) not in stored)
            for i, s, t, n in zip(*(recordings[c].to_list() for c in ("_session", "subject", "session_start",
                                                                       "recording")))]
    _add_recordings(rows, recordings.filter(pl.Series(keep, dtype=pl.Boolean)), ingest_id, probes, options,
                    added=True)
    outputs = _items(indexed, "outputs")
    keep = [(i, path) in wanted_outputs for i, path in zip(outputs["_session"].to_list(), outputs["path"].to_list())]
    _add_outputs(rows, outputs.filter(pl.Series(keep, dtype=pl.Boolean)), ingest_id)
    if stored_outputs is not None:
        for name in ("Output", "Clustering"):
            rows[name] = [r for r in rows[name]
                          if (r["subject"], r["session_start"], r["output_path"]) not in stored_outputs]
    return rows


def rows_of(rows: Rows, keys: set[tuple]) -> Rows:
    """The rows of the sessions ``keys`` ((subject, session_start) pairs) only."""
    return {name: [r for r in table_rows if (r["subject"], r["session_start"]) in keys]
            for name, table_rows in rows.items()}


def merge(into: Rows, rows: Rows) -> None:
    for name, table_rows in rows.items():
        into.setdefault(name, []).extend(table_rows)
