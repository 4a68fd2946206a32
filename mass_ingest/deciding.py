"""Deciding from a terminal: find the ingest a person names, record their decision, wake the waiting run.

A person may name an ingest by its ingest id, by the id or name of any of its flow runs, or by a
unique prefix of any of these (what `mass-ingest runs` and the run's log print). The decision is
recorded in the decision log first (the database decides who was first), then the paused run is
resumed and reads it from there.
"""

from __future__ import annotations

import difflib

import polars as pl
from pydantic import BaseModel, ConfigDict

from mass_ingest.db import schema
from mass_ingest.db.decisions import (Decision, PauseClaim, pause_claim, record_decision, stored_decision)
from mass_ingest.errors import MassIngestError
from mass_ingest.prefect_api import flow_run_ids_named, flow_run_or_none, flow_run_url
from mass_ingest.session_patterns import PatternError, refusal_message, unmatched_patterns
from mass_ingest.stage_cache import run_dir

MIN_PREFIX = 4  # shorter prefixes name too many things to be meant


class ResolveError(MassIngestError):
    """A name that is no ingest, or that names several."""


class Target(BaseModel):
    """The ingest a person named, and how."""

    model_config = ConfigDict(extra="forbid")

    ingest_id: str
    status: str
    profile_name: str
    named_as: str


def _ledger_ids() -> tuple[dict[str, str], dict[str, str]]:
    """(ingest id -> itself, flow-run id -> ingest id), from the ledger."""
    schema.activate()
    ingests = {r["ingest_id"]: r["ingest_id"] for r in schema.IngestRun.proj().to_dicts()}
    runs = {r["flow_run_id"]: r["ingest_id"] for r in schema.IngestRun.FlowRun.proj().to_dicts()}
    return ingests, runs


def resolve_ingest(ref: str) -> Target:
    """The ingest ``ref`` names: an ingest id, a flow-run id or name, or a unique prefix of one."""
    ref = ref.strip()
    ingests, runs = _ledger_ids()
    found: dict[str, str] = {}  # ingest id -> how it was named
    for ids, what in ((ingests, "ingest id"), (runs, "flow-run id")):
        if ref in ids:
            found.setdefault(ids[ref], what)
    if not found:
        for flow_run_id in flow_run_ids_named(ref):
            if flow_run_id in runs:
                found.setdefault(runs[flow_run_id], "flow-run name")
    if not found and len(ref) >= MIN_PREFIX:
        for ids, what in ((ingests, "ingest id prefix"), (runs, "flow-run id prefix")):
            for key, ingest_id in ids.items():
                if key.startswith(ref):
                    found.setdefault(ingest_id, what)
        for flow_run_id in ([] if found else flow_run_ids_named(ref, prefix=True)):
            if flow_run_id in runs:
                found.setdefault(runs[flow_run_id], "flow-run name prefix")
    if not found:
        near = difflib.get_close_matches(ref, [*ingests, *runs], n=3, cutoff=0.5)
        hint = f" (nearest: {', '.join(near)})" if near else ""
        short = f"; a prefix needs at least {MIN_PREFIX} characters" if len(ref) < MIN_PREFIX else ""
        raise ResolveError(f"'{ref}' names no ingest and no flow run of one{hint}{short}; `mass-ingest runs` "
                           "lists ingests with their ids and the runs waiting for a decision")
    if len(found) > 1:
        raise ResolveError(f"'{ref}' names {len(found)} ingests ({', '.join(sorted(found))}); give more of the id")
    [(ingest_id, how)] = found.items()
    row = (schema.IngestRun & {"ingest_id": ingest_id}).to_dicts()[0]
    return Target(ingest_id=ingest_id, status=row["status"], profile_name=row["profile_name"], named_as=how)


def offered_at_pause(ingest_id: str) -> pl.DataFrame | None:
    """The candidates the waiting run offers (its frame at the pause), when readable from this machine."""
    from mass_ingest.approval_summary import offered

    path = run_dir(ingest_id) / "held-all.parquet"
    return offered(pl.read_parquet(path)) if path.is_file() else None


