#!/usr/bin/env python
"""Discovery speed and memory against ``find``, on a generated share of about N files.

What it does, in one run:

1. Generates (or reuses, when a marker says the same N and generator version made it) a share
   in the lab's layout, ``recordings/<subject>/<YYYY-MM-DD_HH-MM-SS>/``, with two Neuropixels
   1.0 probes per session (``npx.imec.ap.meta`` with realistic SpikeGLX text, a sparse
   ``npx.imec.ap.bin`` of exactly ``fileSizeBytes``, the LF pair), a Kilosort folder per probe,
   ``sessions.txt``, ``sync_all.mat``, ``logs/``, ``motive/``, and ``analysis/`` + ``histology/``
   trees beside ``recordings/`` that a pruning walker never enters. About 100 files per
   session; 70 of them inside the session folder. A second share of N/10 files is generated
   too, to see how discovery's peak memory grows.
2. For each share: warms the page cache with ``find -type f | wc -l``, times ``find`` over the
   whole tree and over ``recordings/`` (best of 3), then times ``discover_share`` (best of 3),
   each repetition in a fresh child process that also reports its CPU time and peak RSS; then
   the share in ``--parts`` chunks (``Share.chunks``), in as many threads and in as many processes.
3. Prints files, session folders, wall and CPU times, the discovery/find ratios, sessions/s and
   peak RSS; ``--profile`` adds a cProfile of one discovery run (top 15 by cumulative and by own time).

Nothing is asserted: timings depend on the machine. The page cache is not dropped (the machine
may be shared, and it would slow both sides alike), so ``find`` and discovery both run warm: this
measures the CPU cost of the walk and of reading the session files, which is what a warm re-run
or a fast local disk sees. On a network share both get slower by the server's round trips.
On a busy machine wall times swing; the CPU-time ratio is steadier.

Examples::

    .venv/bin/python benchmarks/discovery.py                      # 1,000,000 files, then deleted
    .venv/bin/python benchmarks/discovery.py --files 100000 --keep --profile
    .venv/bin/python benchmarks/discovery.py --code /tmp/patched  # benchmark a patched copy of the code
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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

N_CHANS = 385
FRAME = N_CHANS * 2
AP_RATE, LF_RATE = 30000, 2500


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------

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


_IMRO = "(0,384)" + "".join(f"({c} 0 0 500 250 1)" for c in range(384))
_SHANK_MAP = "(1,2,480)" + "".join(f"({0}:{c % 2}:{c // 2}:1)" for c in range(384))
_CHAN_MAP = {
    "ap": "(384,384,1)" + "".join(f"(AP{c};{c}:{c})" for c in range(384)) + "(SY0;768:768)",
    "lf": "(384,384,1)" + "".join(f"(LF{c};{c + 384}:{c + 384})" for c in range(384)) + "(SY0;768:768)",
}


def meta_text(subject: str, session: str, probe: int, stream: str, serial: str, created: datetime,
              n_samples: int, first_sample: int) -> str:
    """SpikeGLX 20201012 .meta text for one 1.0 (3B) probe stream, as the acquisition PC writes it."""
    rate = AP_RATE if stream == "ap" else LF_RATE
    size = n_samples * FRAME
    name = f"D:/SGL_DATA/{subject}/{session}/probe_{probe}/npx.imec.{stream}.bin"
    fields = [
        ("acqApLfSy", "384,384,1"), ("appVersion", "20201012"),
        ("fileCreateTime", f"{created:%Y-%m-%dT%H:%M:%S}"), ("fileName", name),
        ("fileSHA1", hashlib.sha1(name.encode()).hexdigest().upper()),
        ("fileSizeBytes", str(size)), ("fileTimeSecs", f"{n_samples / rate:.9g}"),
        ("firstSample", str(first_sample)), ("gateMode", "Immediate"),
        ("imAiRangeMax", "0.6"), ("imAiRangeMin", "-0.6"), ("imCalibrated", "true"), ("imDatApi", "3.31"),
        ("imDatBs_fw", "2.0.137"), ("imDatBsc_fw", "3.2.176"), ("imDatBsc_hw", "2.1"),
        ("imDatBsc_pn", "NP2_QBSC_00"), ("imDatBsc_sn", "423"), ("imDatFx_hw", "1.2"),
        ("imDatHs_fw", "1.0.0"), ("imDatHs_pn", "NP2_HS_30"), ("imDatHs_sn", str(2000 + probe)),
        ("imDatPrb_dock", "1"), ("imDatPrb_pn", "PRB_1_4_0480_1"), ("imDatPrb_port", str(probe)),
        ("imDatPrb_slot", "2"), ("imDatPrb_sn", serial), ("imDatPrb_type", "0"), ("imLEDEnable", "false"),
        ("imMaxInt", "512"), ("imRoFile", ""), ("imSampRate", str(rate)), ("imStdby", ""),
        ("imTrgRising", "true"), ("imTrgSource", "0"), ("nSavedChans", str(N_CHANS)),
        ("snsApLfSy", "384,0,1" if stream == "ap" else "0,384,1"), ("snsSaveChanSubset", "all"),
        ("syncImInputSlot", "2"), ("syncSourceIdx", "0"), ("syncSourcePeriod", "1"), ("trigMode", "Immediate"),
        ("typeImEnabled", str(PROBES)), ("typeNiEnabled", "0"), ("typeObEnabled", "0"), ("typeThis", "imec"),
        ("userNotes", ""), ("~imroTbl", _IMRO), ("~snsChanMap", _CHAN_MAP[stream]), ("~snsShankMap", _SHANK_MAP),
    ]
    return "".join(f"{k}={v}\n" for k, v in fields)


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


def _check_disk(base: Path, n_files_list: list[int]) -> None:
    probe = base
    while not probe.exists():
        probe = probe.parent
    fstype = _fstype(probe)
    if fstype in NETWORK_OR_MEMORY_FS:
        sys.exit(f"refusing: {probe} is on a '{fstype}' file system; the benchmark needs a local disk "
                 "(pass --root DIR on one)")
    need = sum(estimated_need(n)[0] for n in n_files_list)
    inodes = sum(estimated_need(n)[1] for n in n_files_list)
    st = os.statvfs(probe)
    free, free_inodes = st.f_bavail * st.f_frsize, st.f_favail
    if free < 3 * need or (st.f_files and free_inodes < 3 * inodes):
        sys.exit(f"refusing: the trees need about {need / 1e9:.1f} GB and {inodes:,} inodes; {probe} has "
                 f"{free / 1e9:.1f} GB and {free_inodes:,} inodes free, and the benchmark wants 3x the need. "
                 "Free some space, pass a smaller --files, or --root DIR on a bigger disk.")


def _fstype(path: Path) -> str:
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


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------

def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _kernel(who: int) -> float:
    return resource.getrusage(who).ru_stime


def time_find(path: Path) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds (find, wc and bash), file count and kernel CPU seconds of
    ``find PATH -type f | wc -l``."""
    cpu, kernel = _cpu(resource.RUSAGE_CHILDREN), _kernel(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(["bash", "-c", f"find {shlex.quote(str(path))} -type f | wc -l"],
                         check=True, capture_output=True, text=True).stdout
    return (time.perf_counter() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu, int(out.strip()),
            _kernel(resource.RUSAGE_CHILDREN) - kernel)


def run_child(mode: str, share: Path, code: str | None) -> dict | str:
    """One child process start to end (used for the profile)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, str(share)]
    if code:
        cmd += ["--code", code]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"discovery child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def run_discovery(share: Path, code: str | None, parts: int = 1, threads: bool = False) -> dict:
    """``discover_share`` in ``parts`` child processes at once, each walking its chunk (i, parts),
    or with ``threads`` in one child process running the ``parts`` chunks in as many threads.

    Each child imports everything, says it is ready, and starts only when all are: the time is from
    that common start to the end of the slowest part, without interpreter start-up and imports.
    """
    base = [sys.executable, str(Path(__file__).resolve()), "--child-discover", str(share)] + (
        ["--code", code] if code else [])
    if threads:
        cmds = [base + ["--threads", str(parts)]]
    else:
        cmds = [base + ["--chunk", f"{i}/{parts}"] for i in range(parts)]
    procs = []
    for cmd in cmds:
        err = tempfile.TemporaryFile(mode="w+")
        procs.append((subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                       text=True), err))
    started = time.perf_counter()
    for proc, err in procs:
        if proc.stdout.readline().strip() != "ready":
            proc.wait()
            err.seek(0)
            sys.exit(f"discovery child failed ({proc.returncode}):\n{err.read()[-4000:]}")
    imports = time.perf_counter() - started
    for proc, _ in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc, err in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"discovery child failed ({proc.returncode}):\n{err.read()[-4000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
        err.close()
    merged = dict(results[0])
    merged["seconds"] = max(r["end"] for r in results) - min(r["go"] for r in results)
    for key in ("sessions", "probes", "probes_with_serial", "session_findings", "share_findings"):
        merged[key] = sum(r[key] for r in results)
    merged["cpu"] = sum(r["cpu"] for r in results)
    merged["kernel"] = sum(r["kernel"] for r in results)
    merged["peak_kb"] = max(r["peak_kb"] for r in results)  # per process: the bound that matters for a worker
    merged["parts_seconds"] = [r["end"] - r["go"] for r in results]
    merged["startup_s"] = imports
    return merged


def _profile(share: str):
    from mass_ingest.profile import Layout, MatchRule, Profile, Project, Share

    return Profile(name="bench", timezone="Europe/Oslo",
                   shares=[Share(name=SHARE, root=share, layouts=[Layout(template=LAYOUT)])],
                   exclude=MatchRule(subjects=["00000"]),
                   projects=[Project(name="grid-cells", subjects=[_subject_name(i) for i in range(0, 200, 2)]),
                             Project(name="pilot", start_after=datetime(2019, 3, 1), start_before=datetime(2019, 4, 1))])


def _rss_now_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child_discover(share: str, chunk: tuple[int, int], threads: int) -> None:
    """One discovery run in this (fresh) process, started by a line on stdin; prints a JSON line.

    With ``threads`` > 1 the share is walked as that many chunks in as many threads, as the flow's
    default (thread pool) task runner runs a share's ``chunks`` tasks.
    """
    from concurrent.futures import ThreadPoolExecutor

    import mass_ingest
    import polars as pl
    from tasks.discover import discover_share

    profile = _profile(share)
    walk_rss: list[tuple[int, int]] = []  # (sessions read, RSS kB) while walking

    def sample(n: int) -> None:
        if n % 100 == 0:
            walk_rss.append((n, _rss_now_kb()))

    print("ready", flush=True)
    sys.stdin.readline()
    go = time.time()
    rss_before = _rss_now_kb()
    cpu, kernel = _cpu(resource.RUSAGE_SELF), _kernel(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda i: discover_share(profile, SHARE, chunk=(i, threads)), range(threads)))
        frame = pl.concat([f for f, _ in parts])
        findings = [x for _, fs in parts for x in fs]
    elif chunk != (0, 1):
        frame, findings = discover_share(profile, SHARE, chunk=chunk)
    else:  # no chunk argument, so that code from before chunks can be measured too
        frame, findings = discover_share(profile, SHARE, progress=sample)
    seconds = time.perf_counter() - started
    end = time.time()
    cpu = _cpu(resource.RUSAGE_SELF) - cpu
    kernel = _kernel(resource.RUSAGE_SELF) - kernel
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    probes = int(frame["probes"].list.len().sum()) if frame.height else 0
    with_serial = int(frame["probes"].explode().struct.field("serial").is_not_null().sum()) if probes else 0
    n_findings = int(frame["findings"].list.len().sum()) if frame.height else 0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "kernel": kernel, "go": go, "end": end, "sessions": frame.height, "probes": probes,
                      "probes_with_serial": with_serial, "session_findings": n_findings,
                      "share_findings": len(findings), "rss_before_kb": rss_before, "peak_kb": peak, "walk_rss": walk_rss,
                      "code": str(Path(mass_ingest.__file__).parent.parent)}))


def child_profile(share: str) -> None:
    import cProfile
    import io
    import pstats

    from tasks.discover import discover_share

    profile = _profile(share)
    prof = cProfile.Profile()
    prof.enable()
    frame, _ = discover_share(profile, SHARE)
    prof.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(15)
        text = out.getvalue()
        print(f"--- cProfile of one discovery run ({frame.height:,} sessions), top 15 by {order} ---")
        print(text[text.find("   ncalls"):].rstrip() + "\n")


@dataclass
class Result:
    n_files: int
    counts: TreeCounts
    find_all: float
    find_rec: float
    find_all_cpu: float
    find_rec_cpu: float
    find_all_count: int
    find_rec_count: int
    runs: list[dict]
    parallel: dict[str, list[dict]]  # "in K processes" / "in K threads" -> runs
    load: tuple[float, float]  # 1-minute load average before and after
    find_rec_kernel: float = 0.0  # of find_rec_cpu, in the kernel

    @property
    def best(self) -> dict:
        return min(self.runs, key=lambda r: r["seconds"])

    @property
    def peak_mb(self) -> float:
        return max(r["peak_kb"] for r in self.runs) / 1024

    @property
    def discovery_mb(self) -> float:
        # peak during discovery above what the imports left resident
        return max(r["peak_kb"] - r["rss_before_kb"] for r in self.runs) / 1024


def measure(share: Path, counts: TreeCounts, n_files: int, repeats: int, code: str | None, parts: int) -> Result:
    print(f"\nmeasuring {share} ...", flush=True)
    load_before = os.getloadavg()[0]
    time_find(share)  # warm the page cache (dentries and inodes) for both sides
    finds_all = [time_find(share) for _ in range(repeats)]
    finds_rec = [time_find(share / "recordings") for _ in range(repeats)]
    runs = []
    for i in range(repeats):
        runs.append(run_discovery(share, code))
        print(f"  discovery run {i + 1}/{repeats}: {runs[-1]['seconds']:.2f} s", flush=True)
    parallel: dict[str, list[dict]] = {}
    if parts > 1:
        for threads in (True, False):
            label = f"in {parts} threads (flow default)" if threads else f"in {parts} processes"
            parallel[label] = []
            for i in range(repeats):
                parallel[label].append(run_discovery(share, code, parts, threads=threads))
                print(f"  discovery, {label}, run {i + 1}/{repeats}: {parallel[label][-1]['seconds']:.2f} s",
                      flush=True)
    least_rec = min(finds_rec, key=lambda f: f[1])
    return Result(n_files, counts, min(f[0] for f in finds_all), min(f[0] for f in finds_rec),
                  min(f[1] for f in finds_all), least_rec[1],
                  finds_all[0][2], finds_rec[0][2], runs, parallel, (load_before, os.getloadavg()[0]), least_rec[3])


def report(r: Result) -> None:
    c, b = r.counts, r.best
    least = min(r.runs, key=lambda x: x["cpu"])
    cpu = least["cpu"]
    outside = c.files_outside_sessions
    times = ", ".join(f"{x['seconds']:.2f}" for x in r.runs)
    print(f"""
=== share of about {r.n_files:,} files ===
files                         {r.find_all_count:>12,}  (generated {c.files:,}; {c.dirs:,} folders)
  inside session folders      {c.files_in_sessions:>12,}
  outside session folders     {outside:>12,}  ({outside / c.files:.0%}: analysis/, histology/, notes.txt; never entered)
  under recordings/           {r.find_rec_count:>12,}
session folders               {c.sessions:>12,}  of {c.subjects} subjects (discovery found {b['sessions']:,})
probes read                   {b['probes']:>12,}  ({b['probes_with_serial']:,} with a serial; findings: \
{b['session_findings']} in sessions, {b['share_findings']} on the share)
find -type f, whole tree      {r.find_all:>10.2f} s  (best of {len(r.runs)}, warm; CPU {r.find_all_cpu:.2f} s)
find -type f, recordings/     {r.find_rec:>10.2f} s  (CPU {r.find_rec_cpu:.2f} s, of it {r.find_rec_kernel:.2f} s in the kernel)
discover_share                {b['seconds']:>10.2f} s  (best of {len(r.runs)}: {times}; CPU {b['cpu']:.2f} s, of it \
{b['kernel']:.2f} s in the kernel; imports before it {b['startup_s']:.1f} s)
discovery / find (whole)      {b['seconds'] / r.find_all:>10.1f} x  (by CPU time {cpu / r.find_all_cpu:.1f} x, \
least CPU of either side's runs)
discovery / find (recordings) {b['seconds'] / r.find_rec:>10.1f} x  (by CPU time {cpu / r.find_rec_cpu:.1f} x; \
kernel {least['kernel'] / max(r.find_rec_kernel, 1e-6):.1f} x, user \
{(cpu - least['kernel']) / max(r.find_rec_cpu - r.find_rec_kernel, 1e-6):.1f} x)
sessions/s                    {b['sessions'] / b['seconds']:>12,.0f}
files under sessions/s        {c.files_in_sessions / b['seconds']:>12,.0f}
peak RSS of the child         {r.peak_mb:>10.0f} MB  (after imports {b['rss_before_kb'] / 1024:.0f} MB; discovery added \
{r.discovery_mb:.0f} MB, {r.discovery_mb * 2**20 / max(1, c.sessions):,.0f} B per session)""", flush=True)
    if r.parallel:
        print("discover_share in chunks (Share.chunks), each chunk's part of the share walked at once:")
    for label, runs in r.parallel.items():
        p = min(runs, key=lambda x: x["seconds"])
        parts = ", ".join(f"{x:.2f}" for x in p["parts_seconds"])
        ok = "" if p["sessions"] == c.sessions else f"  (found {p['sessions']:,} sessions!)"
        print(f"""  {label:<28}{p['seconds']:>6.2f} s  ({p['seconds'] / r.find_rec:.1f} x find of recordings/, \
{b['seconds'] / p['seconds']:.2f} x as fast as one; parts {parts} s; peak RSS {p['peak_kb'] / 1024:.0f} MB \
per process){ok}""", flush=True)
    busy = max(r.load) > 0.5 * (os.cpu_count() or 1)
    print(f"load average                  {r.load[0]:>10.1f} before, {r.load[1]:.1f} after, on {os.cpu_count()} CPUs"
          + ("  (busy: other processes shared the CPUs; compare CPU times, or run again)" if busy else ""))
    print(f"code                          {b['code']}", flush=True)


def scaling(small: Result, big: Result) -> None:
    m_ratio = big.discovery_mb / max(small.discovery_mb, 1e-9)
    per_big = big.discovery_mb * 2**20 / big.counts.sessions
    per_small = small.discovery_mb * 2**20 / small.counts.sessions
    marginal = (big.discovery_mb - small.discovery_mb) * 2**20 / max(1, big.counts.sessions - small.counts.sessions)
    print(f"""
=== peak memory against size ===
sessions x{big.counts.sessions / small.counts.sessions:.0f}, files x{big.counts.files / small.counts.files:.0f}: \
memory added by discovery x{m_ratio:.1f} ({small.discovery_mb:.0f} MB -> {big.discovery_mb:.0f} MB)
per session: {per_small:,.0f} B at {small.counts.sessions:,} sessions, {per_big:,.0f} B at {big.counts.sessions:,}; \
marginal {marginal:,.0f} B per added session""")
    walk = max((r["walk_rss"] for r in big.runs), key=len)
    if len(walk) >= 2:
        (n0, kb0), (n1, kb1) = walk[0], walk[-1]
        grows = (kb1 - kb0) * 1024 / (n1 - n0)
        end = max(r["peak_kb"] for r in big.runs) - kb1
        print(f"""while walking: RSS grows {grows:,.0f} B per session read (sessions {n0:,} to {n1:,}); \
after the walk (building the frame) the peak rises {end / 1024:,.0f} MB more.
Both trees hold {FILES_PER_SESSION} files per session ({IN_SESSION} inside the folder), so files and sessions grow
together here; for scale, one session's file list as FileEntry objects is ~{IN_SESSION * 330:,} B.""",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Time mass-ingest discovery against `find` on a generated share of about N files "
        "(and of N/10, for memory scaling). Prints numbers; asserts nothing.",
        epilog="The tree is reused when a marker says it was made for the same N; it is deleted at the end "
        "unless --keep. Disk needed: about 5 GB per million files (sparse .bin files).")
    parser.add_argument("--files", type=int, default=1_000_000, metavar="N",
                        help="about how many files the share holds (default 1,000,000; ~100 per session)")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help=f"where to generate, on a local disk (default {DEFAULT_ROOT})")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees for the next run")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one discovery run of the N tree with cProfile (top 15)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions, best is reported (default 3)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the N/10 tree")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes generating the tree (default: CPUs, at most 4)")
    parser.add_argument("--parts", type=int, default=min(2, os.cpu_count() or 1), metavar="K",
                        help="also time discovery split into K chunks (Share.chunks), run in K threads of one "
                        "process (as the flow's default task runner does) and in K processes (default: 2 "
                        "when there are 2 CPUs; 1 skips this)")
    parser.add_argument("--code", metavar="DIR",
                        help="import mass_ingest and tasks from DIR instead of this repository "
                        "(to benchmark a patched copy)")
    parser.add_argument("--child-discover", metavar="SHARE", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", metavar="SHARE", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()

    sys.path.insert(0, args.code or str(REPO))
    if args.child_discover:
        index, count = map(int, args.chunk.split("/"))
        return child_discover(args.child_discover, (index, count), args.threads)
    if args.child_profile:
        return child_profile(args.child_profile)

    if args.files < FILES_PER_SESSION * 10:
        parser.error(f"--files must be at least {FILES_PER_SESSION * 10}")
    base = Path(args.root).resolve()
    sizes = ([args.files // 10] if not args.no_scaling else []) + [args.files]
    created_base = not base.exists()
    _check_disk(base, sizes)
    base.mkdir(parents=True, exist_ok=True)
    print(f"{sys.executable} on {os.cpu_count()} CPUs; trees under {base} ({_fstype(base)})", flush=True)
    trees = []
    try:
        results = []
        for n in sizes:
            trees.append(base / f"files-{n}")
            ensure_tree(base, n, args.workers)
        for n, tree in zip(sizes, trees):
            counts = TreeCounts(**json.loads((tree / MARKER).read_text())["counts"])
            result = measure(tree / "share", counts, n, args.repeats, args.code, args.parts)
            report(result)
            results.append(result)
        if len(results) == 2:
            scaling(*results)
        if args.profile:
            print(f"\nprofiling one discovery run on {trees[-1] / 'share'} ...", flush=True)
            print(run_child("--child-profile", trees[-1] / "share", args.code))
    finally:
        if not args.keep:
            for tree in trees:
                if (tree / MARKER).exists():
                    print(f"deleting {tree}", flush=True)
                    remove_tree(tree)
            if created_base and base.exists() and not any(base.iterdir()):
                base.rmdir()


if __name__ == "__main__":
    main()
