"""The README's deployment commands, run as child processes: work pool, `prefect deploy`, a worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POOL = "mass-ingest"


def command(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """A command run from the repository root, as a user types it there (``$PWD`` is the checkout)."""
    env = {**os.environ, "PWD": str(REPO)}
    result = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def deploy_all() -> None:
    """Create the work pool and deploy every deployment of prefect.yaml (README: Deployments)."""
    command("prefect", "--no-prompt", "work-pool", "create", POOL, "--type", "process", "--overwrite")
    command("mass_ingest.cli", "deploy")


def start_worker(log: Path) -> subprocess.Popen:
    """A process worker on the pool, polling every second (the default is 10 s)."""
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1",
           "PREFECT_LOGGING_LEVEL": "INFO"}
    with open(log, "w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                                   "--type", "process"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return worker


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for_final_state(flow_run_id, timeout: float = 240):
    """The flow run once it is in a final state (Completed, Failed, Crashed, Cancelled)."""
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} not finished within {timeout} s (state {run.state})")