class DecisionPending(MassIngestError):
    """Another run of the same ingest already waits for the decision: this one does not pause too."""

    def __init__(self, claim: PauseClaim):
        self.claim = claim
        super().__init__(f"ingest {claim.ingest_id} already waits for a decision in flow run "
                         f"{claim.flow_run_name or claim.flow_run_id} (paused {claim.paused_at:%Y-%m-%d %H:%M:%S}); "
                         "this run does not ask again.\n" + how_to_decide(claim.flow_run_id, claim.flow_run_name))


def how_to_decide(flow_run_id: str, flow_run_name: str = "") -> str:
    """Where the waiting run is and the exact commands that decide it."""
    url = flow_run_url(flow_run_id)
    return "\n".join([
        f"  flow run: {flow_run_name + ' ' if flow_run_name else ''}{flow_run_id}",
        *([f"  in the Prefect UI: {url}"] if url else []),
        f"  approve: mass-ingest approve {flow_run_id} [--exclude SESSION_OR_GLOB ...] [--note '...']",
        f"  reject:  mass-ingest reject {flow_run_id} --note 'why'"])


class TerminalDecision(BaseModel):
    """What `mass-ingest approve` / `reject` did."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    decision: Decision
    waiting: PauseClaim | None
    resumed: bool
    problem: str = ""


def decide_from_terminal(ref: str, approve: bool, exclude: list[str], approver: str, note: str) -> TerminalDecision:
    """Record a decision on the ingest ``ref`` names and resume the run waiting for it.

    Raises DecisionRefused (someone decided first: who, what, when), ResolveError or PatternError.
    """
    from mass_ingest.approval_summary import shown_digest
    from mass_ingest.db.decisions import DecisionRefused

    target = resolve_ingest(ref)
    decision = Decision(approved=approve, approver=approver, source="cli", excluded=exclude, note=note)
    stored = stored_decision(target.ingest_id)
    if stored is not None:
        record_decision(target.ingest_id, decision)  # logs the refused attempt, and raises
        raise DecisionRefused(target.ingest_id, stored)
    waiting = pause_claim(target.ingest_id)
    if waiting is None:
        raise ResolveError(f"ingest {target.ingest_id} (profile {target.profile_name}, {target.status}) has no run "
                           "waiting for a decision yet; `mass-ingest run PROFILE` brings it to the pause (or "
                           "`run --approve` decides up front)")
    offered = offered_at_pause(target.ingest_id)
    if exclude and not approve:
        raise PatternError("--exclude goes with approve: a rejection keeps every session out")
    if exclude and offered is None:
        raise PatternError(f"the sessions ingest {target.ingest_id} offers are not readable from this machine, so "
                           "--exclude cannot be checked; decide in the Prefect UI, or run `approve` where the flow "
                           "runs")
    if exclude:
        unmatched = unmatched_patterns(offered, exclude)
        if unmatched:
            raise PatternError(refusal_message(unmatched, "session offered for approval") + "; nothing was decided")
    if offered is not None:
        decision = decision.model_copy(update={"shown_digest": shown_digest(offered)})
    decision = record_decision(target.ingest_id, decision, waiting.flow_run_id)
    return TerminalDecision(target=target, decision=decision, waiting=waiting, **_resume(waiting, decision))


def _resume(waiting: PauseClaim, decision: Decision) -> dict:
    """Wake the waiting run (it reads the decision from the log); say why not when it cannot be."""
    from uuid import UUID

    from prefect.flow_runs import resume_flow_run

    run = flow_run_or_none(waiting.flow_run_id)
    if run is None or run.state is None or not run.state.is_paused():
        state = run.state.name if run is not None and run.state is not None else "unknown to the server"
        return {"resumed": False, "problem": f"flow run {waiting.flow_run_id} is not paused ({state}); the decision "
                "is recorded and the next `mass-ingest run PROFILE` applies it"}
    try:
        resume_flow_run(UUID(waiting.flow_run_id), run_input={
            "decision": "approve" if decision.approved else "reject", "approver": decision.approver,
            "exclude": decision.excluded, "note": decision.note})
    except Exception as exc:  # recorded already; only the wake-up failed
        return {"resumed": False, "problem": f"flow run {waiting.flow_run_id} could not be resumed ({exc}); the "
                "decision is recorded and the next `mass-ingest run PROFILE` applies it"}
    return {"resumed": True}
