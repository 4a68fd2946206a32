"""Stage 4, data quality: each modality's Great Expectations suite over the deduplicated candidates.

The checks themselves live in :mod:`mass_ingest.expectations` (values, suites, GX runs, reasons,
verdicts; ``judge.py`` runs them with the pipeline's subjects and the clock and classifies each candidate:
ready, pending, quarantined); this stage keeps GX's results for the quality report and its Data Docs.
"""

from __future__ import annotations

from prefect import get_run_logger, task

from mass_ingest import progress
from mass_ingest.expectations.gx_run import build_data_docs
from mass_ingest.expectations.judge import judge_candidates
from mass_ingest.profile import Profile
from mass_ingest.quality_report import save_results
from mass_ingest.stage_cache import StageFrame, data_docs_dir, run_dir
from tasks import STAGE_CACHE


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
