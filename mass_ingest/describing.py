"""Describing a share's matched session folders: in this process, or shared with helper processes.

Where listings wait on the share, discovery keeps many in flight in a thread pool (discovery.Pace).
Where they do not (a local disk, a warm cache), discovery is bound by Python's own time, about
0.4 ms per session folder of 70 files, and threads only contend for the GIL; then helper processes
describe contiguous spans of the folders on the machine's other cores, handed out as each process
asks for more (this one from the front, helpers from the back), and the spans are put back together
in the folders' order, so the frame is the one a single process makes.

Helpers are started during the listing, once it has found enough session folders on a share whose calls
do not wait (discovery._WhenWorth), so their imports overlap the rest of it; a helper that fails (killed,
out of memory) costs only time: its spans are described here."""

from __future__ import annotations

import io
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa

from mass_ingest.candidates import SessionCandidate, candidates_to_table
from mass_ingest.describe import describe_session
from mass_ingest.gc_pause import gc_paused
from mass_ingest.groups import split_by_recording
from mass_ingest.layouts import LayoutTemplate
from mass_ingest.listing import listing_frame
from mass_ingest.profile import Layout, Profile, Share
from mass_ingest.walk import Walker, fingerprint

Match = tuple[str, Layout, LayoutTemplate, str, dict[str, str], "datetime | str"]
FolderRows = list[tuple[str, int, int]]

_BATCH = 1000  # candidates per arrow batch: compact, so memory per session stays flat however large the share
MIN_SLICE = 400  # session folders per process below which a helper's start-up costs more than it saves
MIN_SPAN = 20  # folders handed out at once at least: a helper's answer costs about a folder's time


def describe_one(walker: Walker, share: Share, profile: Profile, keep_listing: bool, match: Match
                 ) -> tuple[list[SessionCandidate], FolderRows | None]:
    """One matched folder described: the folder's candidate, or one per recording; with ``keep_listing``,
    also the folder's fingerprint rows (each file's size and time)."""
    _, layout, template, path, fields, start = match
    forked = walker.fork()
    files = forked.files_below(path)
    listed = (files, forked.findings)
    forked.findings = []
    described = describe_session(forked, share, profile, layout, template, path, fields, start, listed)
    rows = fingerprint(files, listed[1], walker.root_real) if keep_listing else None
    if layout.combined:
        return [described], rows
    return split_by_recording(described, path, profile.timezone), rows


@dataclass
class Described:
    """Folders described, in order: each candidate's key (folder, #group), the candidates as arrow, and
    the folders' listing (:data:`mass_ingest.listing.LISTING_SCHEMA` frames, when kept)."""

    keys: list[str] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)
    listings: list[pl.DataFrame] = field(default_factory=list)

    def extend(self, other: Described) -> None:
        self.keys += other.keys
        self.tables += other.tables
        self.listings += other.listings


def collect(todo: list[Match], described: Iterable, listing_share: str | None,
            progress: Callable[[int], None] | None = None) -> Described:
    """The results of describing ``todo`` (``described``, in the same order) batched into arrow tables;
    with ``listing_share`` (the share's name), the folders' fingerprint rows batched into listing frames."""
    out = Described()
    batch: list[SessionCandidate] = []
    rels: list[str] = []
    rows: list[FolderRows | None] = []
    for done, ((rel, *_), (parts, folder_rows)) in enumerate(zip(todo, described), 1):
        if listing_share is not None:
            rels.append(rel)
            rows.append(folder_rows)
        for part in parts:
            out.keys.append(f"{rel}#{part.group}" if part.group else rel)
            batch.append(part)
        if progress:
            progress(done)
        if len(batch) >= _BATCH:
            out.tables.append(candidates_to_table(batch))
            batch = []
        if len(rels) >= _BATCH:  # as arrow, not millions of tuples held to the end
            out.listings.append(listing_frame(listing_share, rels, rows))
            rels, rows = [], []
    if batch or not out.tables:
        out.tables.append(candidates_to_table(batch))
    if rels:
        out.listings.append(listing_frame(listing_share, rels, rows))
    return out


