"""What waits for a person now, per profile and share: `mass-ingest status`.

A session folder's state *now* is what the latest ingest that recorded it said: quarantined
(:class:`~mass_ingest.db.schema.Quarantine`) or pending (:class:`~mass_ingest.db.schema.Pending`),
unless an ingest that started later inserted it or added to it (then it is in the pipeline), or a
person holds it since (then it is held). Held folders are the holds not released
(:func:`~mass_ingest.db.held.held_frame`); waiting ingests are the paused ones nobody decided yet.

Every table is read once (restricted to the profile's ingests, or to the folders in question, in
batches of keys), and joined here: no antijoin, nothing per folder.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from mass_ingest.db import schema
from mass_ingest.db.decisions import waiting_ingests
from mass_ingest.db.held import held_frame
from mass_ingest.findings import CATALOGUE

KEYS_PER_QUERY = 100  # keys per restriction: each query is a bounded OR of keys (as undo's)
EXAMPLES = 3
NO_CODE = ""  # a reason no finding code names (stored before codes were kept, or a shortened value)


class FolderState(BaseModel):
    """A session folder quarantined or pending now: the ingest that said so, when it started, and why."""

    model_config = ConfigDict(extra="forbid")

    share: str
    session_id: str
    rel_path: str
    candidate_id: str
    ingest_id: str
    since: datetime
    codes: list[str]
    reasons: list[str]


class ReasonGroup(BaseModel):
    """The folders of one share quarantined for one finding code, with a few examples and their reason."""

    model_config = ConfigDict(extra="forbid")

    share: str
    code: str
    title: str
    sessions: int
    examples: list[dict[str, str]]


class HeldFolder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: str
    session_id: str
    rel_path: str
    candidate_id: str
    ingest_id: str
    reason: str
    held_by: str
    held_at: datetime
    note: str


class WaitingIngest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest_id: str
    flow_run_id: str
    flow_run_name: str
    paused_at: datetime
    timeout_at: datetime | None


class ProfileStatus(BaseModel):
    """What waits for a person in one profile's ingests now."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    latest_ingest: dict[str, Any] | None
    waiting: list[WaitingIngest]
    pending: list[FolderState]
    quarantined: list[FolderState]
    reasons: list[ReasonGroup]
    held: list[HeldFolder]

    @property
    def shares(self) -> list[str]:
        return sorted({f.share for f in [*self.pending, *self.quarantined, *self.held]})


def json_value(value: Any) -> Any:
    # JSON columns come back parsed on PostgreSQL and as text on some MySQL drivers.
    return json.loads(value) if isinstance(value, str | bytes) else value


def _batches(keys: list[dict]) -> list[list[dict]]:
    return [keys[i:i + KEYS_PER_QUERY] for i in range(0, len(keys), KEYS_PER_QUERY)]


def rows_matching(table, keys: list[dict]) -> list[dict]:
    """The rows of ``table`` matching any of ``keys`` (none for no keys), in batches."""
    return [row for batch in _batches(keys) for row in (table & batch).to_dicts()]


def ingest_runs() -> dict[str, dict]:
    """Ingest id -> its ledger row (profile_name, status, started_at, finished_at, approver), one query."""
    schema.activate()
    return {r["ingest_id"]: r for r in schema.IngestRun.proj("profile_name", "status", "started_at", "finished_at",
                                                              "approver").to_dicts()}


def known_profiles() -> list[str]:
    """The names of the profiles that have ingests in the database."""
    return sorted({r["profile_name"] for r in ingest_runs().values()})


def quarantine_codes(keys: list[dict]) -> dict[tuple[str, str], list[str]]:
    """(ingest id, folder) -> the finding codes of its quarantine reasons, for the rows ``keys`` name."""
    return {(r["ingest_id"], r["candidate_id"]): json_value(r["codes"])
            for r in rows_matching(schema.Quarantine.Codes, keys)}


def recorded_states(ingest_ids: list[str]) -> pl.DataFrame:
    """Every quarantine and pending row of these ingests: state, folder, ingest, codes, reasons."""
    keys = [{"ingest_id": i} for i in ingest_ids]
    codes = quarantine_codes(keys)
    rows = []
    for state, table in (("quarantined", schema.Quarantine), ("pending", schema.Pending)):
        for r in rows_matching(table, keys):
            reasons = list(json_value(r["reasons"]) or [])
            rows.append({"state": state, "share": r["share"], "session_id": r["session_id"], "rel_path": r["rel_path"],
                         "candidate_id": r["candidate_id"], "ingest_id": r["ingest_id"], "reasons": reasons,
                         "codes": codes.get((r["ingest_id"], r["candidate_id"])) or [NO_CODE] * len(reasons)})
    return pl.DataFrame(rows, schema={"state": pl.String, "share": pl.String, "session_id": pl.String,
                                      "rel_path": pl.String, "candidate_id": pl.String, "ingest_id": pl.String,
                                      "reasons": pl.List(pl.String), "codes": pl.List(pl.String)})


