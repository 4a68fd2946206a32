"""Stage 4, data quality: each modality's Great Expectations suite over the deduplicated candidates.

The checks themselves live in :mod:`mass_ingest.expectations` (values, suites, GX runs, reasons,
verdicts); this stage takes the pipeline's subjects and the clock, runs them, classifies each
candidate (ready, pending, quarantined) and publishes GX's Data Docs of the run.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact

from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.gx_run import build_data_docs
from mass_ingest.expectations.verdicts import check_quality_with_results, classify
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame, data_docs_dir
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


def check_profile_quality(frame: pl.DataFrame, profile: Profile
                          ) -> tuple[pl.DataFrame, list[ExpectationSuiteValidationResult]]:
    """The profile's suites over deduplicated candidates, classified (ready, pending, quarantined, ...)."""
    checked, results = check_quality_with_results(frame, quality_context(profile),
                                                  profile.quality.expectations or None)
    return classify(checked), results


@task(name="quality", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def quality_stage_task(profile: Profile, deduped: StageFrame, ingest_id: str) -> StageFrame:
    """Run the suites over the deduplicated candidates, and publish GX's Data Docs of the run."""
    frame, results = check_profile_quality(deduped.load(), profile)
    docs = build_data_docs(results, data_docs_dir(ingest_id))
    get_run_logger().info("Great Expectations Data Docs of the quality suites: %s", docs)
    create_link_artifact(key="quality-data-docs", link=docs.as_uri(), link_text="Data Docs",
                         description="Great Expectations Data Docs of this ingest's quality suites")
    return StageFrame.save(frame, stage="quality", ingest_id=ingest_id)
