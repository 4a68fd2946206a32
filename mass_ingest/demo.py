"""A small, realistic demo campaign: two shares, a profile and a subjects CSV.

``mass-ingest demo`` builds this tree and runs the full ingest flow on it. The layout is the
Moser lab's (Neuropixels, SpikeGLX): ``recordings/<subject>/<YYYY-MM-DD_HH-MM-SS>/probe_<n>/``.
Besides clean sessions it holds one case of each thing a first ingest must handle: a copy on
a second share, an .ap.bin without its .ap.meta, a subject not in the CSV and an excluded
test animal. Everything is a pure function of the arguments, so two runs give the same bytes (and dates, but
for a copy still running, which is dated when it is made).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mass_ingest.spikeglx_writer import AP_RATE, FRAME, LF_RATE, PROBE_KINDS, acquisition_meta

TIMEZONE = "Europe/Oslo"
LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
EXCLUDED_SUBJECTS = ("00000",)
_MARKER = ".mass-ingest-demo"  # only a base holding this may have its shares/ replaced
_MAT_SUBSYS = b"\x00" * 8 + b"\x00\x01IM"  # MAT v5 header tail: subsys offset, version, endianness

# subject -> (probe kind, serials of probe 1..n, insertion time); m9 has no row on purpose
_SUBJECTS = {
    "25843": ("1.0", ("18408403232", "18408403541"), datetime(2024, 2, 27, 9, 30)),
    "26018": ("2.0", ("21144007318",), datetime(2024, 4, 10, 10, 0)),
    "102_1": ("1.0", ("18194823662",), datetime(2024, 5, 6, 13, 0)),
    "00000": ("1.0", ("17131311352",), datetime(2024, 2, 28, 15, 0)),
}
_UNKNOWN = {"m9": ("1.0", ("18005116873",))}
_TASKS = [("open_field_1", 30, "RUNNING"), ("sleep", 1200, "SLEEP"), ("open_field_2", 4800, "RUNNING"),
          ("linear_track", 6300, "RUNNING")]


@dataclass(frozen=True)
class _Session:
    subject: str
    start: datetime  # naive local time in TIMEZONE, as in the folder name
    missing_meta: bool = False  # probe_1's .ap.meta is not written: a quality failure
    on_backup: bool = False  # also copied, byte for byte, to the backup share
    truncated: bool = False  # probe_1's .ap.bin is shorter than its .ap.meta says: still arriving (pending)
    kind: str = ""  # probe kind and serials of a subject not in _SUBJECTS / _UNKNOWN (make_campaign's)
    serials: tuple[str, ...] = ()

    @property
    def rel_path(self) -> str:
        return f"recordings/{self.subject}/{self.start:%Y-%m-%d_%H-%M-%S}"

    @property
    def probes(self) -> tuple[str, tuple[str, ...]]:
        if self.kind:
            return self.kind, self.serials
        kind, serials, *_ = _SUBJECTS.get(self.subject) or _UNKNOWN[self.subject]
        return kind, serials


SESSIONS = (
    _Session("25843", datetime(2024, 3, 5, 10, 30, 58)),
    _Session("25843", datetime(2024, 3, 12, 14, 2, 11), on_backup=True),
    _Session("25843", datetime(2024, 4, 9, 9, 47, 33)),
    _Session("26018", datetime(2024, 4, 18, 13, 15, 40)),
    _Session("26018", datetime(2024, 4, 25, 11, 8, 2), missing_meta=True),
    _Session("102_1", datetime(2024, 5, 14, 15, 22, 9)),
    _Session("00000", datetime(2024, 3, 1, 16, 45, 20)),
    _Session("m9", datetime(2024, 6, 3, 10, 12, 44)),
)


@dataclass(frozen=True)
class DemoCampaign:
    """Where the demo lives and what a correct first ingest of it reports."""

    base: Path
    shares: dict[str, Path]
    profile_path: Path
    subjects_csv: Path
    expected: dict[str, int]


def make_demo_campaign(base: Path, *, bin_bytes: int = 4096) -> DemoCampaign:
    """Create (or re-create identically: idempotent, deterministic, no randomness without a fixed seed) the demo.

    Args:
        base: Folder to build in; ``shares/``, ``demo-profile.yaml`` and ``subjects.csv`` go below it.
        bin_bytes: Rough size of each .ap.bin; rounded to whole samples of 385 int16 channels.

    Returns:
        The campaign's paths and the counts a correct first ingest reports.

    Raises:
        FileExistsError: ``base/shares`` exists but was not made by this function.
    """
    subjects = {subject: (kind, serials, inserted) for subject, (kind, serials, inserted) in _SUBJECTS.items()}
    return _build(base, SESSIONS, subjects, bin_bytes, _expected())


def make_campaign(base: Path, *, sessions: int = 500, subjects: int = 40, seed: int = 0,
                  bin_bytes: int = 1024) -> DemoCampaign:
    """A campaign of about ``sessions`` sessions of ``subjects`` subjects over ten months, with what a real
    first ingest meets: sessions of two subjects missing from the CSV, .ap.bin files without their .ap.meta
    (about 4%), recordings still being copied (about 2%), a copy on the backup share and the test animal.

    Deterministic for a ``seed``, like :func:`make_demo_campaign`, with its profile and its ``expected`` counts.
    """
    import random

    rng = random.Random(seed)
    known = {f"{26100 + i}": ("1.0" if i % 3 else "2.0", tuple(f"1840{seed}{i:03d}{p}" for p in
                                                                 range(1, 2 + (i % 2 if i % 3 else 0))),
                              datetime(2024, 1, 8, 10, 0)) for i in range(subjects)}
    unknown = {"m9": ("1.0", ("18005116873",)), "m17": ("2.0", ("21144009991",))}
    pool = [*known, *unknown] + ["00000"]
    weights = [1.0] * len(known) + [0.6, 0.6, 0.3]
    made: dict[tuple[str, datetime], _Session] = {}
    while len(made) < sessions:
        subject = rng.choices(pool, weights)[0]
        day = datetime(2024, 1, 15, 9, 0) + timedelta(days=rng.randrange(300), minutes=rng.randrange(600),
                                                      seconds=rng.randrange(60))
        kind, serials, *_ = known.get(subject) or unknown.get(subject) or _SUBJECTS["00000"]
        draw = rng.random()
        made[(subject, day)] = _Session(subject, day, missing_meta=draw < 0.04, truncated=0.04 <= draw < 0.06,
                                        kind=kind, serials=serials)
    chosen = sorted(made.values(), key=lambda s: (s.subject, s.start))
    clean = next(i for i, s in enumerate(chosen) if s.subject in known and not s.missing_meta and not s.truncated)
    chosen[clean] = _Session(**{**chosen[clean].__dict__, "on_backup": True})
    rows = {**known, "00000": _SUBJECTS["00000"]}
    excluded = sum(s.subject in EXCLUDED_SUBJECTS for s in chosen)
    kept = [s for s in chosen if s.subject not in EXCLUDED_SUBJECTS]
    # A recording still arriving is pending whatever else is wrong: it is judged once it is complete.
    pending = sum(s.truncated for s in kept)
    quarantined = sum((s.missing_meta or s.subject in unknown) and not s.truncated for s in kept)
    expected = {"discovered": len(kept) + 1, "duplicates": 1, "quarantined": quarantined, "pending": pending,
                "excluded": excluded, "inserted": len(kept) - quarantined - pending}
    return _build(base, tuple(chosen), rows, bin_bytes, expected)


def _build(base: Path, sessions: tuple[_Session, ...], subjects: dict[str, tuple[str, tuple[str, ...], datetime]],
           bin_bytes: int, expected: dict[str, int]) -> DemoCampaign:
    base = Path(base).resolve()
    shares = {"N": base / "shares" / "N", "backup": base / "shares" / "backup"}
    if (base / "shares").exists():
        # Rebuild from scratch so files of an older demo never linger, but never wipe a
        # folder that someone else put there.
        if not (base / _MARKER).exists():
            raise FileExistsError(f"{base / 'shares'} exists and is not a mass-ingest demo; pick another base")
        shutil.rmtree(base / "shares")
    base.mkdir(parents=True, exist_ok=True)
    (base / _MARKER).write_text("made by mass_ingest.demo.make_demo_campaign\n", encoding="utf-8")

    samples = max(1, round(bin_bytes / FRAME))
    for session in sessions:
        _write_session(shares["N"] / session.rel_path, session, samples)
        if session.on_backup:
            _write_session(shares["backup"] / session.rel_path, session, samples)
    _write_extras(shares["N"])
    for root in shares.values():
        age_folders(root)

    profile_path = base / "demo-profile.yaml"
    profile_path.write_text(_profile_yaml(shares), encoding="utf-8")
    subjects_csv = base / "subjects.csv"
    rows = ["subject,probe_name,serial,probe_type,insertion_time"]
    for subject, (kind, serials, inserted) in subjects.items():
        rows += [f"{subject},{sn}_{subject}_{n},{sn},{PROBE_KINDS[kind].label},{inserted:%Y-%m-%d %H:%M:%S}"
                 for n, sn in enumerate(serials, 1)]
    subjects_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return DemoCampaign(base, shares, profile_path, subjects_csv, expected)


def _expected() -> dict[str, int]:
    # Derived from SESSIONS, so changing the demo keeps the numbers right.
    folders = list(SESSIONS) + [s for s in SESSIONS if s.on_backup]
    kept = [s for s in folders if s.subject not in EXCLUDED_SUBJECTS]
    duplicates = sum(s.on_backup for s in SESSIONS)
    quarantined = sum(s.missing_meta or s.subject not in _SUBJECTS for s in SESSIONS
                      if s.subject not in EXCLUDED_SUBJECTS)
    # A copy of a flawed session would count twice; keep the backup copy a clean session.
    assert not any(s.on_backup and (s.missing_meta or s.subject not in _SUBJECTS) for s in SESSIONS)
    return {"discovered": len(kept), "duplicates": duplicates, "quarantined": quarantined,
            "excluded": len(folders) - len(kept), "inserted": len(kept) - duplicates - quarantined}


def _write_session(folder: Path, session: _Session, samples: int) -> None:
    kind, serials = session.probes
    write_ephys_session(folder, session.subject, session.start, kind, serials, samples,
                        missing_meta=session.missing_meta, truncated=session.truncated)


def write_ephys_session(folder: Path, subject: str, start: datetime, kind: str, serials: tuple[str, ...],
                        samples: int, *, missing_meta: bool = False, meta_stem: str | None = None,
                        truncated: bool = False) -> None:
    """Write one ephys session as the rig leaves it: probe_<n>/ per serial, sessions.txt, sync, logs, motive.

    Args:
        folder: the session folder (``.../<subject>/<YYYY-MM-DD_HH-MM-SS>``).
        kind: "1.0" (AP and LF bands) or "2.0" (AP only), see ``spikeglx_writer.PROBE_KINDS``.
        samples: samples per AP .bin (385 int16 channels each).
        missing_meta: probe_1's .meta files are not written.
        truncated: probe_1's .ap.bin holds half of what its .meta announces and is dated now (a copy still
            running; the quality stage calls an older short file stalled).
        meta_stem: the .meta files' stem when it differs from the .bin's ``npx.imec`` (a renamed file).
    """
    session = _Session(subject, start, missing_meta=missing_meta, truncated=truncated)
    created = session.start + timedelta(seconds=9)  # SpikeGLX opens its files a few seconds in
    streams = [("ap", AP_RATE, samples)]
    if PROBE_KINDS[kind].has_lf:  # only 1.0 probes save a separate LF band, at 1/12 of the AP rate
        streams.append(("lf", LF_RATE, max(1, round(samples / 12))))
    for n, serial in enumerate(serials, 1):
        for stream, rate, n_samples in streams:
            bin_path = folder / f"probe_{n}" / f"npx.imec.{stream}.bin"
            size = n_samples * FRAME
            arriving = session.truncated and n == 1 and stream == "ap"
            written = size // 2 if arriving else size
            # A copy still running is being written now; dated at the recording it would look stalled for months.
            write_file(bin_path, _noise(f"{session.rel_path}/probe_{n}/{stream}", written),
                       _now_at_rig() if arriving else session.start)
            if session.missing_meta and n == 1:
                continue
            first = (session.start.hour * 3600 + session.start.minute * 60) * rate // 100 + n * 7
            text = acquisition_meta(subject=session.subject, session=folder.name, probe=n, stream=stream,
                                    serial=serial, created=created, n_samples=n_samples, first_sample=first,
                                    kind=kind, enabled=len(serials))
            meta_path = bin_path.with_suffix(".meta") if meta_stem is None else \
                bin_path.with_name(f"{meta_stem}.{stream}.meta")
            write_file(meta_path, text.encode(), session.start)
    tasks = _TASKS[: 2 + _noise(session.rel_path, 1)[0] % 3]  # 2-4 tasks, fixed per session
    write_file(folder / "sessions.txt", "".join(f"#{i},    {name}    start={at}    <{tag}>\n"
                                            for i, (name, at, tag) in enumerate(tasks, 1)).encode(), session.start)
    write_file(folder / "sync_all.mat", _mat(created), session.start)
    log = (f"{session.start:%Y-%m-%d %H:%M:%S} INFO  SpikeGLX 20201012: run started, {len(serials)} probe(s)\n"
           f"{created:%Y-%m-%d %H:%M:%S} INFO  gate 0 open; writing to D:/SGL_DATA/{session.subject}\n")
    write_file(folder / "logs" / f"{folder.name}.log", log.encode(), session.start)
    mot = f"fileCreateTime={created:%Y-%m-%dT%H:%M:%S}\nfileName=matmot.mtv\nframeRate=120\nnRigidBodies=1\n"
    write_file(folder / "motive" / "matmot.meta", mot.encode(), session.start)
    write_file(folder / "motive" / "matmot.mtv", _noise(f"{session.rel_path}/motive", 2048), session.start)
    write_file(folder / "motive" / "sync.mat", _mat(created), session.start)


def _write_extras(root: Path) -> None:
    # Files beside and between sessions that discovery must walk past without calling them sessions.
    when = datetime(2024, 6, 20, 16, 5, 0)
    notes = "25843: implanted 2024-02-27, 2 probes (MEC left, MEC right). Screening done 2024-03-04.\n"
    write_file(root / "recordings" / "25843" / "notes.txt", notes.encode(), datetime(2024, 3, 4, 17, 40, 0))
    write_file(root / "analysis" / "README.txt", b"Kilosort 2.5 output and grid scores; not raw data.\n", when)
    write_file(root / "analysis" / "grid_scores_25843.csv",
               b"session,cluster,grid_score\n2024-03-05_10-30-58,12,0.81\n2024-03-05_10-30-58,40,0.37\n", when)
    write_file(root / "histology" / "25843_probe_tracks.csv",
               b"probe,shank,ap_mm,ml_mm,dv_mm\n1,0,-4.7,3.1,2.9\n", when)
    write_file(root / "histology" / "25843_section_12.tif", _noise("histology/25843_section_12", 1024), when)


def write_file(path: Path, data: bytes, when: datetime) -> None:
    """Write ``data`` at ``path`` (folders made) and date it ``when``, a naive local time in TIMEZONE."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = when.replace(tzinfo=ZoneInfo(TIMEZONE)).timestamp()
    os.utime(path, (stamp, stamp))  # look recorded then, not just copied


