"""A share with every kind of odd folder issue 13 names, beside the demo campaign's good sessions.

Real files on disk: the demo campaign (mass_ingest.demo) plus one session per case, written by the
demo's own SpikeGLX writer and then broken in one way each (a FIFO, a link, a damaged .meta, ...).
:data:`CASES` says, per case, which folder holds it, whether it must go in, and the words its
quarantine reason (or finding) must hold.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mass_ingest.demo import DemoCampaign, age_folders, make_demo_campaign, write_ephys_session

SUBJECT = "102_1"                    # a demo subject with one implanted 1.0 probe
SERIAL = "18194823662"
COLLIDING = {"b26A": "18408400001", "b26a": "18408400002"}  # two subjects whose folders differ only in case
SAMPLES = 5


@dataclass(frozen=True)
class Case:
    name: str
    rel_path: str        # the session folder on share N
    inserted: bool       # the session goes in (a warning at most) or is quarantined
    words: tuple[str, ...]  # what its quarantine reasons (or, if inserted, its findings) must say
    code: str            # the finding code, or the failed expectation, that names the case


def _start(day: int) -> datetime:
    return datetime(2024, 6, day, 10, 0, 0)


def _rel(subject: str, day: int) -> str:
    return f"recordings/{subject}/{_start(day):%Y-%m-%d_%H-%M-%S}"


def _session(root: Path, subject: str, day: int, serial: str = SERIAL) -> Path:
    folder = root / _rel(subject, day)
    write_ephys_session(folder, subject, _start(day), "1.0", (serial,), SAMPLES)
    return folder


def _edit_meta(folder: Path, **values: str | None) -> None:
    meta = folder / "probe_1" / "npx.imec.ap.meta"
    lines = [line for line in meta.read_text().splitlines() if line.split("=", 1)[0] not in values]
    lines += [f"{k}={v}" for k, v in values.items() if v is not None]
    stamp = meta.stat().st_mtime
    meta.write_text("\n".join(lines) + "\n")
    os.utime(meta, (stamp, stamp))


def build(base: Path) -> tuple[DemoCampaign, list[Case]]:
    """The demo campaign with every case added to share N; the subjects CSV names the colliding subjects."""
    campaign = make_demo_campaign(base)
    root = campaign.shares["N"]
    cases: list[Case] = []

    # 1. A probe folder path longer than Recording.recording's varchar(255): refused before the transaction.
    folder = _session(root, SUBJECT, 1)
    deep = folder / ("x" * 200) / ("y" * 100)
    deep.parent.mkdir()
    shutil.move(folder / "probe_1", deep)
    cases.append(Case("value longer than its column", _rel(SUBJECT, 1), False,
                      ("INSERT.SCHEMA_LIMIT: Recording: recording", "varchar(255) holds at most 255"),
                      "INSERT.SCHEMA_LIMIT"))

    # 2. A 200-character subject folder: unknown, and its session id overflows Quarantine.session_id.
    long_subject = "s" * 200
    _session(root, long_subject, 2)
    cases.append(Case("200-character subject folder", _rel(long_subject, 2), False, ("is not known",),
                      "subject_known (+ QUARANTINE: session_id shortened)"))

    # 3. Two subjects whose folders differ only in case, on N (an SMB share: Windows aliases, ignores case).
    for subject, serial in COLLIDING.items():
        _session(root, subject, 3, serial)
        other = next(s for s in COLLIDING if s != subject)
        cases.append(Case(f"folder '{subject}' colliding with '{other}' by case", _rel(subject, 3), False,
                          ("DISCOVER.CASE_COLLISION", f"the same place as '{_rel(other, 3)}'"),
                      "DISCOVER.CASE_COLLISION"))

    # 4. A link back into its own probe folder: not followed, the probe stored once, the session goes in.
    folder = _session(root, SUBJECT, 4)
    (folder / "probe_1" / "again").symlink_to(".")
    cases.append(Case("link back into its own probe folder", _rel(SUBJECT, 4), True, ("DISCOVER.SYMLINK_LOOP",),
                      "DISCOVER.SYMLINK_LOOP"))

    # 5. A link into another session's probe folder: not followed (that probe is the other session's).
    folder = _session(root, SUBJECT, 5)
    (folder / "probe_2").symlink_to(root / _rel(SUBJECT, 4) / "probe_1")
    cases.append(Case("link into another session's probe folder", _rel(SUBJECT, 5), True,
                      ("DISCOVER.SYMLINK_LOOP",), "DISCOVER.SYMLINK_LOOP"))

    # 6-7. FIFOs where files belong: named as FIFOs, never opened.
    folder = _session(root, SUBJECT, 6)
    (folder / "probe_1" / "npx.imec.ap.meta").unlink()
    os.mkfifo(folder / "probe_1" / "npx.imec.ap.meta")
    cases.append(Case("FIFO named .ap.meta", _rel(SUBJECT, 6), False, ("DISCOVER.SPECIAL_FILE", "FIFO"),
                      "DISCOVER.SPECIAL_FILE"))
    folder = _session(root, SUBJECT, 7)
    (folder / "sessions.txt").unlink()
    os.mkfifo(folder / "sessions.txt")
    cases.append(Case("FIFO named sessions.txt", _rel(SUBJECT, 7), False, ("DISCOVER.SPECIAL_FILE", "FIFO"),
                      "DISCOVER.SPECIAL_FILE"))

    # 8-10. Implausible or missing .meta values (they used to go in as NULL).
    _edit_meta(_session(root, SUBJECT, 8), imSampRate="nan")
    cases.append(Case("imSampRate=nan", _rel(SUBJECT, 8), False, ("gives no usable imSampRate",),
                      "channels_and_rate_plausible (+ META.BAD_VALUE)"))
    _edit_meta(_session(root, SUBJECT, 9), fileSizeBytes="-3850")
    cases.append(Case("negative fileSizeBytes", _rel(SUBJECT, 9), False, ("gives no usable fileSizeBytes",),
                      "file_size_plausible (+ META.BAD_VALUE)"))
    _edit_meta(_session(root, SUBJECT, 10), nSavedChans=None)
    cases.append(Case("nSavedChans missing", _rel(SUBJECT, 10), False, ("gives no usable nSavedChans",),
                      "channels_and_rate_plausible"))

    # 11. A .bin that stopped growing short of its .meta's fileSizeBytes, untouched for days.
    folder = _session(root, SUBJECT, 11)
    ap_bin = folder / "probe_1" / "npx.imec.ap.bin"
    stamp = ap_bin.stat().st_mtime
    with open(ap_bin, "r+b") as fh:
        fh.truncate(770 * 2)
    os.utime(ap_bin, (stamp, stamp))
    cases.append(Case(".bin stopped growing", _rel(SUBJECT, 11), False,
                      (f"stopped growing at 1,540 of {770 * SAMPLES:,} bytes",), "ap_bin_not_stalled"))

    age_folders(root)  # folders dated by their newest file, as a copied tree is
    with open(campaign.subjects_csv, "a", encoding="utf-8") as fh:
        for subject, serial in COLLIDING.items():
            inserted = datetime(2024, 5, 1) + timedelta(hours=1)
            fh.write(f"{subject},{serial}_{subject}_1,{serial},neuropixels 1.0 - 3B,{inserted:%Y-%m-%d %H:%M:%S}\n")
    return campaign, cases
