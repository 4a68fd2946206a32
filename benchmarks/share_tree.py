"""The generated share the discovery benchmarks walk: the lab's layout, about 100 files per session.

``recordings/<subject>/<YYYY-MM-DD_HH-MM-SS>/`` with two Neuropixels 1.0 probes per session
(``npx.imec.ap.meta`` with realistic SpikeGLX text, a sparse ``npx.imec.ap.bin`` of exactly
``fileSizeBytes``, the LF pair), a Kilosort folder per probe, ``sessions.txt``, ``sync_all.mat``,
``logs/``, ``motive/``, and ``analysis/`` + ``histology/`` trees beside ``recordings/`` that a pruning
walker never enters: 70 files inside each session folder, 30 outside. :func:`ensure_tree` makes
one (or reuses it, when a marker says the same N and generator version made it);
:func:`bench_profile` is the profile that discovers it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the generated tree changes, so old trees are not reused
LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
SHARE = "N"
DEFAULT_ROOT = os.path.join(tempfile.gettempdir(), "mass-ingest-bench-discovery")
MARKER = "bench-discovery.json"
BLOCK = 4096

# Files per session: 70 inside the session folder, 30 beside recordings/ (analysis, histology).
PROBES = 2
KILOSORT_FILES = ("amplitudes.npy", "channel_map.npy", "channel_positions.npy", "pc_features.npy",
                  "pc_feature_ind.npy", "similar_templates.npy", "spike_clusters.npy", "spike_templates.npy",
                  "spike_times.npy", "template_feature_ind.npy", "template_features.npy", "templates.npy",
                  "templates_ind.npy", "whitening_mat.npy", "whitening_mat_inv.npy", "params.py",
                  "cluster_group.tsv", "cluster_KSLabel.tsv", "cluster_Amplitude.tsv", "cluster_ContamPct.tsv")
LOG_CHUNKS = 16  # logs/<session>.log + 16 chunk logs
ANALYSIS_FILES = 25  # analysis/<subject>/<session>/ratemap_cNNN.png
HISTOLOGY_FILES = 5  # histology/<subject>/section_NNNN.tif, per session of that subject
IN_SESSION = PROBES * (4 + len(KILOSORT_FILES)) + 2 + (1 + LOG_CHUNKS) + 3
OUTSIDE = ANALYSIS_FILES + HISTOLOGY_FILES
FILES_PER_SESSION = IN_SESSION + OUTSIDE
DIRS_PER_SESSION = 1 + PROBES * 2 + 2 + 1  # session, probe_n, probe_n/kilosort, logs, motive, analysis/.../<session>
META_BYTES_EST = 20_000
NETWORK_OR_MEMORY_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "tmpfs", "ramfs", "overlay"}


def _load_writer():
    """mass_ingest/spikeglx_writer.py (the demo's .meta writer), loaded by its path: importing it as
    ``mass_ingest.spikeglx_writer`` would import this checkout's package first in the discovery children,
    which must import the one under test (``discovery.py --code``)."""
    spec = importlib.util.spec_from_file_location("_bench_spikeglx_writer",
                                                  Path(__file__).resolve().parent.parent / "mass_ingest" /
                                                  "spikeglx_writer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_WRITER = _load_writer()
FRAME, AP_RATE, LF_RATE = _WRITER.FRAME, _WRITER.AP_RATE, _WRITER.LF_RATE



@dataclass
class TreeCounts:
    files: int = 0
    dirs: int = 0
    sessions: int = 0
    subjects: int = 0
    files_in_sessions: int = 0
    files_in_recordings: int = 0  # session files + per-subject notes.txt

    @property
    def files_outside_sessions(self) -> int:
        return self.files - self.files_in_sessions


def plan(n_files: int) -> tuple[int, int]:
    """(sessions, subjects) for about ``n_files`` files: one session per 100 files, ~200 subjects."""
    sessions = max(1, n_files // FILES_PER_SESSION)
    subjects = max(1, min(200, sessions // 5))
    return sessions, subjects


def estimated_need(n_files: int) -> tuple[int, int]:
    """(bytes, inodes) a tree of ``n_files`` takes on a block file system (each file at least one block)."""
    sessions, subjects = plan(n_files)
    files = sessions * FILES_PER_SESSION + subjects
    metas = sessions * PROBES * 2
    dirs = sessions * DIRS_PER_SESSION + subjects * 3 + 3
    need = (files - metas) * BLOCK + metas * (META_BYTES_EST // BLOCK + 1) * BLOCK + dirs * BLOCK
    return need, files + dirs


def _subject_name(i: int) -> str:
    return f"{20000 + i * 37:05d}"


def _session_start(subject: int, k: int) -> datetime:
    # A session every 1-2 days per subject, at a time of day that varies; unique within a subject.
    return datetime(2019, 1, 7) + timedelta(days=subject * 3 + k * 2, hours=8 + (k * 7 + subject) % 10,
                                            minutes=(k * 13 + subject) % 60, seconds=(k * 31 + subject * 7) % 60)


_SHANK_MAP = "(1,2,480)" + "".join(f"({0}:{c % 2}:{c // 2}:1)" for c in range(384))
_CHAN_MAP = {
    "ap": "(384,384,1)" + "".join(f"(AP{c};{c}:{c})" for c in range(384)) + "(SY0;768:768)",
    "lf": "(384,384,1)" + "".join(f"(LF{c};{c + 384}:{c + 384})" for c in range(384)) + "(SY0;768:768)",
}


def meta_text(subject: str, session: str, probe: int, stream: str, serial: str, created: datetime,
              n_samples: int, first_sample: int) -> str:
    """SpikeGLX 20201012 .meta text for one 1.0 (3B) probe stream, as the acquisition PC writes it: the
    demo's, with the full ``~imroTbl`` and the keys of the lab's rig (headstage, base station, channel maps)."""
    name = f"D:/SGL_DATA/{subject}/{session}/probe_{probe}/npx.imec.{stream}.bin"
    rig = {
        "fileSHA1": hashlib.sha1(name.encode()).hexdigest().upper(), "imCalibrated": "true",
        "imDatBs_fw": "2.0.137", "imDatBsc_fw": "3.2.176", "imDatBsc_hw": "2.1", "imDatBsc_pn": "NP2_QBSC_00",
        "imDatBsc_sn": "423", "imDatFx_hw": "1.2", "imDatHs_fw": "1.0.0", "imDatHs_pn": "NP2_HS_30",
        "imDatHs_sn": str(2000 + probe), "imDatPrb_dock": "1", "imLEDEnable": "false", "imRoFile": "",
        "imStdby": "", "imTrgRising": "true", "imTrgSource": "0", "syncImInputSlot": "2", "syncSourceIdx": "0",
        "typeObEnabled": "0", "~snsChanMap": _CHAN_MAP[stream], "~snsShankMap": _SHANK_MAP,
    }
    return _WRITER.acquisition_meta(subject=subject, session=session, probe=probe, stream=stream, serial=serial,
                                    created=created, n_samples=n_samples, first_sample=first_sample,
                                    enabled=PROBES, imro_channels=384, extra=rig)


_NPY = b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (8,), }".ljust(127) + b"\n"
_NPY += bytes(range(64))
_MAT = b"MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: Mon Mar 04 10:30:58 2024".ljust(116) + \
    b"\x00" * 8 + b"\x00\x01IM"
_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
_TIF = b"II*\x00" + b"\x00" * 124
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _put(dir_fd: int, name: str, data: bytes) -> None:
    fd = os.open(name, _FLAGS, 0o644, dir_fd=dir_fd)
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)


def _sparse(dir_fd: int, name: str, size: int) -> None:
    fd = os.open(name, _FLAGS, 0o644, dir_fd=dir_fd)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def _mkdir(path: str) -> int:
    os.mkdir(path)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


def _write_subject(job: tuple[str, int, list[int]]) -> tuple[int, int]:
    """All sessions of one subject (recordings, analysis, histology); returns (files, dirs) written."""
    share, s, session_numbers = job
    subject = _subject_name(s)
    files = dirs = 0
    rec = os.path.join(share, "recordings", subject)
    ana = os.path.join(share, "analysis", subject)
    his = os.path.join(share, "histology", subject)
    for path in (rec, ana, his):
        os.mkdir(path)
        dirs += 1
    fd = os.open(rec, os.O_RDONLY | os.O_DIRECTORY)
    _put(fd, "notes.txt", f"{subject}: implanted, 2 probes (MEC left, MEC right).\n".encode())
    os.close(fd)
    files += 1
    his_fd = os.open(his, os.O_RDONLY | os.O_DIRECTORY)
    serials = [f"1840840{s:04d}{p}" for p in range(1, PROBES + 1)]
    for k in session_numbers:
        start = _session_start(s, k)
        name = f"{start:%Y-%m-%d_%H-%M-%S}"
        created = start + timedelta(seconds=9)
        session = os.path.join(rec, name)
        sfd = _mkdir(session)
        dirs += 1
        duration = 1200 + (k * 97 + s * 13) % 2400  # 20-60 min
        for p in range(1, PROBES + 1):
            probe = os.path.join(session, f"probe_{p}")
            pfd = _mkdir(probe)
            for stream, rate in (("ap", AP_RATE), ("lf", LF_RATE)):
                n_samples = duration * rate + (p * 7 if stream == "ap" else p)
                first = (start.hour * 3600 + start.minute * 60) * rate // 100 + p * 7
                _put(pfd, f"npx.imec.{stream}.meta",
                     meta_text(subject, name, p, stream, serials[p - 1], created, n_samples, first).encode())
                _sparse(pfd, f"npx.imec.{stream}.bin", n_samples * FRAME)
            kfd = _mkdir(os.path.join(probe, "kilosort"))
            for ks in KILOSORT_FILES:
                _put(kfd, ks, _NPY if ks.endswith(".npy") else b"cluster_id\tgroup\n0\tgood\n1\tmua\n")
            os.close(kfd)
            os.close(pfd)
            dirs += 2
            files += 4 + len(KILOSORT_FILES)
        tasks = "".join(f"#{i},    {task}    start={at}    <{tag}>\n" for i, (task, at, tag) in enumerate(
            [("open_field_1", 30, "RUNNING"), ("sleep", 1200, "SLEEP"), ("open_field_2", 4800, "RUNNING"),
             ("linear_track", 6300, "RUNNING")][: 2 + k % 3], 1))
        _put(sfd, "sessions.txt", tasks.encode())
        _put(sfd, "sync_all.mat", _MAT)
        lfd = _mkdir(os.path.join(session, "logs"))
        _put(lfd, f"{name}.log", f"{start:%Y-%m-%d %H:%M:%S} INFO  SpikeGLX 20201012: run started\n".encode())
        for c in range(1, LOG_CHUNKS + 1):
            _put(lfd, f"spikeglx_chunk_{c:04d}.log", f"{created:%H:%M:%S} chunk {c} written\n".encode())
        os.close(lfd)
        mfd = _mkdir(os.path.join(session, "motive"))
        _put(mfd, "matmot.meta", f"fileCreateTime={created:%Y-%m-%dT%H:%M:%S}\nfileName=matmot.mtv\n"
             "frameRate=120\nnRigidBodies=1\n".encode())
        _put(mfd, "matmot.mtv", _NPY * 4)
        _put(mfd, "sync.mat", _MAT)
        os.close(mfd)
        os.close(sfd)
        dirs += 2
        files += 2 + 1 + LOG_CHUNKS + 3
        afd = _mkdir(os.path.join(ana, name))
        for c in range(ANALYSIS_FILES):
            _put(afd, f"ratemap_c{c:03d}.png", _PNG)
        os.close(afd)
        for h in range(HISTOLOGY_FILES):
            _put(his_fd, f"section_{k:04d}_{h}.tif", _TIF)
        dirs += 1
        files += ANALYSIS_FILES + HISTOLOGY_FILES
    os.close(his_fd)
    return files, dirs


def check_disk(base: Path, n_files_list: list[int]) -> None:
    probe = base
    while not probe.exists():
        probe = probe.parent
    kind = fstype(probe)
    if kind in NETWORK_OR_MEMORY_FS:
        sys.exit(f"refusing: {probe} is on a '{kind}' file system; the benchmark needs a local disk "
                 "(pass --root DIR on one)")
    need = sum(estimated_need(n)[0] for n in n_files_list)
    inodes = sum(estimated_need(n)[1] for n in n_files_list)
    st = os.statvfs(probe)
    free, free_inodes = st.f_bavail * st.f_frsize, st.f_favail
    if free < 3 * need or (st.f_files and free_inodes < 3 * inodes):
        sys.exit(f"refusing: the trees need about {need / 1e9:.1f} GB and {inodes:,} inodes; {probe} has "
                 f"{free / 1e9:.1f} GB and {free_inodes:,} inodes free, and the benchmark wants 3x the need. "
                 "Free some space, pass a smaller --files, or --root DIR on a bigger disk.")


def fstype(path: Path) -> str:
    real = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                mount = parts[1].replace("\\040", " ")
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


def ensure_tree(base: Path, n_files: int, workers: int) -> tuple[Path, TreeCounts]:
    """The share for ``n_files`` under ``base``, generated unless a finished one of the same N is there."""
    tree = base / f"files-{n_files}"
    share = tree / "share"
    marker = tree / MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("done") and info.get("files_requested") == n_files and info.get("version") == GENERATOR_VERSION:
            print(f"reusing {share} (generated {info['generated_at']})", flush=True)
            return share, TreeCounts(**info["counts"])
        print(f"{tree} is an unfinished or older tree; removing it", flush=True)
        remove_tree(tree)
    elif tree.exists():
        sys.exit(f"refusing: {tree} exists and has no {MARKER}; it was not made by this benchmark")
    tree.mkdir(parents=True)
    marker.write_text(json.dumps({"done": False, "files_requested": n_files, "version": GENERATOR_VERSION}))
    for top in ("recordings", "analysis", "histology"):
        (share / top).mkdir(parents=True)

    sessions, subjects = plan(n_files)
    per_subject: list[list[int]] = [[] for _ in range(subjects)]
    for k in range(sessions):
        per_subject[k % subjects].append(k // subjects)
    jobs = [(str(share), s, ks) for s, ks in enumerate(per_subject)]
    total = sessions * FILES_PER_SESSION + subjects
    print(f"generating {share}: {sessions:,} sessions of {subjects} subjects, {total:,} files, "
          f"{workers} processes", flush=True)

    # Check once that sparse files really are sparse here, before writing thousands of 50 GB .bin files.
    fd = os.open(str(tree), os.O_RDONLY | os.O_DIRECTORY)
    _sparse(fd, "sparse-check", 1 << 30)
    blocks = os.stat("sparse-check", dir_fd=fd).st_blocks
    os.unlink("sparse-check", dir_fd=fd)
    os.close(fd)
    if blocks * 512 > 1 << 20:
        remove_tree(tree)
        sys.exit(f"refusing: {tree} does not store sparse files; the .bin files would fill the disk")

    counts = TreeCounts(sessions=sessions, subjects=subjects, dirs=3)
    started = last = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        for files, dirs in pool.imap_unordered(_write_subject, jobs):
            counts.files += files
            counts.dirs += dirs
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                rate = counts.files / (last - started)
                print(f"  {counts.files:,} / {total:,} files, {rate:,.0f} files/s, "
                      f"about {(total - counts.files) / rate:.0f} s left", flush=True)
    counts.files_in_sessions = sessions * IN_SESSION
    counts.files_in_recordings = counts.files_in_sessions + subjects
    elapsed = time.monotonic() - started
    print(f"  generated {counts.files:,} files and {counts.dirs:,} folders in {elapsed:.0f} s "
          f"({counts.files / elapsed:,.0f} files/s)", flush=True)
    marker.write_text(json.dumps({"done": True, "files_requested": n_files, "version": GENERATOR_VERSION,
                                  "generated_at": datetime.now().isoformat(timespec="seconds"),
                                  "counts": asdict(counts)}))
    return share, counts


def remove_tree(tree: Path) -> None:
    if not (tree / MARKER).exists():
        raise RuntimeError(f"not removing {tree}: it has no {MARKER}")
    started = time.monotonic()
    subprocess.run(["rm", "-rf", "--one-file-system", str(tree)], check=True)
    print(f"  deleted {tree} in {time.monotonic() - started:.0f} s", flush=True)


def bench_profile(share: str, max_parallel: int | None = None):
    """The profile that discovers the generated share at ``share``; ``max_parallel`` left to its default
    unless given (so code from before the setting can be measured too)."""
    from mass_ingest.profile import Layout, MatchRule, Profile, Project, Share

    extra = {"max_parallel": max_parallel} if max_parallel else {}
    return Profile(name="bench", timezone="Europe/Oslo",
                   shares=[Share(name=SHARE, root=share, layouts=[Layout(template=LAYOUT)], **extra)],
                   exclude=MatchRule(subjects=["00000"]),
                   projects=[Project(name="grid-cells", subjects=[_subject_name(i) for i in range(0, 200, 2)]),
                             Project(name="pilot", start_after=datetime(2019, 3, 1), start_before=datetime(2019, 4, 1))])
