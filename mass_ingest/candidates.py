"""Candidate sessions found on a share, and their polars form between stages.

Discovery builds :class:`SessionCandidate` models (validated, one per session folder);
stages after it pass a polars frame with one row per candidate (:data:`CANDIDATE_SCHEMA`),
persisted as parquet.
"""

from __future__ import annotations

import hashlib
from itertools import accumulate, chain
from operator import attrgetter
from datetime import datetime
from enum import StrEnum

import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.findings import Finding


class Status(StrEnum):
    """Where a candidate stands (the frame's ``status`` column); it changes only along :data:`TRANSITIONS`.

    Dedup gives the first status; the quality stage judges what would go in; the decision
    settles the ready ones. A ``str``: polars expressions and JSON take the members as they are.
    """

    # set by dedup (mass_ingest/dedup.py)
    NEW = "new"                  # not in the pipeline: judged by the quality stage next
    EXCLUDED = "excluded"        # a profile rule excluded the folder
    DUPLICATE = "duplicate"      # already in the pipeline at this place (or elsewhere, not moved)
    COPY = "copy"                # another folder of the batch (or the stored place) holds the same session
    MOVED = "moved"              # in the pipeline, found at a new place
    UPDATE = "update"            # in the pipeline at this place, which now holds more
    # set by the quality stage (mass_ingest/expectations/verdicts.py)
    PENDING = "pending"          # still arriving; looked at again by the next run
    QUARANTINED = "quarantined"  # failed an expectation
    READY = "ready"              # passed: offered for insertion
    # set by the decision (tasks/approve.py)
    APPROVED = "approved"
    LEFT_OUT = "left_out"        # excluded by the approver
    REJECTED = "rejected"
    # set before the decision from the held-session records (mass_ingest/db/held.py mark_held)
    HELD = "held"                # kept out by a person (left out, rejected or undone) until released


# Which status may follow which; None: no status yet (dedup gives the first). A status may always stay.
TRANSITIONS: dict[Status | None, frozenset[Status]] = {
    None: frozenset({Status.NEW, Status.EXCLUDED, Status.DUPLICATE, Status.COPY, Status.MOVED, Status.UPDATE}),
    Status.NEW: frozenset({Status.PENDING, Status.QUARANTINED, Status.READY}),
    Status.MOVED: frozenset({Status.PENDING, Status.QUARANTINED, Status.HELD}),
    Status.UPDATE: frozenset({Status.PENDING, Status.QUARANTINED, Status.HELD}),
    Status.READY: frozenset({Status.APPROVED, Status.LEFT_OUT, Status.REJECTED, Status.HELD}),
}

# What an approval lets in: new sessions that passed, and known ones that moved or gained data.
OFFERED: tuple[Status, ...] = (Status.READY, Status.MOVED, Status.UPDATE)


def has_status(*statuses: Status) -> pl.Expr:
    """True for the rows whose ``status`` is one of ``statuses``."""
    return pl.col("status").is_in(list(statuses))


def change_status(frame: pl.DataFrame, status: pl.Expr) -> pl.DataFrame:
    """``frame`` with its ``status`` column set to ``status``, refusing a change :data:`TRANSITIONS` forbids.

    Every stage that sets a status goes through here, so an impossible change (a quarantined
    session becoming approved) is a bug that stops the run instead of a row that goes in.
    """
    before = frame["status"] if "status" in frame.columns else pl.Series("status", [None] * frame.height,
                                                                          dtype=pl.String)
    changed = frame.with_columns(status.alias("status"))
    pairs = pl.DataFrame({"before": before, "after": changed["status"]}).unique()
    forbidden = [(old, new) for old, new in pairs.iter_rows() if not _allowed(old, new)]
    if forbidden:
        raise ValueError("candidate status changes not allowed: "
                         + ", ".join(f"{old} -> {new}" for old, new in forbidden))
    return changed