class _Spans:
    """Contiguous spans of a list of folders handed out as they are asked for: this process takes from the front,
    helpers from the back, each span a share of what is left (at least ``MIN_SPAN``), so that the spans shrink as
    the work runs out and every process finishes at about the same time, whatever a helper's start-up cost or
    another program's use of a core."""

    def __init__(self, total: int, parties: int):
        self._front, self._back, self._parties = 0, total, parties
        self._lock = threading.Lock()

    def _size(self) -> int:
        left = self._back - self._front
        return min(left, max(MIN_SPAN, left // (2 * self._parties)))

    def front(self) -> tuple[int, int] | None:
        with self._lock:
            if self._front >= self._back:
                return None
            span = (self._front, self._front + self._size())
            self._front = span[1]
            return span

    def back(self) -> tuple[int, int] | None:
        with self._lock:
            if self._front >= self._back:
                return None
            span = (self._back - self._size(), self._back)
            self._back = span[0]
            return span


class Helpers:
    """Up to ``count`` helper processes (``python -m mass_ingest.describing``), started now (discovery starts them
    during the listing, so that their imports overlap the rest of it), that describe spans of a share's folders
    when :meth:`describe` is asked to.

    Plain child processes talking pickle over their standard input and output, not multiprocessing: its
    spawn imports the parent's main module again, which runs whatever a script does at its top level.
    """

    def __init__(self, count: int):
        package_parent = str(Path(__file__).resolve().parent.parent)  # the same code as this process
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_parent, os.environ.get("PYTHONPATH", "")])}
        # -P: `-m` would put the working directory first on the path, so a command run inside another checkout
        # would give its helpers that checkout's code.
        self._processes = [subprocess.Popen([sys.executable, "-P", "-m", "mass_ingest.describing"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                           for _ in range(count)]

    @staticmethod
    def worth(folders: int) -> bool:
        """Whether ``folders`` are enough to share with helpers."""
        return folders >= 2 * MIN_SLICE

    def close(self, failed: bool = False) -> None:
        """Stop the helpers: one that was given no work (perhaps still importing) or after a failure here at
        once; one that was told the work is over has exited."""
        for process in self._processes:
            if failed or not process.stdin.closed:
                process.kill()
            for pipe in (process.stdin, process.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            process.wait()

    def describe(self, walker: Walker, share: Share, profile: Profile, keep_listing: bool, todo: list[Match],
                 here: Callable[[list[Match], Callable[[int], None] | None], Described],
                 progress: Callable[[int, int], None] | None) -> Described:
        """``todo`` described in spans (:class:`_Spans`), by ``here(span, on_done)`` in this process and by the
        helpers, each sent the whole list once and then the bounds of its spans (a feeding thread per helper,
        so this thread never waits on a helper still importing); put together in ``todo``'s order. A lost
        helper's spans are described here at the end."""
        total = len(todo)
        spans = _Spans(total, len(self._processes) + 1)
        header = (profile, share.name, walker.root, walker.sessions, walker.links_followed, keep_listing, todo)
        results: dict[int, Described] = {}
        lost: list[tuple[int, int]] = []
        done_there = [0] * len(self._processes)
        answered: queue.SimpleQueue = queue.SimpleQueue()  # a span described there, or None: a feeder ended
        # Each helper's first span is taken here, before this thread takes any: however long it takes to
        # import, a helper has its part.
        feeders = [threading.Thread(target=_feed, args=(process, header, spans, spans.back(), results, lost,
                                                        done_there, i, answered), daemon=True, name=f"helper-{i}")
                   for i, process in enumerate(self._processes)]
        for feeder in feeders:
            feeder.start()
        done_here = 0
        shown = -1

        def report(done: int) -> None:
            nonlocal shown
            count = min(total, done_here + done + sum(done_there))
            if progress and count != shown:  # each count once: the end is shown once, not per helper's answer
                shown = count
                progress(count, total)

        while (span := spans.front()) is not None:
            results[span[0]] = here(todo[span[0]:span[1]], report)
            done_here += span[1] - span[0]
        running = len(feeders)
        while running:
            if answered.get() is None:
                running -= 1
            report(0)
        for start, end in sorted(lost):  # a lost helper costs time, not its spans
            results[start] = here(todo[start:end], None)
            done_here += end - start
            report(0)
        out = Described()
        for start in sorted(results):
            out.extend(results[start])
        return out


_HELD = 2  # spans a helper holds at once: the next is there when it answers, so it never waits for this process


def _feed(process: subprocess.Popen, header: tuple, spans: _Spans, first: tuple[int, int] | None,
          results: dict[int, Described], lost: list[tuple[int, int]], done_there: list[int], index: int,
          answered: queue.SimpleQueue) -> None:
    """One helper fed ``first``, then spans from the back of ``spans`` until none is left (a thread of its own); its
    answers put in ``results`` by their first folder, the spans it held when it failed in ``lost``."""
    held: deque[tuple[int, int]] = deque()

    def send() -> None:
        while len(held) < _HELD and (span := spans.back()) is not None:
            held.append(span)  # before it is sent: a span taken is described somewhere, even if sending fails
            pickle.dump(span, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        process.stdin.flush()

    try:
        if first is not None:
            held.append(first)  # lost with the others if the helper is gone already
        pickle.dump(header, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        if first is not None:
            pickle.dump(first, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        process.stdin.flush()
        while held:
            kind, value = pickle.load(process.stdout)
            if kind == "done":
                start, keys, ipc, listing_ipc = value
                results[start] = Described(keys, [pa.ipc.open_stream(ipc).read_all()],
                                           [pl.read_ipc(listing_ipc)] if listing_ipc else [])
                span = held.popleft()
                done_there[index] += span[1] - span[0]
                answered.put(span)
            send()  # after "ready" too: the helper is there, give it its second span
    except Exception:  # noqa: BLE001 - gone, or an answer that does not read: its spans are described here
        lost.extend(held)
    finally:
        try:
            process.stdin.close()  # the end of the work: the helper exits
        except OSError:
            pass
        answered.put(None)


def _helper_main(stdin, stdout) -> None:
    """A helper process's whole work (``python -m mass_ingest.describing``): the folders read from ``stdin``, then
    spans of them described until ``stdin`` ends, each answered on ``stdout`` (:func:`_answer_spans`)."""
    with gc_paused():  # as in discovery: no reference cycles are made, and each pass walks every object
        _answer_spans(stdin, stdout)


def _answer_spans(stdin, stdout) -> None:
    """The header (profile, share, the folders to describe), then each span's bounds read and answered."""
    try:
        profile, share_name, root, sessions, links_followed, keep_listing, todo = pickle.load(stdin)
    except EOFError:  # the parent needed no help
        return
    share = profile.share(share_name)
    walker = Walker(share=share.name, root=root, sessions=sessions, links_followed=links_followed)
    pickle.dump(("ready", None), stdout)
    stdout.flush()
    while True:
        try:
            start, end = pickle.load(stdin)
        except EOFError:  # no more work
            return
        part = todo[start:end]
        described = collect(part, (describe_one(walker, share, profile, keep_listing, m) for m in part),
                            share.name if keep_listing else None)
        table = pa.concat_tables(described.tables)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        listing = None
        if described.listings:
            buffer = io.BytesIO()
            pl.concat(described.listings).write_ipc(buffer, compression="uncompressed")
            listing = buffer.getvalue()
        pickle.dump(("done", (start, described.keys, sink.getvalue().to_pybytes(), listing)), stdout,
                    protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    _helper_main(sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout.flush()
    # Everything is answered and the parent waits for this exit: freeing the imports and the work's objects one
    # by one (~0.1 s) would only delay it.
    os._exit(0)
