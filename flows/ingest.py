"""The mass-ingest flow: access check, discovery, dedup, quality, approval, insertion.

(Not named flows/mass_ingest.py: Prefect loads an entrypoint under its file name, which would stand in for the
package mass_ingest and send its imports to another install.)

Every stage is cached on the ingest id, so running the same profile again after a crash
resumes the unfinished ingest where it stopped. :func:`ingest_profile` composes the stages;
the manual flow here and the scheduled re-scan (flows/rescan.py) both call it.
"""

from __future__ import annotations

import uuid

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from mass_ingest.db.decisions import Decision, DecisionRefused
from mass_ingest.deciding import DecisionPending
from mass_ingest.errors import ApprovalTimeout, MassIngestError, ShareChangedError
from mass_ingest.input_files import profile_for_import
from mass_ingest.prefect_api import add_flow_run_tag
from mass_ingest.profile import Profile, load_profile
from mass_ingest.stage_cache import StageFrame
from mass_ingest.task_runners import configured_task_runner
from tasks.access import ShareAccess, check_access_task, scan_readable_shares
from tasks.approve import (apply_decision_task, auto_decision, failure_before_the_decision_closes, mark_held_task,
                           request_approval)
from tasks.dedup import deduplicate_task
from tasks.discover import discover_share_task
from tasks.followup import publish_followup_task
from tasks.import_file import import_input_file_task
from tasks.insert import InsertOptions, approved_sessions_task, chunk_bounds, insert_chunk_task
from tasks.quality import quality_stage_task
from tasks.recheck import fingerprint_shown_task, recheck_share_task
from tasks.report import (IngestCounts, dry_run_outcome_task, open_ingest_task, record_findings_task,
                          record_outcome_task, record_quarantine_task)
from tasks.watermark import pending_first_task


def select_profile(profile_path: str, shares: list[str] | None, root: str | None,
                   input_file: str | None = None) -> Profile:
    """The profile a run works on: loaded, limited to ``shares`` when given, with ``root`` replaced,
    and marked with ``input_file`` for an import (an ingest of its own)."""
    profile = load_profile(profile_path).selected(shares, root)
    return profile_for_import(profile, input_file) if input_file else profile


def discover_shares(profile: Profile, access: list[ShareAccess], ingest_id: str) -> list[StageFrame]:
    """One task per readable share, or per part of a share (shares[].chunks), run side by side on
    the flow's task runner (MASS_INGEST_TASK_RUNNER: threads, processes or a Dask cluster)."""
    def submit(share: str) -> list:
        chunks = profile.share(share).chunks
        return [discover_share_task.submit(profile, share, ingest_id, i, chunks) for i in range(chunks)]

    _, submitted = scan_readable_shares(profile, submit, access=access)
    return [d.result() for parts in submitted.values() for d in parts]


def ingest_profile(profile: Profile, *, approval: Decision | None = None, dry_run: bool = False,
                   approval_timeout_s: int | None = None, auto_approve: bool = False,
                   pending_before: dict[str, list[str]] | None = None,
                   input_file: str | None = None) -> tuple[IngestCounts, StageFrame]:
    """Run the stages on ``profile``'s shares; return the counts and the last frame (decided, or checked).

    A dry run stops after the expectations: no ledger entry, no pause, no insert. ``auto_approve``
    approves the clean candidates without a pause; ``pending_before`` (share -> folders) puts the
    folders an earlier re-scan found still arriving first; ``input_file`` (a lab's per-subject
    input file) replaces discovery with the sessions it lists.
    """
    logger = get_run_logger()
    ingest_id = f"dry-run-{uuid.uuid4()}" if dry_run else open_ingest_task(profile)
    with failure_before_the_decision_closes(ingest_id):
        access = check_access_task(profile)
        unreadable = [a.share for a in access if not a.readable]
        for a in access:
            if a.finding:
                logger.warning(str(a.finding))
        discovered = ([import_input_file_task(profile, input_file, ingest_id)] if input_file
                      else discover_shares(profile, access, ingest_id))
        deduped = deduplicate_task(profile, discovered, ingest_id)
        checked = quality_stage_task(profile, deduped, ingest_id)
        if pending_before:
            checked = pending_first_task(checked, pending_before, ingest_id)
        checked = mark_held_task(checked, ingest_id)
        # Written before the pause (a run that stops there keeps them) and again with insertion's at the end.
        record_findings_task(access, discovered, checked, ingest_id)
        if dry_run:
            return dry_run_outcome_task(profile, checked, ingest_id, unreadable, input_file), checked
        # Quarantined and pending are settled before the pause (a decision changes neither): stored now, so
        # `mass-ingest status` shows them while the ingest waits.
        record_quarantine_task(checked, ingest_id)
        preapproved = approval or (auto_decision(profile) if auto_approve else None)
        shown = fingerprint_shown_task(profile, checked, ingest_id)
        decision = request_approval(profile, checked, ingest_id, preapproved=preapproved,
                                    timeout_s=approval_timeout_s, input_file=input_file)
    decided = apply_decision_task(checked, decision, ingest_id, profile)
    approved = approved_sessions_task(decided, ingest_id)
    recheck_share_task(profile, shown, approved, ingest_id)  # refuses if an approved folder changed since
    chunks = [insert_chunk_task(approved, offset, length, profile.timezone, ingest_id,
                                InsertOptions.from_profile(profile))
              for offset, length in chunk_bounds(approved.rows)]
    publish_followup_task(ingest_id, profile.probe_association)
    record_findings_task(access, discovered, decided, ingest_id, chunks)
    return record_outcome_task(decided, decision, ingest_id, unreadable, chunks), decided


