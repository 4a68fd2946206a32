"""What an ingest would do, without Prefect, the ledger or insertion: ``mass-ingest validate``.

It calls the same stage functions the flow composes (access, discovery, dedup, quality), so
its verdicts are the flow's verdicts; it only reads the pipeline (subjects, sessions).
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import Status
from mass_ingest.findings import Finding
from mass_ingest.profile import Profile
from mass_ingest.db.held import held_frame
from tasks.access import ShareAccess, check_access
from tasks.approve import mark_held
from tasks.dedup import deduplicate_discovered
from tasks.discover import discover_share
from tasks.quality import check_profile_quality


def preview_ingest(profile: Profile) -> tuple[pl.DataFrame, list[ShareAccess], list[Finding]]:
    """The classified candidate frame, each share's access, and findings about the shares' trees."""
    access = check_access(profile)
    frames, share_findings = [], []
    for share in access:
        if not share.readable:
            continue
        frame, findings = discover_share(profile, share.share)
        frames.append(frame)
        share_findings.extend(findings)
    checked, _ = check_profile_quality(deduplicate_discovered(frames, profile.shares), profile)
    return mark_held(checked, held_frame()), access, share_findings


def decision_rows(frame: pl.DataFrame) -> list[dict]:
    """One object per candidate: what would happen to it and why."""
    reasons = (pl.when(pl.col("status") == Status.QUARANTINED).then(pl.col("quality_reasons"))
               .when(pl.col("status") == Status.PENDING).then(pl.col("pending_reasons"))
               .when(pl.col("status") == Status.UPDATE).then(
                   pl.col("new_parts").list.eval(pl.format("new since ingested: {}", pl.element())))
               .when(pl.col("status") == Status.HELD).then(pl.concat_list(pl.col("held_reason")))
               .when(pl.col("dedup_reason").is_not_null()).then(pl.concat_list(pl.col("dedup_reason")))
               .otherwise(pl.lit([], dtype=pl.List(pl.String))))
    return (frame.with_columns(reasons.alias("reasons"))
            .select("session_id", "share", "rel_path", "subject", "session_start", "status", "reasons",
                    "quality_failures", "duplicate_of", "projects")
            .with_columns(pl.col("session_start").dt.strftime("%Y-%m-%dT%H:%M:%S"))
            .to_dicts())
