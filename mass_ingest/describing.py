"""Describing a share's matched session folders: in this process, or shared with helper processes.

Where listings wait on the share, discovery keeps many in flight in a thread pool (discovery.Pace).
Where they do not (a local disk, a warm cache), discovery is bound by Python's own time, about
0.5 ms per session folder of 70 files, and threads only contend for the GIL; then helper processes
describe contiguous slices of the folders on the machine's other cores, and the slices are put back
together in the folders' order, so the frame is the one a single process makes.

Helpers are started before the share is listed (:class:`Helpers`), so their imports overlap the
listing; a helper that fails (killed, out of memory) costs only time: its slice is described here.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
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


class Helpers:
    """Up to ``count`` helper processes (``python -m mass_ingest.describing``), started now so that their imports
    overlap the listing, that describe slices of a share's folders when :meth:`describe` is asked to.

    Plain child processes talking pickle over their standard input and output, not multiprocessing: its
    spawn imports the parent's main module again, which runs whatever a script does at its top level.
    """

    def __init__(self, count: int):
        package_parent = str(Path(__file__).resolve().parent.parent)  # the same code as this process
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_parent, os.environ.get("PYTHONPATH", "")])}
        self._processes = [subprocess.Popen([sys.executable, "-m", "mass_ingest.describing"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, env=env) for _ in range(count)]

    @staticmethod
    def worth(folders: int) -> bool:
        """Whether ``folders`` are enough to share with helpers."""
        return folders >= 2 * MIN_SLICE

    def close(self, failed: bool = False) -> None:
        """Stop the helpers: one that was given no work (perhaps still importing) or after a failure here at
        once; one that answered has exited."""
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
        """``todo`` described in slices, the first by ``here(slice, on_done)`` in this process, the others by
        the helpers; put together in ``todo``'s order."""
        parts = min(len(self._processes) + 1, len(todo) // MIN_SLICE)
        bounds = [len(todo) * i // parts for i in range(parts + 1)]
        slices = [todo[bounds[i]:bounds[i + 1]] for i in range(parts)]
        sent = []
        for process, part in zip(self._processes, slices[1:]):
            try:
                pickle.dump((profile, share.name, walker.root, walker.sessions, walker.links_followed, keep_listing,
                             part), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                process.stdin.close()
                sent.append((process, part))
            except OSError:  # a helper already gone: its slice is described here
                sent.append((None, part))
        total = len(todo)
        done_there = [0] * len(sent)

        def report(done_here: int) -> None:
            if progress:
                progress(min(total, done_here + sum(done_there)), total)

        out = here(slices[0], report)
        for i, (process, part) in enumerate(sent):
            result = _receive(process, lambda n, i=i: (done_there.__setitem__(i, n), report(len(slices[0]))))
            if result is None:  # a lost helper costs time, not the slice
                out.extend(here(part, None))
            else:
                keys, ipc, listing_ipc = result
                out.extend(Described(keys, [pa.ipc.open_stream(ipc).read_all()],
                                     [pl.read_ipc(listing_ipc)] if listing_ipc else []))
            done_there[i] = len(part)
            report(len(slices[0]))
        return out


def _receive(process: subprocess.Popen | None, on_progress: Callable[[int], None]) -> tuple | None:
    """A helper's slice (keys, arrow IPC bytes, fingerprint rows), its progress told on the way; None if it failed."""
    if process is None:
        return None
    try:
        while True:
            kind, value = pickle.load(process.stdout)
            if kind == "done":
                return value
            on_progress(value)
    except (EOFError, OSError, pickle.UnpicklingError):
        return None


_PROGRESS_EVERY = 50  # folders between a helper's progress messages


def _describe_slice(stdin, stdout) -> None:
    """A helper's work: one slice read from ``stdin``, progress and the result written to ``stdout``."""
    with gc_paused():  # as in discovery: no reference cycles are made, and each pass walks every object
        _describe_slice_now(stdin, stdout)


def _describe_slice_now(stdin, stdout) -> None:
    try:
        profile, share_name, root, sessions, links_followed, keep_listing, todo = pickle.load(stdin)
    except EOFError:  # the parent needed no help
        return
    share = profile.share(share_name)
    walker = Walker(share=share.name, root=root, sessions=sessions, links_followed=links_followed)

    def count(done: int) -> None:
        if done % _PROGRESS_EVERY == 0:
            pickle.dump(("progress", done), stdout)
            stdout.flush()

    described = collect(todo, (describe_one(walker, share, profile, keep_listing, m) for m in todo),
                        share.name if keep_listing else None, count)
    table = pa.concat_tables(described.tables)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    listing = None
    if described.listings:
        buffer = io.BytesIO()
        pl.concat(described.listings).write_ipc(buffer, compression="uncompressed")
        listing = buffer.getvalue()
    pickle.dump(("done", (described.keys, sink.getvalue().to_pybytes(), listing)), stdout,
                protocol=pickle.HIGHEST_PROTOCOL)
    stdout.flush()


if __name__ == "__main__":
    _describe_slice(sys.stdin.buffer, sys.stdout.buffer)
