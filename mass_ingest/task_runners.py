"""The Prefect task runner the flow fans its discovery chunks out on (MASS_INGEST_TASK_RUNNER).

``threads`` (the default) suits a workstation: discovery waits on the file server, not the CPU.
``processes`` uses every core of one machine; ``dask`` a local Dask cluster or, with an address,
a running one whose workers see the same shares and the same MASS_INGEST_HOME.
"""

from __future__ import annotations

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from mass_ingest import settings


def configured_task_runner() -> TaskRunner:
    """A new task runner as MASS_INGEST_TASK_RUNNER says (see :func:`mass_ingest.settings.task_runner_choice`)."""
    choice = settings.task_runner_choice()
    if choice.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=choice.workers)
    if choice.kind == "processes":
        return ProcessPoolTaskRunner(max_workers=choice.workers)
    from prefect_dask import DaskTaskRunner  # imported only when asked for: distributed is slow to import

    if choice.address:
        return DaskTaskRunner(address=choice.address)
    # Worker processes, one thread each: a walk holds the GIL while it builds candidates.
    kwargs = {"processes": True, "threads_per_worker": 1, "dashboard_address": None}
    if choice.workers:
        kwargs["n_workers"] = choice.workers
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=kwargs)
