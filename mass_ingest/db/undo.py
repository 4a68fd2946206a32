"""Undoing an ingest: delete what it inserted, while nothing downstream depends on it yet.

What an ingest inserted: its sessions with all their parts; recordings and outputs it added to
known sessions (late data); moves it recorded (the old place is put back); subjects it created
(imaging subjects unknown before the ingest), once their sessions are gone. Refused, with the
reason and the fix, when rows outside this tool's tables reference any of it, when a person has
worked on it (confirmed tasks, curated clusterings), when a later ingest built on it, or while
the ingest is still running. Everything happens in one transaction, and the ledger keeps the
undo (IngestRun.Undo, status ``undone``).
"""

from __future__ import annotations

from datetime import datetime

import datajoint as dj
from pydantic import BaseModel, ConfigDict

from mass_ingest.candidates import candidate_id, session_id
from mass_ingest.db import schema
from mass_ingest.db.antijoin import without
from mass_ingest.db.held import hold_sessions
from mass_ingest.errors import MassIngestError


KEYS_PER_STATEMENT = 100  # recordings deleted per statement (see _targets)


class UndoRefused(MassIngestError):
    """An ingest cannot be undone: something depends on it, or it is not finished."""


class UndoPlan(BaseModel):
    """What undoing an ingest would delete (rows per table) and restore, or why it may not."""

    model_config = ConfigDict(extra="forbid")

    ingest_id: str
    status: str
    deleted: dict[str, int]
    restored_locations: int
    blockers: list[str]


def _name(full_table_name: str) -> tuple[str, str]:
    database, _, table = full_table_name.replace('"', "").replace("`", "").partition(".")
    return database, table


def _targets(ingest_id: str) -> list[tuple[dj.Table, str]]:
    """Expressions to delete (with their part integrity): own sessions, and parts added to others.

    Parts added to other sessions are named by their keys, fetched first: a restriction by a
    subquery on AddedRecording would see it emptied by the cascade (leaves are deleted first) before
    the recordings themselves, and DataJoint's cascade re-reads a NOT EXISTS restriction as
    attribute names on MySQL. In batches, so that no statement grows with the ingest (each is a
    bounded OR of keys).
    """
    run = {"ingest_id": ingest_id}
    own = (schema.Session & run).proj()
    targets = [(schema.Session & run, "enforce")]
    for table, keys in ((schema.Session.Recording, (schema.Session.AddedRecording & run).proj()),
                        (schema.Session.Output, without(schema.Session.Output & run, own).proj()),
                        (schema.Session.SystemRecording, without(schema.Session.SystemRecording & run, own).proj())):
        found = keys.to_dicts()
        targets += [(table & found[i:i + KEYS_PER_STATEMENT], "ignore")
                    for i in range(0, len(found), KEYS_PER_STATEMENT)]
    return [*targets, (schema.Session.PreviousLocation & run, "ignore")]


def _created_subjects(ingest_id: str) -> list[dict]:
    """Keys of the subjects this ingest created; deleted after its sessions (nothing else may use them)."""
    return (schema.CreatedSubject & {"ingest_id": ingest_id}).proj().to_dicts()


def _subject_blockers(ingest_id: str, created: list[dict]) -> list[str]:
    """Why a subject this ingest created cannot go with it: other sessions, implants, a person's work."""
    if not created:
        return []
    found = []
    others = sorted({r["subject"] for r in (schema.Session & created).proj("ingest_id").to_dicts()
                     if r["ingest_id"] != ingest_id})
    if others:
        found.append(f"subject(s) {', '.join(others)}, which this ingest created, have sessions of other ingests; "
                     "undo those first")
    implanted = sorted({r["subject"] for r in (schema.ProbeInsertion & created).proj().to_dicts()})
    if implanted:
        found.append(f"subject(s) {', '.join(implanted)}, which this ingest created, have probe implants since; "
                     "delete those first (or keep the ingest)")
    return found


def _followup_done(ingest_id: str) -> int:
    """Follow-up items a person completed on this ingest's sessions or the subjects it created.

    The done list is small (people enter it), so it is read whole and matched here, rather than
    restricting it by every session key of a large ingest."""
    own = {(r["subject"], r["session_start"]) for r in (schema.Session & {"ingest_id": ingest_id}).proj()
           .to_dicts()}
    created = {r["subject"] for r in _created_subjects(ingest_id)}
    return sum(1 for r in schema.FollowUpDone.proj("session_start").to_dicts()
               if (r["subject"], r["session_start"]) in own or (r["session_start"] is None
                                                                and r["subject"] in created))


def _later_ingests(ingest_id: str) -> set[str]:
    """Other ingests that added to, or moved, sessions this one inserted (any) or changed (later ones)."""
    run = {"ingest_id": ingest_id}
    added = (schema.Session.AddedRecording, schema.Session.Output, schema.Session.SystemRecording,
             schema.Session.PreviousLocation)
    # Semi-joins on subqueries, not lists of keys: an ingest of 100,000 sessions would make each
    # query a 100,000-term OR.
    own = (schema.Session & run).proj()
    changed = [(schema.Session & (t & run).proj()).proj() for t in added]
    others = [t & dj.Not(run) for t in added]
    on_own = {r["ingest_id"] for t in others for r in (t & own).proj("ingest_id").to_dicts()}
    on_changed = {r["ingest_id"] for t in others for c in changed for r in (t & c).proj("ingest_id").to_dicts()}
    if not on_changed:
        return on_own
    started = {r["ingest_id"]: r["started_at"] for r in schema.IngestRun.proj("started_at").to_dicts()}
    return on_own | {i for i in on_changed if started[i] > started[ingest_id]}


