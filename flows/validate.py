"""What an ingest would find and do, without Prefect, the ledger or insertion: `mass-ingest discover`
and `mass-ingest validate`.

They compose the same stage functions the flow does (access, discovery, dedup, quality), in this
process, so their verdicts are the flow's verdicts; `validate` only reads the pipeline (subjects,
sessions), `discover` does not touch it.
"""

from __future__ import annotations

import time

import polars as pl

from mass_ingest import progress
from mass_ingest.candidates import frame_to_candidates
from mass_ingest.findings import Finding
from mass_ingest.profile import Profile
from tasks.access import ShareAccess, scan_readable_shares
from tasks.discover import discover_share


def discovery_report(profile: Profile, only: str | None = None) -> dict:
    """Each share's access, time and findings, and every candidate found (`mass-ingest discover --json`)."""
    def timed(share: str) -> tuple[pl.DataFrame, list[Finding], float]:
        def shown(done: int, total: int | None) -> None:
            progress.report(f"discover-{share}", done, total, f"share {share}", artifact=False,
                            unit="folders listed" if total is None else "session folders read")

        started = time.perf_counter()
        frame, findings = discover_share(profile, share, progress=shown, on_listed=lambda n: shown(n, None))
        return frame, findings, round(time.perf_counter() - started, 3)

    access, found = scan_readable_shares(profile, timed, only=only)
    result: dict = {"profile": profile.name, "shares": [], "candidates": []}
    for a in access:
        entry = {"share": a.share, "root": a.root, "readable": a.readable, "findings": []}
        if a.finding:
            entry["findings"].append(a.finding.model_dump(mode="json"))
        if a.share in found:
            frame, findings, entry["seconds"] = found[a.share]
            entry["findings"] += [f.model_dump(mode="json") for f in findings]
            result["candidates"] += [{"session_id": c.session_id, **c.model_dump(mode="json")}
                                     for c in frame_to_candidates(frame)]
        result["shares"].append(entry)
    return result


def preview_ingest(profile: Profile) -> tuple[pl.DataFrame, list[ShareAccess], list[Finding]]:
    """The classified candidate frame, each share's access, and findings about the shares' trees."""
    from tasks.dedup import deduplicate_discovered  # the database and Great Expectations: only when validating
    from tasks.quality import check_profile_quality

    access, found = scan_readable_shares(profile, lambda share: discover_share(profile, share))
    frames = [frame for frame, _ in found.values()]
    share_findings = [f for _, findings in found.values() for f in findings]
    checked, _ = check_profile_quality(deduplicate_discovered(frames, profile.shares), profile)
    return checked, access, share_findings
