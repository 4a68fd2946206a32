"""The temporary Prefect server a command starts dies with it, even by SIGKILL (issue 13, item 7).

Real processes: the command line in a child without PREFECT_API_URL (so Prefect starts its temporary
server), killed with SIGKILL; then no server of it may be left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mass_ingest import temporary_server
from tests.e2e import cli, demo_campaign


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_leftover_server_of_a_dead_command_is_stopped_and_a_live_ones_is_kept(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    registry = tmp_path / "mass-ingest-servers"
    registry.mkdir()
    # Stand-ins for servers: processes whose command line names the wrapper, as a real one does.
    stand_ins = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "mass_ingest.temporary_server"])
                 for _ in range(2)]
    dead_parent = subprocess.Popen(["true"])
    dead_parent.wait()
    (registry / str(stand_ins[0].pid)).write_text(f"{dead_parent.pid}\n")   # its command was killed
    (registry / str(stand_ins[1].pid)).write_text(f"{os.getpid()}\n")       # its command still runs
    (registry / "999999999").write_text("1\n")                              # long gone
    try:
        assert temporary_server.stop_leftover_servers() == [stand_ins[0].pid]
        stand_ins[0].wait(10)
        assert stand_ins[1].poll() is None
        assert sorted(p.name for p in registry.iterdir()) == [str(stand_ins[1].pid)]
    finally:
        for process in stand_ins:
            process.kill()
            process.wait()


def test_the_next_command_stops_a_leftover_server(tmp_path: Path) -> None:
    # A server whose watchdog could not act (frozen, or the machine suspended): any later command stops it first.
    registry = tmp_path / "mass-ingest-servers"
    registry.mkdir()
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "mass_ingest.temporary_server"])
    dead_parent = subprocess.Popen(["true"])
    dead_parent.wait()
    (registry / str(stand_in.pid)).write_text(f"{dead_parent.pid}\n")
    try:
        result = cli("--help", env={"PREFECT_HOME": str(tmp_path)}, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert stand_in.wait(30) is not None and list(registry.iterdir()) == []
    finally:
        stand_in.kill()
        stand_in.wait()


@pytest.mark.slow
@pytest.mark.usefixtures("clean_database")
def test_after_kill_9_no_temporary_prefect_server_is_left(tmp_path: Path) -> None:
    campaign = demo_campaign(tmp_path / "campaign", timeout_s=600)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    command = subprocess.Popen([sys.executable, "-m", "mass_ingest.cli", "run", str(campaign.profile_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    registry = tmp_path / "prefect-home" / "mass-ingest-servers"
    deadline = time.monotonic() + 300
    while not (registry.is_dir() and any(registry.iterdir())):
        assert command.poll() is None, "the command ended before its temporary server started"
        assert time.monotonic() < deadline, "no temporary server within 300 s"
        time.sleep(0.5)
    [server] = [int(p.name) for p in registry.iterdir()]
    assert alive(server)
    command.send_signal(signal.SIGKILL)
    command.wait()
    deadline = time.monotonic() + 30
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(server), f"temporary Prefect server {server} still runs 30 s after its command was killed"
