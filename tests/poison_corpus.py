"""A share with every kind of odd folder issue 13 names, beside the demo campaign's good sessions.

Real files on disk: the demo campaign (mass_ingest.demo) plus one session per case, written by the
demo's own SpikeGLX writer and then broken in one way each (a FIFO, a link, a damaged .meta, ...).
:func:`build` returns, per case (the demo's own messy folders included), which folder holds it,
what must become of it, the words its reasons must hold and the finding codes it must carry.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from mass_ingest.demo import DemoCampaign, age_folders, make_demo_campaign, write_ephys_session

SUBJECT = "102_1"                    # a demo subject with one implanted 1.0 probe
SERIAL = "18194823662"
COLLIDING = {"b26A": "18408400001", "b26a": "18408400002"}  # two subjects whose folders differ only in case
SAMPLES = 5
STALLED_AFTER_S = 3 * 86400  # the profile's limit (quality.stalled_after_s), not the default day
OUTCOMES = ("inserted", "quarantined", "pending", "excluded", "copy")


@dataclass(frozen=True)
class Case:
    name: str
    rel_path: str           # the session folder on ``share``
    outcome: str            # one of OUTCOMES
    words: tuple[str, ...]  # what its quarantine (or pending) reasons must say
    codes: tuple[str, ...]  # finding codes it must carry: stored with its quarantine, or its discovery findings
    share: str = "N"


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


def _short_bin(folder: Path, mtime: float | None) -> None:
    """probe_1's .ap.bin cut to 2 of its samples, dated ``mtime`` (None: as written, at the recording)."""
    ap_bin = folder / "probe_1" / "npx.imec.ap.bin"
    stamp = ap_bin.stat().st_mtime if mtime is None else mtime
    with open(ap_bin, "r+b") as fh:
        fh.truncate(770 * 2)
    os.utime(ap_bin, (stamp, stamp))


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
    cases.append(Case("value longer than its column", _rel(SUBJECT, 1), "quarantined",
                      ("INSERT.SCHEMA_LIMIT: Recording: recording", "varchar(255) holds at most 255"),
                      ("INSERT.SCHEMA_LIMIT",)))

    # 2. A 200-character subject folder: unknown, and its session id overflows Quarantine.session_id.
    long_subject = "s" * 200
    _session(root, long_subject, 2)
    cases.append(Case("200-character subject folder", _rel(long_subject, 2), "quarantined",
                      ("is not known", "QUARANTINE: session_id has 220 characters, more than the 128"),
                      ("QUALITY.SUBJECT_KNOWN",)))

    # 3. Two subjects whose folders differ only in case, on N (an SMB share: Windows aliases, ignores case).
    for subject, serial in COLLIDING.items():
        _session(root, subject, 3, serial)
        other = next(s for s in COLLIDING if s != subject)
        cases.append(Case(f"folder '{subject}' colliding with '{other}' by case", _rel(subject, 3), "quarantined",
                          ("DISCOVER.CASE_COLLISION", f"the same place as '{_rel(other, 3)}'"),
                          ("QUALITY.NO_DISCOVERY_ERRORS", "DISCOVER.CASE_COLLISION")))

    # 4. A link back into its own probe folder: not followed, the probe stored once, the session goes in.
    folder = _session(root, SUBJECT, 4)
    (folder / "probe_1" / "again").symlink_to(".")
    cases.append(Case("link back into its own probe folder (probe_1/again -> .)", _rel(SUBJECT, 4), "inserted", (),
                      ("DISCOVER.SYMLINK_LOOP",)))

    # 5. A link into another session's probe folder: not followed (that probe is the other session's).
    folder = _session(root, SUBJECT, 5)
    (folder / "probe_2").symlink_to(root / _rel(SUBJECT, 4) / "probe_1")
    cases.append(Case("link into another session's probe folder", _rel(SUBJECT, 5), "inserted", (),
                      ("DISCOVER.SYMLINK_LOOP",)))

    # 6-7. FIFOs where files belong: named as FIFOs, never opened.
    folder = _session(root, SUBJECT, 6)
    (folder / "probe_1" / "npx.imec.ap.meta").unlink()
    os.mkfifo(folder / "probe_1" / "npx.imec.ap.meta")
    cases.append(Case("FIFO named .ap.meta", _rel(SUBJECT, 6), "quarantined", ("DISCOVER.SPECIAL_FILE", "FIFO"),
                      ("QUALITY.NO_DISCOVERY_ERRORS", "DISCOVER.SPECIAL_FILE")))
    folder = _session(root, SUBJECT, 7)
    (folder / "sessions.txt").unlink()
    os.mkfifo(folder / "sessions.txt")
    cases.append(Case("FIFO named sessions.txt", _rel(SUBJECT, 7), "quarantined", ("DISCOVER.SPECIAL_FILE", "FIFO"),
                      ("QUALITY.NO_DISCOVERY_ERRORS", "DISCOVER.SPECIAL_FILE")))

    # 8-12. Implausible or missing .meta values (they used to go in as NULL).
    _edit_meta(_session(root, SUBJECT, 8), imSampRate="nan")
    cases.append(Case("imSampRate=nan", _rel(SUBJECT, 8), "quarantined", ("gives no usable imSampRate",),
                      ("QUALITY.CHANNELS_AND_RATE_PLAUSIBLE", "META.BAD_VALUE")))
    _edit_meta(_session(root, SUBJECT, 9), fileSizeBytes="-3850")
    cases.append(Case("negative fileSizeBytes", _rel(SUBJECT, 9), "quarantined", ("gives no usable fileSizeBytes",),
                      ("QUALITY.FILE_SIZE_PLAUSIBLE", "META.BAD_VALUE")))
    _edit_meta(_session(root, SUBJECT, 10), nSavedChans=None)
    cases.append(Case("nSavedChans missing", _rel(SUBJECT, 10), "quarantined", ("gives no usable nSavedChans",),
                      ("QUALITY.CHANNELS_AND_RATE_PLAUSIBLE",)))
    _edit_meta(_session(root, SUBJECT, 12), imSampRate=None)
    cases.append(Case("imSampRate missing", _rel(SUBJECT, 12), "quarantined", ("gives no usable imSampRate",),
                      ("QUALITY.CHANNELS_AND_RATE_PLAUSIBLE",)))
    _edit_meta(_session(root, SUBJECT, 13), fileSizeBytes=None)
    cases.append(Case("fileSizeBytes missing", _rel(SUBJECT, 13), "quarantined", ("gives no usable fileSizeBytes",),
                      ("QUALITY.FILE_SIZE_PLAUSIBLE",)))

    # 11, 14. A .bin short of its .meta's fileSizeBytes: unchanged longer than the profile's limit it stopped
    # growing; unchanged for a day, under that limit (and past the default), it may still be arriving.
    _short_bin(_session(root, SUBJECT, 11), None)
    cases.append(Case(".bin stopped growing (unchanged for months, limit 3 days)", _rel(SUBJECT, 11), "quarantined",
                      (f"stopped growing at 1,540 of {770 * SAMPLES:,} bytes",), ("QUALITY.AP_BIN_NOT_STALLED",)))
    _short_bin(_session(root, SUBJECT, 14), time.time() - 86400)
    cases.append(Case(".bin short, unchanged for a day (under the 3-day limit)", _rel(SUBJECT, 14), "pending",
                      (f"has 1,540 of {770 * SAMPLES:,} bytes announced: still being copied?",), ()))

    age_folders(root)  # folders dated by their newest file, as a copied tree is
    with open(campaign.subjects_csv, "a", encoding="utf-8") as fh:
        for subject, serial in COLLIDING.items():
            inserted = datetime(2024, 5, 1) + timedelta(hours=1)
            fh.write(f"{subject},{serial}_{subject}_1,{serial},neuropixels 1.0 - 3B,{inserted:%Y-%m-%d %H:%M:%S}\n")
    profile = yaml.safe_load(campaign.profile_path.read_text())
    profile["quality"] = {**profile.get("quality", {}), "stalled_after_s": STALLED_AFTER_S}
    campaign.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return campaign, cases + DEMO_CASES


# The messy-share cases the demo campaign already holds (mass_ingest/demo.py), beside the new ones.
DEMO_CASES = [
    Case(".ap.bin without its .ap.meta (demo)", "recordings/26018/2024-04-25_11-08-02", "quarantined",
         ("has no .ap.meta",), ("QUALITY.EVERY_AP_BIN_HAS_META",)),
    Case("subject missing from the subjects table (demo)", "recordings/m9/2024-06-03_10-12-44", "quarantined",
         ("subject 'm9' is not known",), ("QUALITY.SUBJECT_KNOWN",)),
    Case("the rig's test animal, excluded by the profile (demo)", "recordings/00000/2024-03-01_16-45-20", "excluded",
         (), ()),
    Case("a copy of a session on the backup share (demo)", "recordings/25843/2024-03-12_14-02-11", "copy", (), (),
         share="backup"),
]
