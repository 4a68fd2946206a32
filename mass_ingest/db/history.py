"""What every ingest did with one session folder, in time order: `mass-ingest history SESSION`.

Read from what is stored per folder: quarantine and pending rows (per ingest, with reasons and
codes), the sessions in the pipeline (the ingest that inserted each, the ingests that added late data
to it, moves), held sessions and their releases, the decision log and undos. Ingests that found a
folder and did nothing with it (a duplicate, a copy, excluded by a profile rule, or offered at a pause
that timed out or was refused) keep only counts, not the folder: the history says so.
"""

from __future__ import annotations

import functools
from datetime import datetime

import polars as pl
from pydantic import BaseModel, ConfigDict

from mass_ingest.candidates import session_id
from mass_ingest.db import schema
from mass_ingest.db.decisions import Decision, stored_decision
from mass_ingest.db.held import REASONS
from mass_ingest.db.status import ingest_runs, json_value, quarantine_codes, rows_matching
from mass_ingest.session_patterns import COLUMNS, PatternError, match_patterns, refusal_message, unmatched_patterns

NOT_RECORDED = ("not recorded per folder: ingests that found it as a duplicate or a copy, excluded it by a profile "
                "rule, or offered it at a pause that timed out (they keep counts only)")
# Order of events at the same second: what an ingest found, then its decision's effects, then later acts.
_ORDER = {"pending": 0, "quarantined": 0, "inserted": 1, "added": 2, "moved": 2, "left out": 3, "rejected": 3,
          "undone": 4, "released": 5}


class Event(BaseModel):
    """One thing an ingest or a person did with the folder."""

    model_config = ConfigDict(extra="forbid")

    when: datetime
    what: str = "quarantined"
    ingest_id: str = ""
    profile: str = ""
    by: str = ""
    note: str = ""
    detail: str = ""
    codes: list[str] = []


class FolderHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: str
    session_id: str
    share: str
    rel_path: str
    location: str
    events: list[Event]


def _directory_rows(rows: list[dict], hash_key: str) -> list[dict]:
    return [{"candidate_id": r[hash_key], "session_id": session_id(r["subject"], r["session_start"],
                                                                   r["session_group"]),
             "share": r["share"], "rel_path": r["rel_path"], "location": r["location"]} for r in rows]


def folder_index() -> pl.DataFrame:
    """Every folder the database has a record of (:data:`~mass_ingest.session_patterns.COLUMNS`): in the
    pipeline now or before a move, quarantined, pending or held. One read per table."""
    schema.activate()
    rows = _directory_rows(schema.Session.Directory.to_dicts(), "location_hash")
    rows += _directory_rows(schema.Session.PreviousLocation.to_dicts(), "previous_hash")
    rows += schema.HeldSession.proj(*COLUMNS[1:]).to_dicts()
    for table in (schema.Quarantine, schema.Pending):
        rows += [{**r, "location": ""} for r in table.proj("session_id", "share", "rel_path").to_dicts()]
    frame = pl.DataFrame([{c: r[c] for c in COLUMNS} for r in rows], schema={c: pl.String for c in COLUMNS})
    # One row per folder, with its whole location where any table has it.
    return frame.sort("location", descending=True).unique("candidate_id", keep="first", maintain_order=True)


def find_folders(patterns: list[str]) -> pl.DataFrame:
    """The folders ``patterns`` name (session ids, globs, share:path or whole paths); refuse a pattern naming none."""
    index = folder_index()
    unmatched = unmatched_patterns(index, patterns)
    if unmatched:
        raise PatternError(refusal_message(unmatched, "session folder the database has a record of")
                           + "; `mass-ingest status` lists quarantined and held ones, `mass-ingest sessions` "
                           "the ones in the pipeline")
    return index.filter(match_patterns(index, patterns)).sort("session_id", "share", "rel_path")


def _ingest_events(keys: list[dict], runs: dict[str, dict]) -> list[tuple[str, Event]]:
    """Quarantined and pending, per ingest that recorded it, when that ingest started."""
    events = []
    codes = quarantine_codes(keys)
    for what, table in (("quarantined", schema.Quarantine), ("pending", schema.Pending)):
        for r in rows_matching(table, keys):
            run = runs.get(r["ingest_id"], {})
            reasons = list(json_value(r["reasons"]) or [])
            events.append((r["candidate_id"], Event(
                when=run.get("started_at"), what=what, ingest_id=r["ingest_id"], profile=run.get("profile_name", ""),
                detail="; ".join(reasons), codes=[c for c in codes.get((r["ingest_id"], r["candidate_id"]), []) if c])))
    return events


@functools.lru_cache(maxsize=256)
def _decision(ingest_id: str) -> Decision | None:
    return stored_decision(ingest_id)


def _inserted(ingest_id: str, runs: dict[str, dict], as_id: str) -> Event:
    """The insertion of the folder's session by ``ingest_id``, when it was approved and by whom."""
    decision = _decision(ingest_id)
    run = runs.get(ingest_id, {})
    when = (decision.decided_at if decision and decision.decided_at else None) or run.get("started_at")
    detail = f"inserted as {as_id}" + (f"; {decision.describe()}" if decision else "; no decision stored")
    return Event(when=when, what="inserted", ingest_id=ingest_id, profile=run.get("profile_name", ""),
                 by=decision.approver if decision else "", note=decision.note if decision else "", detail=detail)