def _allowed(old: str | None, new: str | None) -> bool:
    if new is None:
        return False
    if old == new:
        return True
    try:
        return Status(new) in TRANSITIONS.get(None if old is None else Status(old), frozenset())
    except ValueError:  # not a status at all
        return False


def status_counts(frame: pl.DataFrame) -> dict[Status, int]:
    """How many candidates have each status (every status, 0 when none)."""
    found = dict(frame.group_by("status").len().iter_rows())
    return {status: found.get(status.value, 0) for status in Status}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeRecording(_Strict):
    """One probe's recording in a session: an ``.ap.meta`` (and its ``.ap.bin``)."""

    folder: str = Field(description="Folder of the .ap.meta, relative to the session folder, e.g. 'probe_1'.")
    meta_file: str = Field(description="The .ap.meta file, relative to the session folder.")
    bin_file: str | None = Field(None, description="The .ap.bin it describes, relative to the session folder "
                                 "(same stem, or the only .ap.bin beside the only .ap.meta); None when missing.")
    serial: str | None = Field(None, description="Probe serial from the .meta (imDatPrb_sn / imProbeSN).")
    probe_type: str | None = Field(None, description="The lab's probe label, e.g. 'neuropixels 1.0 - 3B'.")
    part_number: str | None = None
    n_saved_chans: int | None = None
    sample_rate: float | None = None
    file_size_bytes: int | None = Field(None, description="Size the .bin should have, from fileSizeBytes.")
    file_time_secs: float | None = None
    file_create_time: datetime | None = None
    bin_size: int | None = Field(None, description="Size of the .ap.bin on disk; None when it is missing.")
    bin_mtime: float | None = Field(None, description="When the .ap.bin was last modified, in seconds since the "
                                    "epoch (the file server's clock); None when it is missing.")
    has_lf: bool = False


class TaskHint(_Strict):
    """A task named in ``sessions.txt``: inferred, to be confirmed by a person."""

    order: int
    name: str
    start_s: float
    kind: str = ""


class Recording(_Strict):
    """A recording of a system other than SpikeGLX probes (those are :class:`ProbeRecording`)."""

    system: str = Field(description="Recording system, e.g. 'axona', 'scanimage', 'tracking'.")
    name: str = Field(description="Name of the recording: a .set stem, a ScanImage basename, 'motive', ...")
    folder: str = Field("", description="Folder of its files, relative to the session folder ('' for the session).")
    files: list[str] = Field(default_factory=list,
                             description="Files that identify it, relative to the session folder (for long "
                             "stacks: the first file of each part, not every file).")
    n_files: int = Field(0, description="How many files belong to it in all.")
    details: str = Field("{}", description="What its files tell, as a JSON object (keys per system, e.g. "
                         "ScanImage: n_frames, frame_width, frame_height, started; video: duration_s, n_frames; "
                         "Motive: frame_rate); '{}' when nothing was read. Text, so the frame schema stays fixed.")


class Output(_Strict):
    """A processing output found beside the raw data: spike sorting, suite2p, DeepLabCut."""

    kind: str = Field(description="'kilosort', 'curation', 'suite2p', 'suite2p_split' (a split run where a "
                      "combined one exists), 'dlc' or 'preprocessed'.")
    path: str = Field(description="Its folder, relative to the session folder.")
    recording: str = Field("", description="The probe folder or recording it belongs to, when known.")
    files: list[str] = Field(default_factory=list, description="Its key files, relative to its folder.")
    complete: bool = Field(True, description="Whether every file the kind needs is there.")
    preferred: bool = Field(False, description="The output of its kind to use for its recording (suite2p: "
                            "the combined run where one exists); a person may still choose another.")