def _now_at_rig() -> datetime:
    """The current time as a naive local time in TIMEZONE, as :func:`write_file` takes it."""
    return datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None, microsecond=0)


def age_folders(root: Path) -> None:
    """Date every folder below ``root`` by the newest thing in it, bottom up, as a copied tree looks."""
    for folder, dirs, files in os.walk(root, topdown=False):
        newest = max(os.stat(os.path.join(folder, name)).st_mtime for name in dirs + files)
        os.utime(folder, (newest, newest))


def _noise(seed: str, size: int) -> bytes:
    # Distinct bytes per file, so content hashes tell different sessions apart (zeros would not).
    block = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(min(size, 1 << 16) // 32 + 1))
    return (block * (size // len(block) + 1))[:size]


def _mat(created: datetime) -> bytes:
    # A valid MAT v5 file with no variables: readers open it; the header dates it.
    header = f"MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: {created:%a %b %d %H:%M:%S %Y}"
    return header.encode().ljust(116, b" ") + _MAT_SUBSYS


def _profile_yaml(shares: dict[str, Path]) -> str:
    share_blocks = "".join(f"""
  - name: {name}
    root: "{root}"{aliases}
    layouts:
      - template: "{LAYOUT}"
        modality: ephys
""" for name, root, aliases in [("N", shares["N"], '\n    aliases: ["N:/", "//fileserver/N"]'),
                                ("backup", shares["backup"], "")])
    return f"""# Demo campaign made by `mass-ingest demo`: Neuropixels sessions recorded with SpikeGLX.
name: demo-ephys
description: "Demo: grid-cell recordings on N, with one old copy on the backup share"
timezone: {TIMEZONE}  # folder names are local times at the rig

shares:{share_blocks}
exclude:
  # 00000 is the rig's test animal: the probe sits in agar to check the setup, not in a brain.
  subjects: ["00000"]

projects:
  - name: grid-cells
    description: "Grid cells in MEC, chronic Neuropixels implants"
    subjects: ["25843", "26018"]  # always quote ids: unquoted, YAML reads 102_1 as the number 1021
  - name: pilot
    description: "Everything recorded in March 2024, while the rig was being tuned"
    start_after: 2024-03-01T00:00:00
    start_before: 2024-04-01T00:00:00

approval:
  timeout_s: 3600
"""
