"""What an ingest would find and do, without Prefect, the ledger or insertion: `mass-ingest discover`
and `mass-ingest validate`.

They compose the same stage functions the flow does (access, discovery, dedup, quality), in this
process, so their verdicts are the flow's verdicts; `validate` only reads the pipeline (subjects,
sessions), `discover` does not touch it, nor import Prefect (the access and discovery cores are
in mass_ingest/; the database and Great Expectations only when validating).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import polars as pl

from mass_ingest.access import ShareAccess, check_access, scan_readable_shares
from mass_ingest.candidates import candidates_to_frame
from mass_ingest.discovery import discover_share
from mass_ingest.findings import Finding
from mass_ingest.frame_json import candidate_rows
from mass_ingest.input_files import read_input_file
from mass_ingest.profile import Profile


# A command run by a person has the machine's cores: where a share's listings do not wait (a local
# disk, a warm cache), its session folders are described in as many processes (mass_ingest/describing.py).
_PROCESSES = min(4, os.cpu_count() or 1)


def discovery_report(profile: Profile,
                     progress: Callable[[str, int, int | None], None] | None = None
                     ) -> tuple[dict, list[pl.DataFrame]]:
    """Each share's access, time and findings (`mass-ingest discover --json` without its candidates), and
    each readable share's candidates as JSON-ready frames (:func:`mass_ingest.frame_json.candidate_rows`).

    The candidates stay frames: a million-file share's turned into models and dicts cost more than its
    walk. ``progress(share, done, total)``: folders listed so far (``total`` None), then session folders read.
    """
    def timed(share: str) -> tuple[pl.DataFrame, list[Finding], float]:
        started = time.perf_counter()
        if progress is None:
            frame, findings = discover_share(profile, share, processes=_PROCESSES)
        else:
            frame, findings = discover_share(profile, share, progress=lambda done, total: progress(share, done, total),
                                             on_listed=lambda listed: progress(share, listed, None),
                                             processes=_PROCESSES)
        return frame, findings, round(time.perf_counter() - started, 3)

    access, found = scan_readable_shares(profile, timed)
    result: dict = {"profile": profile.name, "shares": []}
    frames = []
    for a in access:
        entry = {"share": a.share, "root": a.root, "readable": a.readable, "findings": []}
        if a.finding:
            entry["findings"].append(a.finding.model_dump(mode="json"))
        if a.share in found:
            frame, findings, entry["seconds"] = found[a.share]
            entry["findings"] += [f.model_dump(mode="json") for f in findings]
            frames.append(candidate_rows(frame))
        result["shares"].append(entry)
    return result, frames


def preview_ingest(profile: Profile, input_file: str | None = None
                   ) -> tuple[pl.DataFrame, list[ShareAccess], list[Finding]]:
    """The classified candidate frame, each share's access, and findings about the shares' trees.

    ``input_file``: a lab's input file whose sessions replace discovery, as `mass-ingest import` does.
    """
    from mass_ingest.expectations.gx_run import prepare

    # Great Expectations' import (seconds) in a thread while the share is walked (mostly by helper processes).
    # Importing GX imports requests, and with it urllib3's optional SOCKS module, which warns that PySocks is
    # missing; on the main thread GX's own catch_warnings hid it, but catch_warnings is not thread-safe.
    warnings.filterwarnings("ignore", message="SOCKS support in urllib3", module="urllib3")
    threading.Thread(target=prepare, name="prepare-great-expectations", daemon=True).start()
    # The database and Great Expectations: only when validating (and never Prefect, but for an import).
    from mass_ingest.db.held import held_frame, mark_held
    from mass_ingest.dedup import deduplicate_discovered
    from mass_ingest.expectations.judge import judge_candidates

    if input_file:
        from tasks.import_file import import_candidates  # a stage module: Prefect, only for an import

        candidates = import_candidates(profile, read_input_file(input_file), Path(input_file).name)
        access, frames, share_findings = check_access(profile), [candidates_to_frame(candidates)], []
    else:
        access, found = scan_readable_shares(profile, lambda share: discover_share(profile, share, processes=_PROCESSES))
        frames = [frame for frame, _ in found.values()]
        share_findings = [f for _, findings in found.values() for f in findings]
    checked, _ = judge_candidates(deduplicate_discovered(frames, profile.shares), profile)
    return mark_held(checked, held_frame()), access, share_findings
