"""Reading runs back from the Prefect API."""

from __future__ import annotations

from uuid import UUID


def task_runs_of(flow_run_id: UUID | str) -> list:
    """Every task run of one flow run, in the order they were scheduled."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    # Explicit sort and limit: this server version rejects the client's defaults of None.
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                     sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)


def stage_seconds(flow_run_id: UUID | str) -> dict[str, float]:
    """Seconds spent in each stage of a flow run (the task runs of a stage summed)."""
    times: dict[str, float] = {}
    for run in task_runs_of(flow_run_id):
        name = run.name.split("-")[0] if run.name.startswith(("insert", "discover")) else run.name.rsplit("-", 1)[0]
        times[name] = times.get(name, 0.0) + (run.total_run_time.total_seconds() if run.total_run_time else 0.0)
    return times