_PART_LABELS = ((schema.Session.AddedRecording, lambda r: f"recording {r['recording']}"),
                (schema.Session.Output, lambda r: f"{r['kind']} output {r['output_path']}"),
                (schema.Session.SystemRecording, lambda r: f"{r['system']} recording {r['recording']}"))


def _session_events(candidates: list[str], runs: dict[str, dict]) -> list[tuple[str, Event]]:
    """Inserted, late data added, moved: from the sessions in the pipeline whose folder (now or before) it is."""
    here = {(r["subject"], r["session_start"]): r
            for r in rows_matching(schema.Session.Directory, [{"location_hash": c} for c in candidates])}
    before = rows_matching(schema.Session.PreviousLocation, [{"previous_hash": c} for c in candidates])
    sessions = [{"subject": s, "session_start": t} for s, t in {*here, *((r["subject"], r["session_start"])
                                                                      for r in before)}]
    events = []
    inserted_by = {(r["subject"], r["session_start"]): r["ingest_id"] for r in rows_matching(schema.Session, sessions)}
    late: dict[tuple, dict[str, list[str]]] = {}  # session -> later ingest -> what it added
    for table, label in _PART_LABELS:
        for r in rows_matching(table, sessions):
            key = (r["subject"], r["session_start"])
            if r["ingest_id"] != inserted_by.get(key):
                late.setdefault(key, {}).setdefault(r["ingest_id"], []).append(label(r))
    for key, d in here.items():
        events.append((d["location_hash"], _inserted(inserted_by[key], runs, session_id(*key, d["session_group"]))))
        for ingest_id, parts in late.get(key, {}).items():
            run = runs.get(ingest_id, {})
            events.append((d["location_hash"], Event(
                when=run.get("finished_at") or run.get("started_at"), what="added", ingest_id=ingest_id,
                profile=run.get("profile_name", ""), detail="late data added: " + ", ".join(parts))))
    for r in rows_matching(schema.Session.PreviousLocation, sessions):
        run = runs.get(r["ingest_id"], {})
        now = here.get((r["subject"], r["session_start"]))
        moved = dict(when=r["moved_at"], what="moved", ingest_id=r["ingest_id"], profile=run.get("profile_name", ""))
        events.append((r["previous_hash"], Event(**moved, detail="the session moved away from this folder"
                                                 + (f", to {now['share']}:{now['rel_path']}" if now else ""))))
        if now:
            events.append((now["location_hash"], Event(**moved, detail=f"the session moved here from "
                                                       f"{r['share']}:{r['rel_path']}")))
    return events


def _held_events(keys: list[dict], runs: dict[str, dict], already: set[tuple[str, str]]) -> list[tuple[str, Event]]:
    """Held (left out, rejected, undone) and released; an undone ingest's insertion, which the undo deleted."""
    events = []
    for r in rows_matching(schema.HeldSession, keys):
        run = runs.get(r["ingest_id"], {})
        what = REASONS.get(r["reason"], r["reason"])
        if r["reason"] == "undone" and (r["candidate_id"], r["ingest_id"]) not in already:
            events.append((r["candidate_id"], _inserted(r["ingest_id"], runs, r["session_id"])))
        detail = {"left_out": "left out at approval; held until released",
                  "rejected": "the ingest was rejected; held until released",
                  "undone": "the ingest was undone (its rows deleted); held until released"}.get(r["reason"], "held")
        events.append((r["candidate_id"], Event(when=r["held_at"], what=what, ingest_id=r["ingest_id"],
                                                profile=run.get("profile_name", ""), by=r["held_by"], note=r["note"],
                                                detail=detail)))
    for r in rows_matching(schema.HeldSession.Release, keys):
        run = runs.get(r["ingest_id"], {})
        events.append((r["candidate_id"], Event(when=r["released_at"], what="released", ingest_id=r["ingest_id"],
                                                profile=run.get("profile_name", ""), by=r["released_by"],
                                                note=r["note"], detail="released: the next run offers it again")))
    return events


def folder_history(patterns: list[str]) -> list[FolderHistory]:
    """The history of each folder ``patterns`` name, its events oldest first."""
    folders = find_folders(patterns)
    runs = ingest_runs()
    _decision.cache_clear()  # decisions of this call only: another process may decide meanwhile
    candidates = folders["candidate_id"].to_list()
    keys = [{"candidate_id": c} for c in candidates]
    events = _ingest_events(keys, runs)
    session_events = [(c, e) for c, e in _session_events(candidates, runs) if c in set(candidates)]
    inserted = {(c, e.ingest_id) for c, e in session_events if e.what == "inserted"}
    events += session_events + _held_events(keys, runs, inserted)
    per_folder: dict[str, list[Event]] = {}
    for candidate, event in events:
        per_folder.setdefault(candidate, []).append(event)
    return [FolderHistory(**row, events=sorted(per_folder.get(row["candidate_id"], []),
                                               key=lambda e: (e.when, _ORDER.get(e.what, 9))))
            for row in folders.iter_rows(named=True)]
