"""The mass-ingest flow: access check, discovery, dedup, quality, approval, insertion.

Every stage is cached on the ingest id, so running the same profile again after a crash
resumes the unfinished ingest where it stopped.
"""

from __future__ import annotations

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from mass_ingest.db.runs import Decision, open_ingest
from mass_ingest.input_files import profile_for_import
from mass_ingest.profile import Profile, load_profile
from mass_ingest.stage_cache import StageFrame
from mass_ingest.task_runners import configured_task_runner
from tasks.access import ShareAccess, check_access_task
from tasks.approve import apply_decision, request_approval
from tasks.dedup import deduplicate_task
from tasks.discover import discover_share_task
from tasks.import_file import import_input_file_task
from tasks.insert import chunk_bounds, insert_chunk_task
from tasks.quality import quality_stage_task
from tasks.report import IngestCounts, record_outcome_task


@task(name="open-ingest")
def open_ingest_task(profile: Profile) -> str:
    return open_ingest(profile, str(flow_run.get_id() or ""))


@task(name="apply-decision")
def apply_decision_task(checked: StageFrame, decision: Decision, ingest_id: str) -> StageFrame:
    return StageFrame.save(apply_decision(checked.load(), decision), stage="decided", ingest_id=ingest_id)


@task(name="approved-sessions")
def approved_sessions_task(decided: StageFrame, ingest_id: str) -> StageFrame:
    frame = decided.load().filter(pl.col("status") == "approved")
    return StageFrame.save(frame, stage="approved", ingest_id=ingest_id)


def discover_shares(profile: Profile, access: list[ShareAccess], ingest_id: str) -> list[StageFrame]:
    """One task per readable share, or per part of a share (shares[].chunks), run side by side on
    the flow's task runner (MASS_INGEST_TASK_RUNNER: threads, processes or a Dask cluster)."""
    discovered = [discover_share_task.submit(profile, a.share, ingest_id, i, profile.share(a.share).chunks)
                  for a in access if a.readable for i in range(profile.share(a.share).chunks)]
    return [d.result() for d in discovered]


@flow(name="mass-ingest", log_prints=True, task_runner=configured_task_runner())
def mass_ingest(profile_path: str, root: str | None = None, approval: Decision | None = None,
                input_file: str | None = None) -> IngestCounts:
    """Ingest every new session the profile's shares hold.

    Args:
        profile_path: the profile YAML, e.g. profiles/moser-ephys.yaml.
        root: replace the root of the profile's only share (for a copy of a share, or a test tree).
        approval: a decision given up front (the command line's --approve); without it the run
            pauses for approval in the Prefect UI.
        input_file: a lab's per-subject input file (YAML or JSON) whose sessions replace discovery;
            they still go through dedup, expectations and approval (`mass-ingest import`).
    """
    logger = get_run_logger()
    profile = load_profile(profile_path)
    if root:
        profile = profile.with_root(root)
    if input_file:
        profile = profile_for_import(profile, input_file)
    ingest_id = open_ingest_task(profile)
    access = check_access_task(profile)
    unreadable = [a.share for a in access if not a.readable]
    for a in access:
        if a.finding:
            logger.warning(str(a.finding))
    discovered = ([import_input_file_task(profile, input_file, ingest_id)] if input_file
                  else discover_shares(profile, access, ingest_id))
    deduped = deduplicate_task(profile, discovered, ingest_id)
    checked = quality_stage_task(profile, deduped, ingest_id)
    decision = request_approval(profile, checked, ingest_id, preapproved=approval)
    decided = apply_decision_task(checked, decision, ingest_id)
    approved = approved_sessions_task(decided, ingest_id)
    for offset, length in chunk_bounds(approved.rows):
        insert_chunk_task(approved, offset, length, profile.timezone, ingest_id)
    return record_outcome_task(decided, decision, ingest_id, unreadable)
