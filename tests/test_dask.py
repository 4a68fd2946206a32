"""Discovery fanned out on other task runners finds exactly what the default (threads) finds.

The flow's task runner comes from MASS_INGEST_TASK_RUNNER (mass_ingest/task_runners.py); here
a discovery-only flow runs the flow's own fan-out (flows.ingest.discover_shares) on a real
local Dask cluster of two worker processes, and on a process pool, against a real Prefect server.
"""

from __future__ import annotations

import uuid

import polars as pl
import pytest
import yaml
from prefect import flow
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows.ingest import discover_shares
from mass_ingest.errors import ConfigError
from mass_ingest.profile import load_profile
from mass_ingest.stage_cache import StageFrame
from mass_ingest.task_runners import configured_task_runner
from tasks.access import check_access
from tests.e2e import demo_campaign

CHUNKS = 3  # share N in three parts, share backup whole: four discovery tasks


@flow(name="discovery-only")
def discovery(profile_path: str, ingest_id: str) -> list[StageFrame]:
    profile = load_profile(profile_path)
    return discover_shares(profile, check_access(profile), ingest_id)


def discovered_frame(frames: list[StageFrame]) -> pl.DataFrame:
    return pl.concat([f.load() for f in frames]).sort("candidate_id")


@pytest.fixture
def chunked_profile(tmp_path):
    campaign = demo_campaign(tmp_path / "demo")
    data = yaml.safe_load(campaign.profile_path.read_text())
    data["shares"][0]["chunks"] = CHUNKS
    campaign.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(campaign.profile_path)


def run_discovery(profile_path: str, task_runner) -> list[StageFrame]:
    return discovery.with_options(task_runner=task_runner)(profile_path, f"test-{uuid.uuid4()}")


class TestConfiguredTaskRunner:
    def test_default_is_threads(self, monkeypatch) -> None:
        monkeypatch.delenv("MASS_INGEST_TASK_RUNNER", raising=False)
        assert isinstance(configured_task_runner(), ThreadPoolTaskRunner)

    def test_processes_with_a_worker_count(self, monkeypatch) -> None:
        monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", "processes:3")
        runner = configured_task_runner()
        assert isinstance(runner, ProcessPoolTaskRunner) and runner._max_workers == 3

    def test_dask_local_cluster_or_a_scheduler_address(self, monkeypatch) -> None:
        monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", "dask:2")
        local = configured_task_runner()
        assert (local.cluster_class, local.cluster_kwargs["n_workers"], local.address) == \
            ("distributed.LocalCluster", 2, None)
        monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", "dask:tcp://10.1.2.3:8786")
        assert configured_task_runner().address == "tcp://10.1.2.3:8786"

    @pytest.mark.parametrize(("value", "says"), [
        ("celery", "'celery' is not a task runner; write threads, processes, dask"),
        ("threads:0", "'0' is not a number of workers (1 or more)"),
        ("dask:many", "'many' is not a number of workers (1 or more) or a scheduler address"),
    ])
    def test_a_bad_value_names_the_variable_and_the_choices(self, monkeypatch, value: str, says: str) -> None:
        monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", value)
        with pytest.raises(ConfigError, match=f"MASS_INGEST_TASK_RUNNER='{value}': "):
            configured_task_runner()
        with pytest.raises(ConfigError) as err:
            configured_task_runner()
        assert says in str(err.value)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
class TestScaleOut:
    def test_a_local_dask_cluster_of_two_workers_finds_what_threads_find(self, chunked_profile, monkeypatch) -> None:
        from distributed import Client, LocalCluster, get_task_stream

        expected = discovered_frame(run_discovery(chunked_profile, ThreadPoolTaskRunner()))
        assert expected.height == 9  # the demo's 8 session folders on N, and the copy on backup
        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", f"dask:{cluster.scheduler_address}")
            with get_task_stream(client) as stream:
                frames = run_discovery(chunked_profile, configured_task_runner())
            workers = {t["worker"] for t in stream.data}
            assert len(stream.data) == CHUNKS + 1 and workers <= set(cluster.scheduler_info["workers"])
        assert len(frames) == CHUNKS + 1
        assert discovered_frame(frames).equals(expected)

    def test_a_process_pool_finds_what_threads_find(self, chunked_profile, monkeypatch) -> None:
        expected = discovered_frame(run_discovery(chunked_profile, ThreadPoolTaskRunner()))
        monkeypatch.setenv("MASS_INGEST_TASK_RUNNER", "processes:2")
        assert discovered_frame(run_discovery(chunked_profile, configured_task_runner())).equals(expected)
