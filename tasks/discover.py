"""Stage 2, discovery: walk one share and describe every session folder on it.

The walk is pruned by the layout templates: at each folder level only names that fit the
template's pattern are entered, so ``analysis/`` or ``histology/`` beside ``recordings/``
are never listed. Below a session folder, one pass collects the files that recording
systems recognise.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import polars as pl
import pyarrow as pa
from prefect import get_run_logger, task

from mass_ingest.candidates import SessionCandidate, candidates_to_table
from mass_ingest.describe import describe_session, folder_start
from mass_ingest.findings import Finding, finding
from mass_ingest.groups import split_by_recording
from mass_ingest.layouts import LayoutTemplate
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame
from mass_ingest.walk import Walker

_BATCH = 1000  # candidates per arrow batch


def session_folders(walker: Walker, template: LayoutTemplate, chunk: tuple[int, int] = (0, 1),
                    unmatched: list[str] | None = None) -> list[tuple[str, dict[str, str]]]:
    """(path, captured fields) of every folder at the template's depth that fits it.

    Args:
        chunk: (i, n): keep only every n-th subject folder starting at the i-th (sorted by name),
            so n tasks can walk one share in parallel without overlap.
        unmatched: when given, the paths of folders at the template's depth, below folders that
            fit it, that do not fit it themselves (session-like folders of another format) are added.
    """
    index, count = chunk
    frontier: list[tuple[str, dict[str, str]]] = [(walker.root, {})]
    last = len(template.segments) - 1
    for level, segment in enumerate(template.segments):
        next_frontier = []
        for path, fields in frontier:
            matches = []
            for name, child in walker.subfolders(path):
                captured = segment.match(name)
                if captured is not None:
                    matches.append((child, captured))
                elif unmatched is not None and level == last:
                    unmatched.append(child)
            if count > 1 and "subject" in segment.field_names:
                matches = matches[index::count]
            next_frontier.extend((child, {**fields, **captured}) for child, captured in matches)
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
    folders = "folder" if len(rels) == 1 else "folders"
    return finding("DISCOVER.UNMATCHED_FOLDERS", stage="discover", share=share, path=common,
                   message=f"{len(rels)} {folders} under {under} match no layout of this profile (e.g. {shown}); "
                   "they are not ingested: add a layout for their format if they are sessions")


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off while any discovery in this process runs.

    Discovery makes a few hundred short-lived objects per session and no reference cycles, so
    the collector finds nothing, yet each pass walks every object the worker holds (the imports
    alone are ~170,000): ~10-15% of discovery's time. Reference counting still frees everything;
    the collector is switched back on (if it was on) when the last discovery of the process ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


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
                    "DISCOVER.SYMLINK_LOOP", stage="discover", share=walker.share, path=match[0],
                    message=f"reached through a link to '{keep[0]}', which is listed itself; it is "
                    "described once, as that folder"))
    return [m for m in matches if m[0] not in dropped]


def discover_share(profile: Profile, share_name: str, progress: Callable[[int], None] | None = None,
                   chunk: tuple[int, int] = (0, 1)) -> tuple[pl.DataFrame, list[Finding]]:
    """Every session folder on one share as a candidate frame, plus findings about the share's tree.

    Args:
        profile: the validated profile.
        share_name: which of its shares to walk.
        progress: called with the number of session folders read so far, after each one.
        chunk: (i, n) to walk only the i-th of n interleaved parts of the share's subject folders.
    """
    with _gc_paused():
        return _discover_share(profile, share_name, progress, chunk)


def _discover_share(profile: Profile, share_name: str, progress: Callable[[int], None] | None,
                    chunk: tuple[int, int]) -> tuple[pl.DataFrame, list[Finding]]:
    share = profile.share(share_name)
    walker = Walker(share=share.name, root=share.root)
    # 1. Every layout's matches first: a folder that fits one layout's levels but not its date
    # (``imaging/60582`` under ``{subject}/{session_date}``) may be explained by another layout.
    matches = []
    others: list[str] = []  # session-like folders a layout does not fit
    prefixes = []
    for layout in share.layouts:
        template = LayoutTemplate.compile(layout.template)
        prefixes.append(template.prefix)
        for path, fields in session_folders(walker, template, chunk, others):
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
    # Candidates go to arrow every _BATCH sessions: compact, so memory per session stays flat
    # however large the share.
    keys: list[str] = []
    batch: list[SessionCandidate] = []
    tables: list[pa.Table] = []
    described_folders: set[str] = set()
    for rel, layout, template, path, fields, start in matches:
        if rel in described_folders or (isinstance(start, str) and rel in explained):
            continue
        described = describe_session(walker, share, profile, layout, template, path, fields, start)
        described_folders.add(rel)
        if not layout.combined:
            for part in split_by_recording(described, path, profile.timezone):
                keys.append(f"{rel}#{part.group}" if part.group else rel)
                batch.append(part)
        else:
            keys.append(rel)
            batch.append(described)
        if progress:
            progress(len(keys))
        if len(batch) >= _BATCH:
            tables.append(candidates_to_table(batch))
            batch = []
    tables.append(candidates_to_table(batch))
    frame = pl.from_arrow(pa.concat_tables(tables))
    if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):  # the walk's order is by folder level
        frame = frame[sorted(range(len(keys)), key=keys.__getitem__)]
    return frame, walker.findings


@task(name="discover-share", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json",
      task_run_name="discover {share_name} {chunk_index}/{chunks}")
def discover_share_task(profile: Profile, share_name: str, ingest_id: str, chunk_index: int = 0,
                        chunks: int = 1) -> StageFrame:
    """Discovery of one share, persisted as parquet and cached for the rest of this ingest."""
    logger = get_run_logger()
    started = last = time.monotonic()

    def report(n: int) -> None:  # a line every 10 s, so a long walk is visibly alive
        nonlocal last
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            logger.info(f"share {share_name} part {chunk_index + 1}/{chunks}: {n} session folders read "
                        f"in {last - started:.0f} s")

    frame, findings = discover_share(profile, share_name, progress=report, chunk=(chunk_index, chunks))
    logger.info(f"share {share_name}: {frame.height} session folders, {len(findings)} findings on the share, "
                f"{time.monotonic() - started:.1f} s")
    return StageFrame.save(frame, stage="discover", ingest_id=ingest_id, part=f"{share_name}-{chunk_index}",
                           findings=findings)
