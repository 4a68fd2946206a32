"""The temporary Prefect server a command starts dies with the command.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server in a child process and stops
it at exit (``atexit``). A command killed with SIGKILL never runs ``atexit``, so the server was
left running, reparented to pid 1. Here the server runs under a small wrapper
(``python -m mass_ingest.temporary_server <parent pid> <uvicorn args>``) whose watchdog thread
stops it as soon as its parent is gone; and every command first stops any server a dead
command left (one recorded in ``$PREFECT_HOME/mass-ingest-servers/<pid>`` whose parent no longer
runs), in case a watchdog could not act (the server was frozen, or the machine suspended).

Prefect 3.8.8 (pinned) starts the process in ``SubprocessASGIServer._run_uvicorn_command``; this
module replaces only that method, with the same command line and environment, wrapped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_WRAPPER = "mass_ingest.temporary_server"


def _registry() -> Path:
    home = os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")
    return Path(home) / "mass-ingest-servers"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_server(pid: int) -> bool:
    """Whether ``pid`` still is a wrapped temporary server (not another process that got its number)."""
    try:
        return _WRAPPER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_leftover_servers(wait_s: float = 10) -> list[int]:
    """Stop the temporary servers whose command is gone; return their process ids."""
    stopped = []
    registry = _registry()
    if not registry.is_dir():
        return stopped
    for entry in registry.iterdir():
        try:
            pid, parent = int(entry.name), int(entry.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _alive(pid) or not _is_our_server(pid):
            entry.unlink(missing_ok=True)
            continue
        if _alive(parent):
            continue  # its command still runs (a concurrent command): leave it
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while _alive(pid) and _is_our_server(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid) and _is_our_server(pid):
            os.kill(pid, signal.SIGKILL)
        entry.unlink(missing_ok=True)
        stopped.append(pid)
    return stopped


def install() -> None:
    """Start Prefect's temporary server under the watchdog wrapper (idempotent)."""
    from prefect.server.api import server

    cls = server.SubprocessASGIServer
    if getattr(cls, "_mass_ingest_wrapped", False):
        return

    def _run_uvicorn_command(self) -> subprocess.Popen:
        # Prefect's own command line and environment (prefect/server/api/server.py), run by the wrapper.
        import prefect
        from prefect.settings import get_current_settings

        server_env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        return subprocess.Popen(
            args=[sys.executable, "-m", _WRAPPER, str(os.getpid()), "--app-dir", str(prefect.__module_path__.parent),
                  "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                  "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, **server_env, **get_current_settings().to_environment_variables(exclude_unset=True)})

    cls._run_uvicorn_command = _run_uvicorn_command
    cls._mass_ingest_wrapped = True


def _watch(parent: int, record: Path) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    # The command is gone (killed or crashed): stop as uvicorn would on Ctrl-C, and make sure.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    record.unlink(missing_ok=True)
    os._exit(1)


def _serve(parent: int, uvicorn_args: list[str]) -> None:
    import atexit
    import runpy

    registry = _registry()
    registry.mkdir(parents=True, exist_ok=True)
    record = registry / str(os.getpid())
    record.write_text(f"{parent}\n")
    atexit.register(record.unlink, missing_ok=True)
    if os.getppid() != parent:  # the command died before the watchdog could start
        record.unlink(missing_ok=True)
        sys.exit(1)
    threading.Thread(target=_watch, args=(parent, record), daemon=True, name="parent-watchdog").start()
    sys.argv = ["uvicorn", *uvicorn_args]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2:])