def _blockers(ingest_id: str, status: str, deleted: dict[str, int]) -> list[str]:
    run = {"ingest_id": ingest_id}
    found = []
    if status == "undone":
        found.append(f"ingest {ingest_id} was undone already")
    elif status in ("open", "approved"):
        found.append(f"ingest {ingest_id} is not finished (status {status}); run its profile again to finish it, "
                     "then undo it")
    ours = {s.database for s in (schema.reference, schema.ingest, schema.acquisition)}
    for table, n in sorted(deleted.items()):
        database, name = _name(table)
        if n and database not in ours:
            found.append(f"{n} rows of {database}.{name} reference what this ingest inserted; the pipeline uses "
                         "them, so delete those first (or keep the ingest)")
    later = _later_ingests(ingest_id)
    if later:
        found.append(f"later ingest(s) {', '.join(sorted(later))} added to or moved sessions of this one; undo "
                     "them first")
    found += _subject_blockers(ingest_id, _created_subjects(ingest_id))
    done = _followup_done(ingest_id)
    if done:
        found.append(f"a person completed {done} follow-up item(s) of it (mass-ingest todo); undoing would delete "
                     "their work")
    confirmed = len(schema.Session.Task & run & {"confirmed": True})
    if confirmed:
        found.append(f"a person confirmed {confirmed} of its tasks; undoing would delete their work")
    clusterings = schema.Session.Clustering & (schema.Session.Output & run).proj()
    curated = len(clusterings & dj.Not({"curator": None}))
    if curated:
        found.append(f"a person entered the curator of {curated} of its clusterings; undoing would delete their "
                     "work")
    return found


def plan_undo(ingest_id: str) -> UndoPlan:
    """What ``undo_ingest`` would do; reads only."""
    schema.activate()
    runs = (schema.IngestRun & {"ingest_id": ingest_id}).to_dicts()
    if not runs:
        raise UndoRefused(f"no ingest {ingest_id!r} in the ledger; `mass-ingest runs` lists them")
    deleted: dict[str, int] = {}
    for expr, integrity in _targets(ingest_id):
        for table, n in dj.Diagram.cascade(expr, part_integrity=integrity).counts().items():
            deleted[table] = deleted.get(table, 0) + n
    created = _created_subjects(ingest_id)
    if created:
        # The subjects' cascade reaches the sessions counted above (or a blocker says it would reach
        # more): count each table once, by the larger of the two counts.
        for table, n in dj.Diagram.cascade(schema.Subject & created).counts().items():
            deleted[table] = max(deleted.get(table, 0), n)
    deleted = {t: n for t, n in deleted.items() if n}
    restored = len(schema.Session.PreviousLocation & {"ingest_id": ingest_id})
    return UndoPlan(ingest_id=ingest_id, status=runs[0]["status"], restored_locations=restored,
                    deleted={".".join(_name(t)): n for t, n in deleted.items()},
                    blockers=_blockers(ingest_id, runs[0]["status"], deleted))


def _inserted_folders(ingest_id: str) -> list[dict]:
    """The folders of the sessions ``ingest_id`` inserted, as held-session rows (their candidate ids)."""
    rows = (schema.Session.Directory & (schema.Session & {"ingest_id": ingest_id}).proj()).to_dicts()
    return [{"candidate_id": candidate_id(r["location"] + (f"#{r['session_group']}" if r["session_group"] else "")),
             "session_id": session_id(r["subject"], r["session_start"], r["session_group"]), "share": r["share"],
             "rel_path": r["rel_path"], "location": r["location"]} for r in rows]


def undo_ingest(ingest_id: str, undone_by: str, note: str = "") -> UndoPlan:
    """Delete what ``ingest_id`` inserted and put moved sessions back, in one transaction; record the undo.

    The sessions it inserted are held (reason ``undone``): a later run or auto-approving re-scan does
    not insert them again until someone releases them.
    """
    plan = plan_undo(ingest_id)
    if plan.blockers:
        raise UndoRefused(f"ingest {ingest_id} cannot be undone: " + "; ".join(plan.blockers))
    run = {"ingest_id": ingest_id}
    with schema.IngestRun.connection.transaction:
        hold_sessions(_inserted_folders(ingest_id), ingest_id, "undone", undone_by, note or "undone")
        for old in (schema.Session.PreviousLocation & run).to_dicts():
            schema.Session.Directory.update1(
                {k: old[k] for k in ("subject", "session_start", "share", "rel_path", "location", "session_group")}
                | {"location_hash": old["previous_hash"]})
        created = _created_subjects(ingest_id)
        for expr, integrity in _targets(ingest_id):
            expr.delete(prompt=False, part_integrity=integrity)
        if created:
            (schema.Subject & created).delete(prompt=False)
        now = datetime.now().replace(microsecond=0)
        schema.IngestRun.Undo.insert1({"ingest_id": ingest_id, "undone_at": now, "undone_by": undone_by,
                                       "deleted": plan.deleted})
        schema.IngestRun.update1({"ingest_id": ingest_id, "status": "undone", "finished_at": now})
    return plan
