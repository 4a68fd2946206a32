"""Stage 3, deduplication, as a Prefect task: the core (what a status means, how it is decided) is
:mod:`mass_ingest.dedup`, which `mass-ingest validate` runs without Prefect."""

from __future__ import annotations

from prefect import task

from mass_ingest.dedup import deduplicate_discovered
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame
from tasks import STAGE_CACHE


@task(name="deduplicate", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def deduplicate_task(profile: Profile, discovered: list[StageFrame], ingest_id: str) -> StageFrame:
    frame = deduplicate_discovered([d.load() for d in discovered], profile.shares)
    return StageFrame.save(frame, stage="dedup", ingest_id=ingest_id)
