"""Progress of long work (discovery, quality, insertion), shown while it goes.

One call, :func:`report`, from the stage's thin Prefect layer (a callback of the walk, a chunk of
insertion). Inside a Prefect run it keeps a *progress artifact* per key up to date (the run page
shows the bar); on a terminal it draws a rich progress bar; otherwise (a worker's log, a pipe) it
prints a plain line to stderr now and then. Updates are throttled, so calling it per folder costs little.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

_ARTIFACT_EVERY_S = 2.0  # at most one API call per key this often (and always at the end)
_LINE_EVERY_S = 10.0  # plain lines, when stdout is not a terminal
_SKIP_WITHIN_S = 0.05  # reports closer together than this are not shown (but the last)
_LOCK = threading.Lock()


@dataclass
class _State:
    artifact: Any = None  # the progress artifact's id in the current run, once made
    run: str = ""
    last_artifact: float = 0.0
    last_line: float = 0.0
    bar: Any = None  # the rich task id, on a terminal
    done_shown: bool = False
    last_call: float = -1.0  # when a report was last shown at all
    bar_total: int | None = None  # the total of that report (a change from unknown to known is always shown)


_STATES: dict[str, _State] = {}
_LIVE: Any = None  # one rich Progress for the process, started on first use


def artifact_key(key: str) -> str:
    """A Prefect artifact key (lower case letters, digits, dashes) for ``key``."""
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "progress"


def _run_id() -> str:
    from prefect.context import FlowRunContext, TaskRunContext

    task = TaskRunContext.get()
    if task is not None and task.task_run.flow_run_id:
        return str(task.task_run.flow_run_id)
    flow = FlowRunContext.get()
    return str(flow.flow_run.id) if flow is not None and flow.flow_run is not None else ""


def _percent(done: int, total: int | None) -> float:
    return 100.0 * min(done, total) / total if total else 0.0


def _artifact(state: _State, key: str, done: int, total: int | None, text: str, final: bool) -> None:
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    run = _run_id()
    if not run:
        return
    now = time.monotonic()
    if state.artifact is None or state.run != run:
        state.artifact = create_progress_artifact(_percent(done, total), key=artifact_key(key), description=text)
        state.run, state.last_artifact = run, now
    elif final or now - state.last_artifact >= _ARTIFACT_EVERY_S:
        update_progress_artifact(state.artifact, _percent(done, total), description=text)
        state.last_artifact = now


def _terminal(state: _State, key: str, done: int, total: int | None, what: str, text: str, final: bool) -> None:
    global _LIVE
    if sys.stdout.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if _LIVE is None:
            _LIVE = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), transient=False)
            _LIVE.start()
        if state.bar is None:
            state.bar = _LIVE.add_task(what, total=total)
        _LIVE.update(state.bar, completed=done, total=total, description=what)
        return
    now = time.monotonic()
    if (final and not state.done_shown) or now - state.last_line >= _LINE_EVERY_S:
        print(text, file=sys.stderr, flush=True)  # stdout may be a --json answer
        state.last_line, state.done_shown = now, final


def report(key: str, done: int, total: int | None, what: str, *, unit: str = "", terminal: bool = True,
           artifact: bool = True) -> None:
    """``done`` of ``total`` (``None`` while the total is not known yet) for the work named ``key``.

    Args:
        key: One per piece of work and run, e.g. ``discover-N-0``; also the artifact's key.
        what: Its name for people, e.g. "discovery of share N".
        unit: What is counted, e.g. "session folders".
        terminal: Also draw it on this process's terminal (or print plain lines).
        artifact: Also keep a progress artifact of the Prefect run (when inside one) up to date.
    """
    final = total is not None and done >= total
    now = time.monotonic()
    with _LOCK:  # discovery's threads report at once; an uncontended lock costs ~0.1 us
        state = _STATES.get(key)
        # Called once a folder by discovery (70,000 times on a 1,000,000-file share): more often than anyone
        # reads it, so a report within _SKIP_WITHIN_S of the last shown one is dropped (the last one never is).
        if not final and state is not None and now - state.last_call < _SKIP_WITHIN_S and \
                (total is None) == (state.bar_total is None):
            return
        count = f"{done:,} of {total:,}" if total is not None else f"{done:,}"
        text = f"{what}: {count} {unit}".rstrip() + (" (done)" if final else "")
        if state is None:  # plain lines from _LINE_EVERY_S on: a short piece of work shows only its end
            state = _STATES[key] = _State(last_line=now)
        state.last_call, state.bar_total = now, total
        try:
            if artifact:
                _artifact(state, key, done, total, text, final)
        except Exception as exc:  # noqa: BLE001 - showing progress must never stop the work it shows
            print(f"progress of {key} not shown in Prefect: {exc}", file=sys.stderr)
        if terminal:
            _terminal(state, key, done, total, what, text, final)
        if final:
            _STATES.pop(key, None)


def stop() -> None:
    """End the terminal's progress display (the bars stay on screen)."""
    global _LIVE
    with _LOCK:
        if _LIVE is not None:
            _LIVE.stop()
            _LIVE = None
