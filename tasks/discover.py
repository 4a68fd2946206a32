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
from mass_ingest.findings import Finding, finding
from mass_ingest.groups import split_by_recording
from mass_ingest.layouts import LayoutTemplate, parse_session_start
from mass_ingest.locations import canonical_location
from mass_ingest.profile import Layout, Profile, Share
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame
from mass_ingest.systems import SessionFiles, systems_for
from mass_ingest.walk import Walker

_BATCH = 1000  # candidates per arrow batch
_SUSPICIOUS = ("_old", "_copy", "test", "backup")


def session_folders(walker: Walker, template: LayoutTemplate,
                    chunk: tuple[int, int] = (0, 1)) -> list[tuple[str, dict[str, str]]]:
    """(path, captured fields) of every folder at the template's depth that fits it.

    Args:
        chunk: (i, n): keep only every n-th subject folder starting at the i-th (sorted by name),
            so n tasks can walk one share in parallel without overlap.
    """
    index, count = chunk
    frontier: list[tuple[str, dict[str, str]]] = [(walker.root, {})]
    for segment in template.segments:
        next_frontier = []
        for path, fields in frontier:
            matches = [(child, captured) for name, child in walker.subfolders(path)
                       if (captured := segment.match(name)) is not None]
            if count > 1 and "subject" in segment.field_names:
                matches = matches[index::count]
            next_frontier.extend((child, {**fields, **captured}) for child, captured in matches)
        frontier = next_frontier
    return frontier


def start_time_findings(candidate: SessionCandidate, tolerance_s: float) -> list[Finding]:
    """A finding per probe whose .meta fileCreateTime is far from the folder's start time."""
    if candidate.session_start is None:
        return []
    out = []
    for probe in candidate.probes:
        if probe.file_create_time is None:
            continue
        gap = (probe.file_create_time - candidate.session_start).total_seconds()
        if abs(gap) > tolerance_s:
            out.append(finding(
                "EPHYS.CREATE_TIME_MISMATCH", stage="discover", share=candidate.share,
                path=f"{candidate.rel_path}/{probe.meta_file}",
                message=f"fileCreateTime {probe.file_create_time:%Y-%m-%d %H:%M:%S} is {gap / 60:+.0f} min from the "
                f"folder's start {candidate.session_start:%Y-%m-%d %H:%M:%S}; check the folder name",
                expected=f"within {tolerance_s:g} s of the folder's start"))
    return out


def describe_session(walker: Walker, share: Share, profile: Profile, layout: Layout, template: LayoutTemplate,
                     path: str, fields: dict[str, str], start: datetime | str) -> SessionCandidate:
    """Read one session folder: what each recording system finds, exclusion and projects.

    ``start`` is the folder's start time, or why its date did not parse (see :func:`_folder_start`).
    """
    rel = walker.rel(path)
    subject = fields["subject"]
    findings: list[Finding] = []
    if isinstance(start, str):
        findings.append(finding("DISCOVER.BAD_DATE", stage="discover", share=share.name, path=rel,
                                message=f"folder date {start}; rename the folder to the layout's format "
                                f"or exclude it", expected=template.template))
        start = None
    if any(marker in rel.rsplit("/", 1)[-1].lower() for marker in _SUSPICIOUS):
        findings.append(finding("DISCOVER.SUSPICIOUS_COPY", stage="discover", share=share.name, path=rel,
                                message="the folder name looks like an old, test or backup copy; "
                                "exclude it in the profile if it is not a real session"))
    # Problems met while listing this session's own folders belong to the session, so that a
    # session with an unreadable probe folder is stopped, not taken as complete.
    before = len(walker.findings)
    files = walker.files_below(path)
    findings.extend(walker.findings[before:])
    del walker.findings[before:]
    session = SessionFiles(share=share.name, session_rel=rel, subject=subject, files=files,
                           combined=layout.combined)
    found: dict[str, list] = {"probes": [], "bins_without_meta": [], "task_hints": [], "recordings": [],
                              "outputs": []}
    systems = []
    for system in systems_for(layout.modality, layout.systems):
        result = system.recognise(session)
        findings.extend(result.findings)
        if result.anything:  # else it found nothing to add
            systems.append(system.name)
            for key, values in found.items():
                values.extend(getattr(result, key))
    candidate = SessionCandidate(
        share=share.name, rel_path=rel, location=canonical_location(share, rel), subject=subject,
        session_start=start, modality=layout.modality, layout=template.template, systems=systems,
        findings=findings, **found)
    candidate.findings.extend(start_time_findings(candidate, profile.start_tolerance_s))
    session_id = candidate.session_id
    rule = profile.exclude.match(subject, session_id, rel, start)
    if rule:
        candidate.excluded_by = f"exclude {rule}"
        candidate.findings.append(finding("DISCOVER.EXCLUDED", stage="discover", share=share.name, path=rel,
                                          message=f"excluded by the profile ({candidate.excluded_by})"))
    candidate.projects = [p.name for p in profile.projects if p.match(subject, session_id, rel, start)]
    return candidate


def _folder_start(fields: dict[str, str], template: LayoutTemplate) -> datetime | str:
    """The start time the folder's name gives, or the reason it gives none."""
    try:
        return parse_session_start(fields, template.segments)
    except ValueError as exc:
        return str(exc)


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
    for layout in share.layouts:
        template = LayoutTemplate.compile(layout.template)
        for path, fields in session_folders(walker, template, chunk):
            matches.append((walker.rel(path), layout, template, path, fields, _folder_start(fields, template)))
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
