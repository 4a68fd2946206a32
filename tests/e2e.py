"""Helpers for end-to-end tests: run the real CLI in a child process, find and resume paused runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import yaml

from mass_ingest.demo import DemoCampaign, make_demo_campaign


@contextmanager
def prefect_server_process(port: int, env: dict[str, str], log_path: Path, timeout: float = 120):
    """A real ``prefect server start`` on 127.0.0.1:port with ``env``; yields its API URL once healthy.

    Services stay on: task runs are recorded from events by one of them.
    """
    api = f"http://127.0.0.1:{port}/api"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Prefect server did not start; see {log_path}")
                time.sleep(0.5)
            yield api
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


def _child(env: dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """``mass-ingest`` as a module, with this session's environment plus ``env``; with a fault point in
    it, through the test-only entry that arms it (tests/faulty_cli.py)."""
    from tests.fault_points import VARIABLE

    env = {**os.environ, **(env or {})}
    if not env.get(VARIABLE):
        return [sys.executable, "-m", "mass_ingest.cli"], env
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([repo, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    return [sys.executable, "-m", "tests.faulty_cli"], env


def cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``mass-ingest`` in a child process with this session's environment (plus ``env``)."""
    command, env = _child(env)
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, env=env)


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    command, env = _child(env)
    return subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def json_out(stdout: str) -> dict:
    """The JSON object a ``--json`` command printed (the last thing on stdout)."""
    return json.loads(stdout[stdout.index("{"):])


def demo_campaign(base: Path, **approval) -> DemoCampaign:
    """A demo campaign whose profile waits for approval with the given settings (e.g. poll_s=1)."""
    campaign = make_demo_campaign(base)
    if approval:
        data = yaml.safe_load(campaign.profile_path.read_text())
        data["approval"] = {**data.get("approval", {}), **approval}
        campaign.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return campaign


def wait_for_paused_run(profile_path: Path, process: subprocess.Popen | None = None, timeout: float = 120):
    """The flow run of ``profile_path`` once it is paused for approval."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the run ended before pausing: {process.stderr.read()[-3000:]}")
            for run in client.read_flow_runs(flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=50):
                if run.parameters.get("profile_path") == str(profile_path):
                    return run
            time.sleep(0.5)
    raise AssertionError(f"no paused run of {profile_path} within {timeout} s")


def paused_demo_run(base: Path, *run_args: str):
    """A demo campaign with its subjects imported, and ``mass-ingest run`` of it paused for approval:
    (campaign, the run's process, the paused flow run)."""
    from mass_ingest.db.subjects import import_subjects_csv

    campaign = demo_campaign(base, poll_s=1)
    import_subjects_csv(campaign.subjects_csv)
    process = start_cli("run", str(campaign.profile_path), *run_args)
    return campaign, process, wait_for_paused_run(campaign.profile_path, process)

def task_states(flow_run_id) -> dict[str, str]:
    """Task-run name -> state name ('Completed', 'Cached', ...) of one flow run."""
    from mass_ingest.prefect_api import task_runs_of

    return {run.name: run.state.name for run in task_runs_of(flow_run_id)}


def latest_flow_run_id(profile_path: Path):
    from prefect import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50):
            if run.parameters.get("profile_path") == str(profile_path):
                return run.id
    raise AssertionError(f"no flow run of {profile_path}")