def stored_since(candidate_ids: list[str], runs: dict[str, dict]) -> dict[str, datetime]:
    """Folder -> when the latest ingest that inserted its session, or added recordings or outputs to it,
    started (for the folders in the pipeline now)."""
    schema.activate()
    directories = rows_matching(schema.Session.Directory.proj("location_hash"),
                        [{"location_hash": c} for c in candidate_ids])
    folder_of = {(d["subject"], d["session_start"]): d["location_hash"] for d in directories}
    keys = [{"subject": s, "session_start": t} for s, t in folder_of]
    latest: dict[str, datetime] = {}
    for table in (schema.Session, schema.Session.AddedRecording, schema.Session.Output,
                  schema.Session.SystemRecording):
        for r in rows_matching(table.proj("ingest_id"), keys):
            started = runs.get(r["ingest_id"], {}).get("started_at")
            folder = folder_of[(r["subject"], r["session_start"])]
            if started is not None and (folder not in latest or started > latest[folder]):
                latest[folder] = started
    return latest


def current_states(runs: dict[str, dict], ingest_ids: list[str], held: pl.DataFrame) -> pl.DataFrame:
    """The folders quarantined or pending now (see the module's docstring), with ``since``: when the
    ingest that said so started."""
    started = pl.DataFrame({"ingest_id": list(runs), "since": [r["started_at"] for r in runs.values()]},
                           schema={"ingest_id": pl.String, "since": pl.Datetime("us")})
    records = recorded_states(ingest_ids).join(started, on="ingest_id", how="left")
    latest = records.sort(["since", "state"], descending=True).unique("candidate_id", keep="first",
                                                                      maintain_order=True)
    stored = stored_since(latest["candidate_id"].to_list(), runs)
    held_since = dict(held.select("candidate_id", "held_at").iter_rows())

    def now(row: dict) -> bool:
        # A later ingest inserted it or added to it, or a person held it since: no longer quarantined or pending.
        later = (stored.get(row["candidate_id"]), held_since.get(row["candidate_id"]))
        return not any(t is not None and t > row["since"] for t in later)

    keep = [now(row) for row in latest.select("candidate_id", "since").iter_rows(named=True)]
    return latest.filter(pl.Series(keep, dtype=pl.Boolean)).sort(["share", "session_id"])


def reason_groups(quarantined: pl.DataFrame, examples: int = EXAMPLES) -> list[ReasonGroup]:
    """Quarantined folders per share and finding code, most first; a folder with two codes is under both."""
    if quarantined.is_empty():
        return []
    per_reason = (quarantined.select("share", "session_id", "codes", "reasons").explode("codes", "reasons")
                  .rename({"codes": "code", "reasons": "reason"}).sort("session_id"))
    grouped = (per_reason.group_by("share", "code", maintain_order=True)
               .agg(pl.col("session_id").n_unique().alias("sessions"),
                    pl.struct("session_id", "reason").head(examples).alias("examples"))
               .sort(["share", "sessions", "code"], descending=[False, True, False]))
    return [ReasonGroup(share=g["share"], code=g["code"], title=reason_title(g["code"]), sessions=g["sessions"],
                        examples=g["examples"]) for g in grouped.iter_rows(named=True)]


def reason_title(code: str) -> str:
    """What a finding code means (its CATALOGUE text)."""
    if code in CATALOGUE:
        return CATALOGUE[code][1]
    return "a reason without a finding code (quarantined before codes were stored, or a value shortened to fit)"


def _folder_states(frame: pl.DataFrame) -> list[FolderState]:
    return [FolderState(**{k: v for k, v in r.items() if k != "state"}) for r in frame.iter_rows(named=True)]


def profile_status(profile: str, runs: dict[str, dict], held: pl.DataFrame,
                   waiting: dict) -> ProfileStatus:
    """What waits for a person in ``profile``'s ingests now."""
    ingest_ids = [i for i, r in runs.items() if r["profile_name"] == profile]
    held = held.filter(pl.col("ingest_id").is_in(ingest_ids))
    states = current_states(runs, ingest_ids, held)
    quarantined = states.filter(pl.col("state") == "quarantined")
    latest = max((runs[i] for i in ingest_ids), key=lambda r: r["started_at"], default=None)
    return ProfileStatus(
        profile=profile,
        latest_ingest=({k: latest[k] for k in ("ingest_id", "status", "started_at", "finished_at", "approver")}
                       if latest else None),
        waiting=[WaitingIngest(**claim.model_dump(exclude={"alive_at"})) for i, claim in waiting.items()
                 if i in ingest_ids],
        pending=_folder_states(states.filter(pl.col("state") == "pending")),
        quarantined=_folder_states(quarantined),
        reasons=reason_groups(quarantined),
        held=[HeldFolder(**{k: v for k, v in r.items() if k != "location"})
              for r in held.sort(["share", "session_id"]).iter_rows(named=True)])


def status_report(profiles: list[str] | None = None) -> list[ProfileStatus]:
    """:func:`profile_status` of each of ``profiles`` (default: every profile with ingests), by name."""
    runs = ingest_runs()
    held, waiting = held_frame(), waiting_ingests()
    names = profiles if profiles is not None else sorted({r["profile_name"] for r in runs.values()})
    return [profile_status(name, runs, held, waiting) for name in names]
