"""The scheduled re-scan: new sessions and late data on each share since its last successful re-scan.

It composes the same stages as the manual ingest (flows/ingest.py), and adds three things:
each share is re-scanned by one run at a time (a Prefect global concurrency limit per share),
the folders still arriving at the last re-scan are looked at first, and each share's watermark
moves only when the whole re-scan succeeded. Why it walks the whole share rather than filtering
on the watermark: see tasks/watermark.py.
"""

from __future__ import annotations

from prefect import flow

from flows.ingest import finished_ending, ingest_profile, refused_ending, select_profile
from mass_ingest.errors import MassIngestError
from mass_ingest.task_runners import configured_task_runner
from tasks.watermark import RescanOutcome, advance_watermarks_task, read_watermarks_task, share_slots


@flow(name="rescan", log_prints=True, task_runner=configured_task_runner())
def rescan(profile_path: str, shares: list[str] | None = None, approval_timeout_s: int | None = None,
           busy_wait_s: float = 30, root: str | None = None) -> RescanOutcome:
    """Ingest what arrived since the last successful re-scan of each share.

    What it finds goes through the expectations, and through approval unless the profile sets
    approval.auto_approve_clean.

    Args:
        profile_path: The profile YAML, relative to the worker's checkout or absolute, e.g.
            profiles/moser-ephys.yaml.
        shares: Re-scan only these of the profile's shares, by name; empty: all of them.
        approval_timeout_s: Seconds to wait at the approval pause; empty: the profile's approval.timeout_s.
        busy_wait_s: Seconds to wait for a share that another re-scan is scanning before leaving it
            to that re-scan.
        root: Replace the root of the profile's only share, or of the one share named in `shares`
            (for a copy of a share, or a test tree).
    """
    # A re-scan is an ingest of its own: a plain run of the profile paused meanwhile is not resumed by it.
    profile = select_profile(profile_path, shares, root).marked("re-scan")
    try:
        with share_slots(profile, busy_wait_s) as free:
            busy = [s.name for s in profile.shares if s.name not in free]
            if not free:
                return RescanOutcome(busy_shares=busy)
            profile = profile.with_shares(free)
            before = read_watermarks_task(profile)
            counts, decided = ingest_profile(
                profile, approval_timeout_s=approval_timeout_s, auto_approve=profile.approval.auto_approve_clean,
                pending_before={share: mark.pending for share, mark in before.items() if mark.pending})
            # Reached only when the ingest completed: a failed re-scan raised above and moved nothing.
            after = advance_watermarks_task(profile, decided, counts.ingest_id, counts.unreadable_shares)
    except MassIngestError as exc:  # timed out, refused or deferred: ends as the manual ingest does
        return refused_ending(exc)
    # Ended as the manual ingest ends: Completed, or Rejected when a person rejected what it found.
    return finished_ending(counts, RescanOutcome(counts=counts.model_dump(), busy_shares=busy,
                                                 watermarks={**before, **after}))
