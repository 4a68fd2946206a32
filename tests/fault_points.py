"""Test-only fault points: make the flow's own process die or wait at an exact stage boundary.

The resilience tests need to kill the flow right after a given task committed its result,
which no outside observer can do reliably (the Prefect API hears of a finished task run
later, through events, while the flow has moved on). So the tests start the command through
``python -m tests.faulty_cli`` (tests/e2e.py does, when the variable is set), which arms the
flow module's tasks with :func:`arm` and then runs the command: when ``MASS_INGEST_TEST_FAULT``
is set, an ``on_completion`` hook acts when the named task completes. Prefect calls that hook
after the task's transaction committed, i.e. after its cached result is on disk. Nothing of
this ships in the flow: the production modules never import it.

``MASS_INGEST_TEST_FAULT="<task name>[#n] <action> [file]"``:

- ``<task name>`` is the task's name (``deduplicate``, ``insert-chunk``); ``#n`` acts on its n-th
  completion in this process (default 1), so ``insert-chunk#2`` is after the second chunk;
- ``kill``: SIGKILL this process (no cleanup, as when a worker dies);
- ``hold <file>``: write ``<file>.waiting`` and wait (up to 10 minutes) until ``<file>`` exists, so
  a test can act (restart the database, start a second run) while the flow stands still.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from prefect import Task

VARIABLE = "MASS_INGEST_TEST_FAULT"
_HOLD_LIMIT_S = 600


class _FaultPoint:
    def __init__(self, spec: str):
        parts = spec.split()
        if len(parts) < 2 or parts[1] not in ("kill", "hold") or (parts[1] == "hold") != (len(parts) == 3):
            raise ValueError(f"{VARIABLE}='{spec}' is not '<task>[#n] kill' or '<task>[#n] hold <file>'")
        name, _, nth = parts[0].partition("#")
        self.task_name, self.nth, self.action = name, int(nth or 1), parts[1]
        self.hold_file = Path(parts[2]) if self.action == "hold" else None
        self._seen = 0
        self._lock = threading.Lock()  # discovery tasks complete in several threads at once

    def __call__(self, task: Task, task_run, state) -> None:
        if task.name != self.task_name:
            return
        with self._lock:
            self._seen += 1
            if self._seen != self.nth:
                return
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        waiting_file(self.hold_file).write_text(f"{task_run.name}\n")
        deadline = time.monotonic() + _HOLD_LIMIT_S
        while not self.hold_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def waiting_file(hold_file: Path) -> Path:
    """The file a ``hold`` fault point writes when the flow stands still at it."""
    return hold_file.with_name(hold_file.name + ".waiting")


def arm(namespace: dict) -> None:
    """Attach the fault point named by the environment to every Prefect task in ``namespace``.

    :mod:`tests.faulty_cli` passes the flow module's namespace, so every task it uses (now or
    added later) can be a fault point. A no-op unless ``MASS_INGEST_TEST_FAULT`` is set.
    """
    spec = os.environ.get(VARIABLE, "").strip()
    if not spec:
        return
    point = _FaultPoint(spec)
    for value in list(namespace.values()):
        if isinstance(value, Task):
            value.on_completion_hooks.append(point)
