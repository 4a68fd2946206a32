"""Pipeline stages, one module each: a plain core function and a thin Prefect task."""

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

# Prefect's default cache key includes the flow-run id, so a new run would redo every stage: stage tasks key
# on their inputs (small, JSON-able: profile, share, ingest id; frames are never task inputs) and their source
# (see mass_ingest/stage_cache.py for the frames they persist).
STAGE_CACHE: CachePolicy = INPUTS + TASK_SOURCE
