"""Stage 4, data quality: each modality's Great Expectations suite over the deduplicated candidates.

The checks themselves live in :mod:`mass_ingest.expectations` (values, suites, GX runs, reasons,
verdicts); this stage takes the pipeline's subjects and the clock, runs them, classifies each
candidate (ready, pending, quarantined) and keeps GX's results for the quality report.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from collections.abc import Callable

import polars as pl
from prefect import get_run_logger, task

from mass_ingest import progress
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.gx_run import build_data_docs
from mass_ingest.expectations.verdicts import run_suites, classify
from mass_ingest.profile import Profile
from mass_ingest.quality_report import save_results
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame, data_docs_dir, run_dir
from mass_ingest.subjects import implanted_probe_counts, implanted_serials

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult


def lab_now(timezone: str) -> datetime:
    """The lab's wall-clock time, naive like folder times."""
    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)


def quality_context(profile: Profile) -> QualityContext:
    """The pipeline's subjects and implants, the time bounds and the clock, for checking this profile's candidates."""
    epoch = time.time()
    return QualityContext(implanted_probes=implanted_probe_counts(), implanted_serials=implanted_serials(),
                          now=lab_now(profile.timezone), now_epoch=epoch, not_before=profile.not_before,
                          settle_s=profile.quality.settle_s, saved_chans=profile.quality.saved_chans,
                          probe_types=profile.quality.probe_types, max_duration_s=profile.quality.max_duration_s,
                          stalled_after_s=profile.quality.stalled_after_s,
                          sample_rate_hz=profile.quality.sample_rate_hz)


def judge_candidates(frame: pl.DataFrame, profile: Profile, progress: Callable[[int, int], None] | None = None,
                          ) -> tuple[pl.DataFrame, list[ExpectationSuiteValidationResult]]:
    """The profile's suites over deduplicated candidates, classified (ready, pending, quarantined, ...)."""
    checked, results = run_suites(frame, quality_context(profile),
                                                  profile.quality.expectations or None, progress)
    return classify(checked), results


@task(name="quality", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def quality_stage_task(profile: Profile, deduped: StageFrame, ingest_id: str) -> StageFrame:
    """Run the suites over the deduplicated candidates; keep GX's results (JSON) and Data Docs of the run.

    The readable report is published from the saved results by the flow (tasks/review.py), on every
    run of the ingest: this task is cached, and a resumed run would otherwise show none.
    """
    frame, results = judge_candidates(deduped.load(), profile, lambda done, total: progress.report(
        "quality", done, total, "quality checks", unit="candidates", artifact=False))
    save_results(results, run_dir(ingest_id))
    docs = build_data_docs(results, data_docs_dir(ingest_id))
    get_run_logger().info("Great Expectations Data Docs of the quality suites (on this worker): %s", docs)
    return StageFrame.save(frame, stage="quality", ingest_id=ingest_id)
