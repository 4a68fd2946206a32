"""Discovery: walk one share and describe every session folder on it (the stage's core, without Prefect).

The walk is pruned by the layout templates: at each folder level only names that fit the
template's pattern are entered, so ``analysis/`` or ``histology/`` beside ``recordings/``
are never listed. Below a session folder, one pass collects the files that recording
systems recognise.

On a network share every listing and every file read waits for a round trip, so up to the
share's ``max_parallel`` of them are kept in flight by a thread pool (the system calls release
the GIL): the folders of one layout level are listed at once, and sessions are described (listed
and read) at once, a bounded window ahead of the one being collected. Results are merged in the
order a single thread would make them, so the frame and the findings do not depend on the pool.

The Prefect task is tasks/discover.py; `mass-ingest discover` calls this module without importing Prefect.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime

import polars as pl
import pyarrow as pa

try:
    import resource
    _RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)  # Linux
except ImportError:  # Windows
    _RUSAGE_THREAD = None

from mass_ingest.describe import folder_start
from mass_ingest.describing import Described, Helpers, collect, describe_one
from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.gc_pause import gc_paused
from mass_ingest.layouts import LayoutTemplate
from mass_ingest.listing import listing_frame
from mass_ingest.mounts import NETWORK, mount_kind
from mass_ingest.profile import Profile, Share
from mass_ingest.walk import Walker

_AHEAD = 4  # sessions described ahead of the one collected, per thread: keeps the pool busy, memory bounded


class Pace:
    """Whether a share's listings and reads wait on the share, so that keeping many in flight pays.

    On a network share each call waits for a round trip with the GIL released, and a pool of threads
    overlaps the waits. On a local disk or a warm cache the calls hardly wait, and threads only
    contend for the GIL: measured 2.4x *slower* than one thread on a 1,000,000-file share. So the
    file system's type decides where the kernel's mount table tells it (:mod:`mass_ingest.mounts`);
    elsewhere the first calls of a share run in the calling thread and are timed (wall against the
    thread's CPU time); the pool is used only if they spent a good part of their time waiting, and waited on the
    share: the thread gave up the CPU to wait (voluntary context switches, as a round trip or a disk
    read makes), not only lost it to other processes, which on a busy machine also stretches wall time.
    """

    SAMPLE_CALLS = 8  # calls timed before deciding: a few listings, or a few sessions described
    WAITING = 0.3  # share of wall time spent waiting from which the pool is used
    BLOCKED = 0.5  # voluntary context switches per call from which the calls are said to wait on the share

    def __init__(self, pool: Executor | None, where: str | None = None):
        """``where``: :func:`mass_ingest.mounts.mount_kind` of the share; a known kind decides without timing."""
        self._pool = pool
        self.decided = pool is None or self.SAMPLE_CALLS == 0  # 0: always the pool (tests of the pool)
        if not self.decided and where is not None:
            self.decided = True
            self._pool = pool if where == NETWORK else None
        self.calls, self.wall_s, self.cpu_s, self.blocked = 0, 0.0, 0.0, 0

    @property
    def pool(self) -> Executor | None:
        """The pool to use, once :attr:`decided` (None: this thread alone)."""
        return self._pool

    @property
    def waiting(self) -> float:
        return 1 - self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def timed(self, function: Callable, item):
        wall, cpu, switches = time.perf_counter(), time.thread_time(), _voluntary_switches()
        try:
            return function(item)
        finally:
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.thread_time() - cpu
            # Where the platform does not count switches per thread, each call counts as blocked: wall time decides.
            self.blocked += 1 if switches is None else _voluntary_switches() - switches
            self.calls += 1
            if self.calls >= self.SAMPLE_CALLS:
                self.decided = True
                if self.waiting < self.WAITING or self.blocked < self.BLOCKED * self.calls:
                    self._pool = None


def _voluntary_switches() -> int | None:
    """This thread's voluntary context switches so far (it blocked: I/O, a lock, a sleep); None where the
    platform does not count them per thread."""
    if _RUSAGE_THREAD is None:
        return None
    return resource.getrusage(_RUSAGE_THREAD).ru_nvcsw


def ordered_map(pace: Pace, function: Callable, items: Iterable, window: int) -> Iterator:
    """``map(function, items)`` with up to ``window`` calls in flight in the pace's pool; results in ``items``' order.

    While the pace is undecided, calls run (timed) in this thread; without a pool, the plain sequential
    map. An exception is raised where the sequential map would raise it (calls already submitted
    still finish in the pool).
    """
    items = iter(items)
    while not pace.decided:
        item = next(items, _END)
        if item is _END:
            return
        yield pace.timed(function, item)
    pool = pace.pool
    if pool is None:
        yield from map(function, items)
        return
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


_END = object()


def _subfolders(walker: Walker, path: str) -> tuple[list[tuple[str, str]], list[Finding], bool]:
    forked = walker.fork()
    return forked.subfolders(path), forked.findings, forked.links_followed


def session_folders(walker: Walker, template: LayoutTemplate, chunk: tuple[int, int] = (0, 1),
                    unmatched: list[str] | None = None, pace: Pace | None = None,
                    window: int = 1, on_found: Callable[[int], None] | None = None) -> list[tuple[str, dict[str, str]]]:
    """(path, captured fields) of every folder at the template's depth that fits it.

    Args:
        chunk: (i, n): keep only every n-th subject folder starting at the i-th (sorted by name),
            so n tasks can walk one share in parallel without overlap.
        unmatched: when given, the paths of folders at the template's depth, below folders that
            fit it, that do not fit it themselves (session-like folders of another format) are added.
        pace: lists the folders of a level ``window`` at a time in its pool, once it has seen that
            listings wait; the findings of each listing are added to ``walker.findings`` in the order of
            the folders, as without a pool.
        on_found: called with the number of folders found at the template's depth so far, after each
            listing of the level above it.
    """
    index, count = chunk
    frontier: list[tuple[str, dict[str, str]]] = [(walker.root, {})]
    last = len(template.segments) - 1
    for level, segment in enumerate(template.segments):
        next_frontier = []
        listings = ordered_map(pace or Pace(None), lambda path: _subfolders(walker, path),
                               [path for path, _ in frontier], window)
        for (path, fields), (subfolders, found, linked) in zip(frontier, listings):
            walker.findings.extend(found)
            walker.links_followed = walker.links_followed or linked
            matches = []
            for name, child in subfolders:
                captured = segment.match(name)
                if captured is not None:
                    matches.append((child, captured))
                elif unmatched is not None and level == last:
                    unmatched.append(child)
            if count > 1 and "subject" in segment.field_names:
                matches = matches[index::count]
            next_frontier.extend((child, {**fields, **captured}) for child, captured in matches)
            if on_found is not None and level == last:
                on_found(len(next_frontier))
        frontier = next_frontier
    return frontier


_EXAMPLES = 5  # folders named in the unmatched-folders finding; the rest are counted


def unmatched_folders_finding(share: str, rels: list[str], prefixes: list[str]) -> Finding | None:
    """One INFO finding for the session-like folders no layout of the profile fits, or None when there are none.

    They are not candidates: a folder of a format the profile does not describe is not a session
    of it (the lab's analysis copies, another modality's days); a person reads the count and the
    examples and adds a layout if they are sessions after all.
    """
    if not rels:
        return None
    common = prefixes[0] if prefixes and all(p == prefixes[0] for p in prefixes) else ""
    under = f"{common}/" if common else "the share"
    shown = ", ".join(rels[:_EXAMPLES]) + (f" and {len(rels) - _EXAMPLES} more" if len(rels) > _EXAMPLES else "")
    folders, match = ("folder", "matches") if len(rels) == 1 else ("folders", "match")
    return finding("DISCOVER.UNMATCHED_FOLDERS", stage=Stage.DISCOVER, share=share, path=common,
                   message=f"{len(rels)} {folders} under {under} {match} no layout of this profile (e.g. {shown}); "
                   "they are not ingested: add a layout for their format if they are sessions")


def _one_per_real_folder(walker: Walker, matches: list[tuple]) -> list[tuple]:
    """The matches without those reached through a link to a folder another match already is.

    Only when the walk followed a link above the sessions can two paths be one folder; then the
    one the share really holds there (its path is its real path) is kept, the other reported.
    """
    if not walker.links_followed:
        return matches
    by_real: dict[str, list[tuple]] = {}
    for match in matches:
        by_real.setdefault(os.path.realpath(match[3]), []).append(match)
    dropped: set[str] = set()
    for real, same in by_real.items():
        if len(same) < 2:
            continue
        real_rel = walker.real_rel(real)
        keep = next((m for m in same if m[0] == real_rel), min(same, key=lambda m: m[0]))
        for match in same:
            if match[0] != keep[0] and match[0] not in dropped:  # one folder may fit several layouts
                dropped.add(match[0])
                walker.findings.append(finding(
                    "DISCOVER.SYMLINK_LOOP", stage=Stage.DISCOVER, share=walker.share, path=match[0],
                    message=f"reached through a link to '{keep[0]}', which is listed itself; it is "
                    "described once, as that folder (remove the link if nothing needs it)"))
    return [m for m in matches if m[0] not in dropped]


def discover_share(profile: Profile, share_name: str, progress: Callable[[int, int], None] | None = None,
                   chunk: tuple[int, int] = (0, 1), max_parallel: int | None = None,
                   on_listed: Callable[[int], None] | None = None,
                   listings: list[pl.DataFrame] | None = None,
                   processes: int = 1) -> tuple[pl.DataFrame, list[Finding]]:
    """Every session folder on one share as a candidate frame, plus findings about the share's tree.

    Args:
        profile: the validated profile.
        share_name: which of its shares to walk.
        progress: ``progress(done, total)``: session folders read so far, of all found, after each one
            (in this thread).
        chunk: (i, n) to walk only the i-th of n interleaved parts of the share's subject folders.
        max_parallel: listings and reads in flight at once; the share's ``max_parallel`` unless given.
            1 walks in this thread alone. The result is the same for any value.
        on_listed: called with the number of folders listed so far (see :class:`Walker`).
        listings: when given, the session folders' listing is appended to it as one frame
            (:data:`mass_ingest.listing.LISTING_SCHEMA`, ``walk`` null, in path order): each folder
            described with its :func:`mass_ingest.walk.fingerprint` rows, each one matched but not
            described with null files. The fingerprint shown at approval is made of these (one more
            ``lstat`` per file, during the walk, instead of a second walk).
        processes: where the share's listings do not wait (see :class:`Pace`), describe the session
            folders in up to this many processes (this one and helpers, :mod:`mass_ingest.describing`);
            the result is the same for any value.
    """
    share = profile.share(share_name)
    threads = max_parallel or share.max_parallel
    helpers = _WhenWorth(processes - 1)
    try:
        with gc_paused(), (ThreadPoolExecutor(threads, thread_name_prefix=f"discover-{share.name}")
                            if threads > 1 else nullcontext()) as pool:
            found = _discover_share(profile, share, progress, chunk, Pace(pool, mount_kind(share.root)), threads,
                                    Walker(share=share.name, root=share.root, on_listed=on_listed), listings,
                                    helpers)
    except BaseException:
        helpers.close(failed=True)
        raise
    helpers.close()
    return found


class _WhenWorth:
    """Up to ``count`` helpers (:class:`mass_ingest.describing.Helpers`), started only once they will be used:
    the share's calls do not wait (:class:`Pace` decided for this thread alone) and the listing has found
    enough session folders to share (``Helpers.worth``). Started then, during the listing, their imports
    still overlap the rest of it; a network share, or a share of a few folders, starts no process."""

    def __init__(self, count: int):
        self.count = count
        self.started: Helpers | None = None

    def found(self, pace: Pace, folders: int) -> None:
        if self.started is None and self.count > 0 and self.usable(pace, folders):
            self.started = Helpers(self.count)

    @staticmethod
    def usable(pace: Pace, folders: int) -> bool:
        return pace.decided and pace.pool is None and Helpers.worth(folders)

    def close(self, failed: bool = False) -> None:
        if self.started is not None:
            self.started.close(failed)


def _discover_share(profile: Profile, share: Share, progress: Callable[[int, int], None] | None,
                    chunk: tuple[int, int], pace: Pace, threads: int, walker: Walker,
                    listings: list | None, helpers: _WhenWorth | None = None) -> tuple[pl.DataFrame, list[Finding]]:
    # 1. Every layout's matches first: a folder that fits one layout's levels but not its date
    # (``imaging/60582`` under ``{subject}/{session_date}``) may be explained by another layout.
    matches = []
    others: list[str] = []  # session-like folders a layout does not fit
    prefixes = []
    for layout in share.layouts:
        template = LayoutTemplate.compile(layout.template)
        prefixes.append(template.prefix)
        found = (lambda folders, before=len(matches): helpers.found(pace, before + folders)) if helpers else None
        for path, fields in session_folders(walker, template, chunk, others, pace, window=threads * _AHEAD,
                                            on_found=found):
            matches.append((walker.rel(path), layout, template, path, fields, folder_start(fields, template)))
    unexplained = unmatched_folders_finding(share.name, sorted({walker.rel(p) for p in others} -
                                                               {rel for rel, *_ in matches}), prefixes)
    if unexplained:
        walker.findings.append(unexplained)
    matches = _one_per_real_folder(walker, matches)
    walker.sessions = [m[3] for m in matches]
    explained = set()
    for rel, *_, start in matches:
        if isinstance(start, datetime):
            parts = rel.split("/")
            explained.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    # 2. Describe each folder once, by the first layout that fits it; an odd date is a finding
    # only where no layout explains the folder.
    described_folders: set[str] = set()
    todo = []
    for match in matches:
        rel, start = match[0], match[-1]
        if rel in described_folders or (isinstance(start, str) and rel in explained):
            continue
        described_folders.add(rel)
        todo.append(match)
    keep_listing = listings is not None

    def here(part: list, on_done: Callable[[int], None] | None) -> Described:
        return collect(part, ordered_map(pace, lambda m: describe_one(walker, share, profile, keep_listing, m),
                                         part, threads * _AHEAD), share.name if keep_listing else None, on_done)

    if helpers and helpers.started and helpers.usable(pace, len(todo)):
        described = helpers.started.describe(walker, share, profile, keep_listing, todo, here, progress)
    else:
        described = here(todo, (lambda done: progress(done, len(todo))) if progress else None)
    keys, tables = described.keys, described.tables
    frame = pl.from_arrow(pa.concat_tables(tables)).rechunk()  # one chunk, however many batches or processes
    if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):  # the walk's order is by folder level
        frame = frame[sorted(range(len(keys)), key=keys.__getitem__)]
    if keep_listing:
        not_described = sorted({rel for rel, *_ in matches} - described_folders)
        listings.append(pl.concat([*described.listings, listing_frame(share.name, not_described,
                                                                      [None] * len(not_described))])
                        .sort("rel_path"))
    return frame, walker.findings
