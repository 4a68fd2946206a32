"""Stage 5, approval: a person sees what would go in and decides, once.

The flow pauses with a typed run input (:class:`ApprovalInput`) that the Prefect UI shows as a
form, under a markdown summary of what will be inserted, what was quarantined and what a person
holds back. A decision given up front (``mass-ingest run --approve``) skips the pause. Decisions go
into the decision log (mass_ingest/db/decisions.py): the first one closes the question, a crash after
it never asks again, and only one run of an ingest pauses for it (the database's key decides which).
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Literal

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import CancelledRun, FlowPauseTimeout, PausedRun
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

from mass_ingest.approval_summary import listing_command, offered, shown_digest
from mass_ingest.candidates import Status, change_status, has_status
from mass_ingest.db.decisions import (Decision, DecisionRefused, PauseClaim, beat, claim_pause, drop_stale_claim,
                                      pause_claim, record_decision, refuse_on_resume, stored_decision)
from mass_ingest.db.held import held_frame, held_label, hold_sessions, mark_held
from mass_ingest.deciding import DecisionPending, how_to_decide
from mass_ingest.db.runs import close_failed_ingest
from mass_ingest.errors import ApprovalTimeout, MassIngestError
from mass_ingest.prefect_api import flow_run_or_none
from mass_ingest.profile import Profile
from mass_ingest.session_patterns import PatternError, match_patterns, refusal_message, unmatched_patterns
from mass_ingest.stage_cache import StageFrame
from tasks.review import publish_quality_report, publish_review


class ApprovalInput(RunInput):
    """The approval form shown at the pause: nothing is assumed, the approver chooses and signs."""

    decision: Literal["approve", "reject"] = Field(
        title="Decision", description="Approve: insert the sessions marked 'ready' above (except those left out). "
        "Reject: insert nothing; the sessions are held until someone releases them. (In the classic UI the list "
        "opens from the arrows at the right of the box, or with the down-arrow key.)")
    approver: str = Field(title="Approved by", min_length=1, description="Your name, stored with the decision.")
    exclude: list[str] = Field(default_factory=list, title="Sessions to leave out",
                               description="With approve: session ids, globs or folder paths, e.g. "
                               "'25843/2024-03-05_10-30-58' or '26018/*'. They are held until released.")
    note: str = Field("", title="Note", description="Why, or anything the next person should know.")


def apply_decision(frame: pl.DataFrame, decision: Decision, shares=()) -> pl.DataFrame:
    """Mark ready candidates ``approved``, ``left_out`` (excluded by the approver) or ``rejected``.

    Known sessions that moved or gained data keep their status; ``change_approved`` says whether
    the approver let the change in (approved, not excluded).
    """
    out = match_patterns(frame, decision.excluded, shares)
    ready = pl.col("status") == Status.READY
    frame = frame.with_columns(
        (has_status(Status.UPDATE, Status.MOVED) & pl.lit(decision.approved) & ~pl.lit(out))
        .alias("change_approved"))
    return change_status(
        frame,
        pl.when(ready & pl.lit(not decision.approved)).then(pl.lit(Status.REJECTED))
        .when(ready & pl.lit(out)).then(pl.lit(Status.LEFT_OUT))
        .when(ready).then(pl.lit(Status.APPROVED))
        .otherwise(pl.col("status")))


def hold_decided(decided: pl.DataFrame, decision: Decision, ingest_id: str) -> int:
    """Hold what the decision kept out: left-out sessions, and every offered one of a rejected ingest."""
    columns = ("candidate_id", "session_id", "share", "rel_path", "location")
    left_out = decided.filter(has_status(Status.LEFT_OUT))
    rejected = decided.filter(has_status(Status.REJECTED)
                              | (has_status(Status.UPDATE, Status.MOVED) & pl.lit(not decision.approved)))
    return sum(hold_sessions(rows.select(columns).to_dicts(), ingest_id, reason, decision.approver, decision.note,
                             decision.decided_at) for reason, rows in (("left_out", left_out), ("rejected", rejected)))


def auto_decision(profile: Profile) -> Decision:
    """The decision of a re-scan whose profile allows auto-approval: the clean (ready) sessions go in."""
    return Decision(approved=True, approver="auto-approval", source="auto",
                    note=f"profile {profile.name} sets approval.auto_approve_clean: sessions that passed every "
                    "expectation were inserted without a person; quarantined, pending and held ones were held back")


def nothing_to_decide(frame: pl.DataFrame) -> Decision:
    """The decision of an ingest that offers no session: nothing is asked, nothing is inserted."""
    counts = frame.group_by("status").len().sort("status").iter_rows()
    found = ", ".join(f"{n:,} {status}" for status, n in counts) or "no session folders"
    return Decision(approved=True, approver="no decision needed", source="auto",
                    note=f"no session was offered for insertion ({found}); the run did not pause")


def claim_is_live(claim: PauseClaim) -> bool:
    """Whether the run holding the pause can still receive the decision (not ended, pause not expired)."""
    if claim.timeout_at is not None and claim.timeout_at < datetime.now():
        return False
    run = flow_run_or_none(claim.flow_run_id)
    return run is not None and run.state is not None and not run.state.is_final()


HEARTBEAT_S = 5  # how often a waiting process says it is alive
STALE_S = 3 * HEARTBEAT_S  # no heartbeat for this long: the process is gone


def other_waiting_run(ingest_id: str, me: str) -> PauseClaim | None:
    """The other run that waits for this ingest's decision, if it is still there (a dead one's claim is dropped).

    A killed process leaves its run Paused in Prefect; its heartbeat stopping tells. Even a fresh beat may
    be the last one of a process killed a moment ago, so the claim counts only once a later beat arrives;
    none for :data:`STALE_S` after the last one and the claim is given up.
    """
    claim = pause_claim(ingest_id)
    if claim is None or claim.flow_run_id == me:
        return None
    if claim_is_live(claim) and claim.alive_at is not None:
        give_up_at = claim.alive_at + timedelta(seconds=STALE_S)
        while datetime.now() < give_up_at:
            time.sleep(1)
            later = pause_claim(ingest_id)
            if later is None or later.flow_run_id == me:
                return None
            if later.flow_run_id != claim.flow_run_id or later.alive_at != claim.alive_at:
                return later  # a beat since: someone is there
    drop_stale_claim(claim)
    return None


@contextmanager
def failure_before_the_decision_closes(ingest_id: str):
    """A stage that raises before ``ingest_id`` is decided closes it (ledger ``failed``): the cache never pins a
    failure, the next run of the profile discovers afresh once the cause is fixed.

    Refusals (the tool's own errors: a lost database, a full disk, a timeout, another run waiting) keep the
    ingest for the next run to resume, as their messages say; so do a paused or cancelled run (no failure),
    and a run whose ingest another run shows to a person right now.
    """
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, (MassIngestError, PausedRun, CancelledRun)):
            _close_failed(ingest_id, exc)
        raise


def _close_failed(ingest_id: str, exc: Exception) -> None:
    logger = get_run_logger()
    try:
        if other_waiting_run(ingest_id, str(flow_run.get_id() or "")) is not None:
            return
        if close_failed_ingest(ingest_id, f"{type(exc).__name__}: {exc}"):
            logger.error(f"ingest {ingest_id} failed before its decision and is closed (status failed): fix what "
                         "the error below names and run the profile again; the new run discovers afresh")
    except Exception as nested:  # the database may be what failed: then the next run resumes the ingest
        logger.warning(f"could not close ingest {ingest_id} after its failure ({nested}); the next run resumes it")


@contextmanager
def heartbeat(ingest_id: str, me: str):
    """Say every few seconds, while the body waits, that this process still waits for the decision."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                beat(ingest_id, me)
            except Exception:  # a missed beat only lets another run take over sooner
                pass
    thread = threading.Thread(target=run, name=f"approval-heartbeat-{ingest_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(HEARTBEAT_S + 5)


def _say(message: str) -> None:
    """To the run's log and straight to the terminal of a `mass-ingest run` (whatever the log level)."""
    get_run_logger().info(message)
    print(message, file=sys.__stderr__, flush=True)


def _refuse_exclusions(frame: pl.DataFrame, patterns: list[str], profile: Profile,
                       input_file: str | None = None) -> None:
    unmatched = unmatched_patterns(offered(frame), patterns, profile.shares)
    if unmatched:
        raise PatternError(refusal_message(unmatched, "session offered for approval") + "; nothing was decided or "
                           f"inserted: correct the pattern and run again (`{listing_command(input_file)}` lists them)")


def _resumed(stored: Decision, preapproved: Decision | None, ingest_id: str) -> Decision:
    """A resumed ingest keeps its decision; a different one given to this run is refused rather than ignored."""
    if preapproved is not None:
        refuse_on_resume(ingest_id, stored, preapproved)
    return stored


def request_approval(profile: Profile, checked: StageFrame, ingest_id: str,
                     preapproved: Decision | None = None, timeout_s: int | None = None,
                     input_file: str | None = None) -> Decision:
    """The decision for this ingest: stored (resume), given up front, or asked for at the one pause.

    ``timeout_s`` replaces the profile's approval.timeout_s for this run (the deployment's parameter);
    ``input_file``: an import's, which the summary names in its command listing every candidate.
    Raises :class:`DecisionPending` when another run already waits for the decision.
    """
    timeout_s = timeout_s or profile.approval.timeout_s
    frame = checked.load()
    digest = shown_digest(frame)
    me = str(flow_run.get_id() or "")
    stored = stored_decision(ingest_id)
    if stored is not None:
        publish_quality_report(frame, ingest_id)  # a resumed run shows its quality report too
        return _resumed(stored, preapproved, ingest_id)
    waiting = other_waiting_run(ingest_id, me)
    if waiting is not None:
        raise DecisionPending(waiting)
    markdown = publish_review(frame, profile, ingest_id, input_file=input_file)
    if preapproved is None and offered(frame).is_empty():
        # A nightly re-scan that found nothing new must not wait for a person (and time out) to insert nothing.
        preapproved = nothing_to_decide(frame)
    if preapproved is not None:
        if preapproved.approved:
            _refuse_exclusions(frame, preapproved.excluded, profile, input_file)
        try:
            return record_decision(ingest_id, preapproved.model_copy(update={"shown_digest": digest}), me)
        except DecisionRefused as refused:
            return _resumed(refused.stored, preapproved, ingest_id)
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    other = claim_pause(ingest_id, me, str(flow_run.get_name() or ""), deadline)
    if other is not None:
        raise DecisionPending(other)
    _say(f"ingest {ingest_id} of profile {profile.name} waits for a decision:\n"
         + how_to_decide(me, str(flow_run.get_name() or "")))
    with heartbeat(ingest_id, me):
        return _ask(profile, frame, ingest_id, markdown, digest, timeout_s, me)


def _prefect_user() -> str:
    """The name of the person who started the run, where the server knows one (Prefect Cloud), else ''."""
    run = flow_run_or_none(flow_run.get_id() or "")
    created = getattr(run, "created_by", None)
    return (created.display_value or "") if created is not None and created.type == "USER" else ""


def _ask(profile: Profile, frame: pl.DataFrame, ingest_id: str, markdown: str, digest: str, timeout_s: int,
         me: str) -> Decision:
    """Pause until a valid answer arrives (an answer naming no offered session is asked again, with why)."""
    initial = {"approver": user} if (user := _prefect_user()) else {}
    problem, attempt = "", 0
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while True:
        remaining = int((deadline - datetime.now()).total_seconds())
        try:
            answer = pause_flow_run(
                wait_for_input=ApprovalInput.with_initial_data(description=problem + markdown, **initial),
                timeout=max(remaining, 1), poll_interval=profile.approval.poll_s,
                key=f"approval-{ingest_id}-{attempt}")
        except FlowPauseTimeout:
            note = f"no decision within {timeout_s} s at the approval pause; nothing was inserted"
            try:
                record_decision(ingest_id, Decision(approved=False, approver="", source="timeout", shown_digest=digest,
                                                    note=note, timed_out=True), me)
            except DecisionRefused as refused:  # decided on the command line as the pause expired
                note = f"{note} (the decision {refused.stored.describe()} came as it expired; run again to apply it)"
            # Prefect refuses any further state but Failed for a run whose pause expired.
            raise ApprovalTimeout(f"ingest {ingest_id} of profile {profile.name}: {note}. Run it again to be asked "
                                  "again, or raise approval.timeout_s in the profile") from None
        stored = stored_decision(ingest_id)  # decided on the command line (which resumed us) or elsewhere
        if stored is not None:
            return stored
        unmatched = unmatched_patterns(offered(frame), answer.exclude, profile.shares) \
            if answer.decision == "approve" else {}
        if unmatched:
            attempt += 1
            problem = (f"> **Not decided:** {refusal_message(unmatched, 'session offered below')}. "
                       "Correct the pattern and submit again.\n\n")
            _say(f"ingest {ingest_id}: the answer was not taken ({refusal_message(unmatched, 'offered session')}); "
                 "asking again")
            continue
        decision = Decision(approved=answer.decision == "approve", approver=answer.approver.strip(), source="ui",
                            excluded=answer.exclude, note=answer.note, shown_digest=digest)
        try:
            return record_decision(ingest_id, decision, me)
        except DecisionRefused as refused:
            return refused.stored


@task(name="mark-held")
def mark_held_task(checked: StageFrame, ingest_id: str) -> StageFrame:
    """Sessions a person holds back get status ``held`` (not cached: a release between runs counts)."""
    return StageFrame.save(mark_held(checked.load(), held_frame()), stage="held", ingest_id=ingest_id)


@task(name="apply-decision")
def apply_decision_task(checked: StageFrame, decision: Decision, ingest_id: str, profile: Profile) -> StageFrame:
    """The decision applied to the candidates; what it kept out is held (left out, or all of a rejection)."""
    decided = apply_decision(checked.load(), decision, profile.shares)
    hold_decided(decided, decision, ingest_id)
    return StageFrame.save(decided, stage="decided", ingest_id=ingest_id)
