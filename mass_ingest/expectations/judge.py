"""The quality stage's core: the profile's suites over deduplicated candidates, with what the pipeline knows
(subjects, implants) and the lab's clock; run by the flow's task (tasks/quality.py) and by `mass-ingest validate`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import polars as pl

from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.verdicts import classify, run_suites
from mass_ingest.profile import Profile
from mass_ingest.db.subjects import implanted_probe_counts, implanted_serials

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