# How an ingest that inserted nothing ends, so the runs list tells it apart from an inserted one at a glance:
# the state's name, a tag on the run, and the reason as the state's message.
ENDINGS: dict[type, tuple[str, str]] = {ApprovalTimeout: ("TimedOut", "timed-out"),
                                        DecisionPending: ("Deferred", "awaiting-decision"),
                                        DecisionRefused: ("Refused", "refused"),
                                        ShareChangedError: ("Refused", "refused")}


def _tag(tag: str) -> None:
    try:
        add_flow_run_tag(flow_run.get_id(), tag)
    except Exception as exc:  # a tag is a courtesy; the state and the ledger say the same
        get_run_logger().warning(f"could not tag the flow run {tag!r}: {exc}")


def refused_ending(exc: MassIngestError) -> State:
    """The state of a run that ended on ``exc`` without inserting: TimedOut, Refused or Deferred, tagged.

    An expired pause is re-raised: Prefect ends such a run as Failed itself, and the tag tells it apart.
    """
    name, tag = next((v for k, v in ENDINGS.items() if isinstance(exc, k)), ("Refused", "refused"))
    _tag(tag)
    if isinstance(exc, ApprovalTimeout):
        raise exc
    # Deferred is no failure: another run of the ingest holds the question.
    return (Completed if name == "Deferred" else Failed)(name=name, message=str(exc), data=exc)


def finished_ending(counts: IngestCounts, data=None) -> State:
    """Completed, or Rejected (tagged) when the decision inserted nothing; ``data`` is the run's result."""
    data = counts if data is None else data
    if counts.decision.startswith("rejected"):
        _tag("rejected")
        return Completed(name="Rejected", message=f"ingest {counts.ingest_id} {counts.decision}; nothing inserted",
                         data=data)
    return Completed(message=f"ingest {counts.ingest_id} {counts.decision}: {counts.inserted} inserted", data=data)


def run_ingest(profile: Profile, **options) -> State:
    """:func:`ingest_profile` ending in a state of its own: Completed, Rejected, TimedOut, Refused or Deferred."""
    try:
        counts, _ = ingest_profile(profile, **options)
    except MassIngestError as exc:
        return refused_ending(exc)
    return finished_ending(counts)


@flow(name="mass-ingest", log_prints=True, task_runner=configured_task_runner())
def mass_ingest(profile_path: str, shares: list[str] | None = None, dry_run: bool = False,
                approval_timeout_s: int | None = None) -> IngestCounts:
    """Ingest every new session the profile's shares hold.

    Args:
        profile_path: The profile YAML, relative to the worker's checkout or absolute, e.g.
            profiles/moser-ephys.yaml.
        shares: Scan only these of the profile's shares, by name (e.g. ["N"]); empty: all of them.
        dry_run: Stop after the expectations: report what would be inserted, quarantined and skipped,
            without pausing for approval or inserting anything.
        approval_timeout_s: Seconds to wait at the approval pause before giving up and inserting
            nothing; empty: the profile's approval.timeout_s.
    """
    return run_ingest(select_profile(profile_path, shares, None), dry_run=dry_run,
                      approval_timeout_s=approval_timeout_s)


@flow(name="mass-ingest", log_prints=True, task_runner=configured_task_runner())
def mass_ingest_from_cli(profile_path: str, shares: list[str] | None = None, dry_run: bool = False,
                         approval_timeout_s: int | None = None, root: str | None = None,
                         approval: Decision | None = None, input_file: str | None = None) -> IngestCounts:
    """The same ingest, with what only the command line gives (never offered in a deployment's run form).

    Args:
        root: Replace the root of the profile's only share, or of the one share named in `shares`
            (for a copy of a share, or a test tree).
        approval: A decision given up front (the command line's --approve), which skips the pause.
        input_file: A lab's per-subject input file (YAML or JSON) whose sessions replace discovery;
            they still go through dedup, expectations and approval (`mass-ingest import`).
    """
    profile = select_profile(profile_path, shares, root, input_file)
    return run_ingest(profile, approval=approval, dry_run=dry_run, approval_timeout_s=approval_timeout_s,
                      input_file=input_file)

