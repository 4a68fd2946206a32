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


def flow_run_or_none(flow_run_id: UUID | str):
    """The flow run, or None when the server does not know it (or the id is not one)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        flow_run_id = UUID(str(flow_run_id))
    except ValueError:
        return None
    with get_client(sync_client=True) as client:
        try:
            return client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            return None


def flow_run_ids_named(name: str, prefix: bool = False) -> list[str]:
    """Ids of the flow runs called ``name`` (or whose name starts with it)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    names = FlowRunFilterName(like_=f"{name}%") if prefix else FlowRunFilterName(any_=[name])
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=names), sort=FlowRunSort.START_TIME_DESC,
                                     limit=50)
    return [str(r.id) for r in runs if r.name == name or (prefix and r.name.startswith(name))]


def add_flow_run_tag(flow_run_id: UUID | str, tag: str) -> None:
    """Add ``tag`` to a flow run's tags (the runs list filters and shows them)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run_id)))
        client.update_flow_run(run.id, tags=sorted({*run.tags, tag}))


def flow_run_url(flow_run_id: UUID | str) -> str | None:
    """The flow run's page in the Prefect UI, when a server with a UI is configured."""
    from prefect.settings import get_current_settings
    from prefect.utilities.urls import url_for

    if not get_current_settings().api.url:  # an ephemeral server has no UI to point at
        return None
    return url_for("flow-run", obj_id=str(flow_run_id))
