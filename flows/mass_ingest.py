"""The mass-ingest flow: access check, discovery, dedup, quality, approval, insertion.

Every stage is cached on the ingest id, so running the same profile again after a crash
resumes the unfinished ingest where it stopped. :func:`ingest_profile` composes the stages;
the manual flow here and the scheduled re-scan (flows/rescan.py) both call it.
"""

from __future__ import annotations

import uuid

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from mass_ingest.db.runs import Decision, open_ingest
from mass_ingest.fault_points import arm
from mass_ingest.input_files import profile_for_import
from mass_ingest.profile import Profile, load_profile
from mass_ingest.stage_cache import StageFrame
from mass_ingest.task_runners import configured_task_runner
from tasks.access import ShareAccess, check_access_task, scan_readable_shares
from tasks.approve import apply_decision, auto_decision, request_approval
from tasks.dedup import deduplicate_task
from tasks.discover import discover_share_task
from tasks.followup import publish_followup_task
from tasks.import_file import import_input_file_task
from tasks.insert import InsertOptions, chunk_bounds, insert_chunk_task, select_for_insertion
from tasks.quality import quality_stage_task
from tasks.recheck import fingerprint_shown_task, recheck_share_task
from tasks.report import IngestCounts, dry_run_outcome_task, record_outcome_task
from tasks.watermark import pending_first_task


@task(name="open-ingest")
def open_ingest_task(profile: Profile) -> str:
    return open_ingest(profile, str(flow_run.get_id() or ""))


@task(name="apply-decision")
def apply_decision_task(checked: StageFrame, decision: Decision, ingest_id: str) -> StageFrame:
    return StageFrame.save(apply_decision(checked.load(), decision), stage="decided", ingest_id=ingest_id)


@task(name="approved-sessions")
def approved_sessions_task(decided: StageFrame, ingest_id: str) -> StageFrame:
    frame = select_for_insertion(decided.load())
    return StageFrame.save(frame, stage="approved", ingest_id=ingest_id)


def select_profile(profile_path: str, shares: list[str] | None, root: str | None,
                   input_file: str | None = None) -> Profile:
    """The profile a run works on: loaded, limited to ``shares`` when given, with ``root`` replaced,
    and marked with ``input_file`` for an import (an ingest of its own)."""
    profile = load_profile(profile_path)
    if shares:
        profile = profile.with_shares(shares)
    if root:
        profile = profile.with_root(root)
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
    if dry_run:
        return dry_run_outcome_task(profile, checked, ingest_id, unreadable), checked
    preapproved = approval or (auto_decision(profile) if auto_approve else None)
    shown = fingerprint_shown_task(profile, checked, ingest_id)
    decision = request_approval(profile, checked, ingest_id, preapproved=preapproved, timeout_s=approval_timeout_s)
    decided = apply_decision_task(checked, decision, ingest_id)
    approved = approved_sessions_task(decided, ingest_id)
    recheck_share_task(profile, shown, approved, ingest_id)  # refuses if an approved folder changed since
    for offset, length in chunk_bounds(approved.rows):
        insert_chunk_task(approved, offset, length, profile.timezone, ingest_id, InsertOptions.from_profile(profile))
    publish_followup_task(ingest_id, profile.probe_association)
    return record_outcome_task(decided, decision, ingest_id, unreadable), decided


@flow(name="mass-ingest", log_prints=True, task_runner=configured_task_runner())
def mass_ingest(profile_path: str, shares: list[str] | None = None, dry_run: bool = False,
                approval_timeout_s: int | None = None, root: str | None = None,
                approval: Decision | None = None, input_file: str | None = None) -> IngestCounts:
    """Ingest every new session the profile's shares hold.

    Args:
        profile_path: The profile YAML, relative to the worker's checkout or absolute, e.g.
            profiles/moser-ephys.yaml.
        shares: Scan only these of the profile's shares, by name (e.g. ["N"]); empty: all of them.
        dry_run: Stop after the expectations: report what would be inserted, quarantined and skipped,
            without pausing for approval or inserting anything.
        approval_timeout_s: Seconds to wait at the approval pause before giving up and inserting
            nothing; empty: the profile's approval.timeout_s.
        root: Replace the root of the profile's only share (for a copy of a share, or a test tree).
        approval: A decision given up front (the command line's --approve); without it the run
            pauses for approval in the Prefect UI.
        input_file: A lab's per-subject input file (YAML or JSON) whose sessions replace discovery;
            they still go through dedup, expectations and approval (`mass-ingest import`).
    """
    profile = select_profile(profile_path, shares, root, input_file)
    counts, _ = ingest_profile(profile, approval=approval, dry_run=dry_run, approval_timeout_s=approval_timeout_s,
                               input_file=input_file)
    return counts


arm(globals())  # test-only fault points (MASS_INGEST_TEST_FAULT); does nothing otherwise