class SessionCandidate(_Strict):
    """A session folder found on a share, with everything discovery read about it."""

    share: str
    rel_path: str = Field(description="Session folder relative to the share root, POSIX separators.")
    location: str = Field(description="Canonical location: share root + rel_path, lower-cased, no trailing '/'.")
    subject: str
    session_start: datetime | None = Field(None, description="Naive local time in the profile's time zone.")
    start_inferred: bool = Field(False, description="True when the folder name gives no time of day and the start "
                                 "was read from the earliest acquisition file (ScanImage header time, else the "
                                 "file's modification time); a person confirms it.")
    start_source: str = Field("", description="With start_inferred: what the start was read from, e.g. 'the "
                              "ScanImage header of openfield_00001_00001.tif'; '' otherwise.")
    modality: str = "ephys"
    layout: str = ""
    probes: list[ProbeRecording] = Field(default_factory=list)
    bins_without_meta: list[str] = Field(default_factory=list)
    task_hints: list[TaskHint] = Field(default_factory=list)
    recordings: list[Recording] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list, description="Recording systems recognised in the folder.")
    projects: list[str] = Field(default_factory=list)
    experimenter: str | None = Field(None, description="Who recorded the session, as a lab's input file names "
                                     "them (mass-ingest import); None when discovered, as no file tells.")
    group: str = Field("", description="With a layout's combined: false, the recording this session is "
                       "(one session per ScanImage basename or Femtonics unit); '' for a whole folder.")
    excluded_by: str | None = Field(None, description="The profile rule that excluded this folder, if any.")
    findings: list[Finding] = Field(default_factory=list)

    @property
    def session_id(self) -> str:
        """Readable id used in reports and approval exclusions: '<subject>/<YYYY-MM-DD_HH-MM-SS>'."""
        return session_id(self.subject, self.session_start, self.group)

    @property
    def candidate_id(self) -> str:
        """Stable id of this folder: a short hash of its canonical location."""
        return candidate_id(self.location + (f"#{self.group}" if self.group else ""))


def session_id(subject: str, start: datetime | None, group: str = "") -> str:
    """'<subject>/<YYYY-MM-DD_HH-MM-SS>[/<group>]', as reports, exclusions and follow-up lists name a session."""
    if not start:
        when = "unknown-time"
    elif type(start) is datetime and start.year >= 1000:
        # As strftime spells it, at a fraction of its cost (several us a call; twice per session discovered).
        when = f"{start.year}-{start.month:02}-{start.day:02}_{start.hour:02}-{start.minute:02}-{start.second:02}"
    else:  # strftime's %Y does not pad a year before 1000
        when = start.strftime("%Y-%m-%d_%H-%M-%S")
    return f"{subject}/{when}" + (f"/{group}" if group else "")


def candidate_id(location: str) -> str:
    return hashlib.sha1(location.encode()).hexdigest()[:16]


_FINDING = pl.Struct({"code": pl.String, "severity": pl.String, "stage": pl.String, "share": pl.String,
                      "path": pl.String, "message": pl.String, "expected": pl.String,
                      "found": pl.String})
_PROBE = pl.Struct({"folder": pl.String, "meta_file": pl.String, "bin_file": pl.String, "serial": pl.String,
                    "probe_type": pl.String, "part_number": pl.String, "n_saved_chans": pl.Int64,
                    "sample_rate": pl.Float64, "file_size_bytes": pl.Int64, "file_time_secs": pl.Float64,
                    "file_create_time": pl.Datetime("us"), "bin_size": pl.Int64, "bin_mtime": pl.Float64,
                    "has_lf": pl.Boolean})
_TASK = pl.Struct({"order": pl.Int64, "name": pl.String, "start_s": pl.Float64, "kind": pl.String})
_RECORDING = pl.Struct({"system": pl.String, "name": pl.String, "folder": pl.String, "files": pl.List(pl.String),
                        "n_files": pl.Int64, "details": pl.String})
_OUTPUT = pl.Struct({"kind": pl.String, "path": pl.String, "recording": pl.String, "files": pl.List(pl.String),
                     "complete": pl.Boolean, "preferred": pl.Boolean})

CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    "candidate_id": pl.String,
    "session_id": pl.String,
    "share": pl.String,
    "rel_path": pl.String,
    "location": pl.String,
    "subject": pl.String,
    "session_start": pl.Datetime("us"),
    "start_inferred": pl.Boolean,
    "start_source": pl.String,
    "modality": pl.String,
    "layout": pl.String,
    "probes": pl.List(_PROBE),
    "bins_without_meta": pl.List(pl.String),
    "task_hints": pl.List(_TASK),
    "recordings": pl.List(_RECORDING),
    "outputs": pl.List(_OUTPUT),
    "systems": pl.List(pl.String),
    "projects": pl.List(pl.String),
    "experimenter": pl.String,
    "group": pl.String,
    "excluded_by": pl.String,
    "findings": pl.List(_FINDING),
}

_ARROW_SCHEMA = pl.DataFrame(schema=CANDIDATE_SCHEMA).to_arrow().schema


def candidates_to_table(candidates: list[SessionCandidate]) -> pa.Table:
    """One row per candidate, as arrow with the fixed :data:`CANDIDATE_SCHEMA` (also when empty).

    Built column by column straight from the models' attributes: no dict per model (model_dump)
    and no row-wise conversion, which together cost about three times as much, to the same table.
    The leaves are converted by polars: ``pa.array`` on a Python list imports pandas (~0.4 s per
    process) to ask whether the list is a pandas object.
    """
    return pa.Table.from_arrays(_columns(candidates, CANDIDATE_SCHEMA), schema=_ARROW_SCHEMA)


def _columns(models: list, fields: dict[str, pl.DataType]) -> list[pa.Array]:
    """One arrow array per field of ``models``: every attribute of every model read by one
    ``attrgetter`` per model and the rows turned into columns by ``zip``, both in C (a Python ``getattr`` per
    attribute per model was ~1 million calls per 10,000 sessions)."""
    # attrgetter of several names gives a tuple per model (every struct and the frame have several fields).
    columns = list(zip(*map(attrgetter(*fields), models))) if models else [()] * len(fields)
    # A Finding's severity is stored by name, as its serializer writes it.
    return [_arrow_column([s.name for s in values] if name == "severity" else values, kind)
            for values, (name, kind) in zip(columns, fields.items())]


def _arrow_column(values, kind: pl.DataType) -> pa.Array:
    """``values`` (models for a struct, lists for a list, else plain values) as one arrow array of ``kind``."""
    if isinstance(kind, pl.Struct):
        return pa.StructArray.from_arrays(_columns(values, {f.name: f.dtype for f in kind.fields}),
                                          names=[f.name for f in kind.fields])
    if isinstance(kind, pl.List):
        offsets = list(accumulate(map(len, values), initial=0))
        return pa.LargeListArray.from_arrays(pl.Series(offsets, dtype=pl.Int64).to_arrow(),
                                             _arrow_column(list(chain.from_iterable(values)), kind.inner))
    return pl.Series(list(values), dtype=kind).to_arrow()


def candidates_to_frame(candidates: list[SessionCandidate]) -> pl.DataFrame:
    """One row per candidate, with the fixed :data:`CANDIDATE_SCHEMA` (also when empty)."""
    return pl.from_arrow(candidates_to_table(candidates))


def frame_findings(frame: pl.DataFrame, code_prefix: str) -> list[Finding]:
    """The findings of every candidate whose code starts with ``code_prefix`` (e.g. 'IMPORT.'), in row order;
    only those become models."""
    wanted = pl.element().struct.field("code").str.starts_with(code_prefix)
    found = frame.select(pl.col("findings").list.filter(wanted)).explode("findings").drop_nulls()["findings"]
    return [Finding.model_validate(f) for f in found.to_list()]


def frame_to_candidates(frame: pl.DataFrame) -> list[SessionCandidate]:
    """Back from the frame to validated models (extra stage columns are dropped)."""
    fields = set(SessionCandidate.model_fields)
    return [SessionCandidate.model_validate({k: v for k, v in row.items() if k in fields})
            for row in frame.iter_rows(named=True)]
