#!/usr/bin/env python
"""End to end at scale: the whole flow on 100,000 generated sessions, approval given; then dedup 1M x 1M.

What it does, in one run:

1. Generates a share of ``--sessions`` sessions (default 100,000) in the lab's layout,
   ``recordings/<subject>/<YYYY-MM-DD_HH-MM-SS>/``, 20 sessions per subject, about 10 files
   each (1,000,000 files): one or two Neuropixels probes (as many as the subject has implanted) (``npx.imec.ap.meta`` with the SpikeGLX text of a 1.0
   probe, a sparse ``.ap.bin`` of exactly ``fileSizeBytes``, the LF pair), a complete Kilosort
   output on probe_1 (half the sessions), ``sessions.txt`` with 2-4 tasks and ``sync_all.mat``;
   a subjects CSV naming every implanted probe (so every recording gets its probe by serial);
   and a profile with a project (half the subjects) and ``settle_s: 0``.
2. Starts a Prefect server and the embedded PostgreSQL below a temporary home, imports the
   subjects, then runs the ``mass-ingest`` flow in a child process with approval given up front
   (``--approve``), as the lab would. Afterwards it asks the Prefect API for the flow's task runs
   and prints the seconds of every stage (the time during which at least one of its task runs ran),
   with the load average when that stage ended, the flow's peak RSS (the flow's own
   process; the Prefect server and PostgreSQL are separate processes, their peaks printed too)
   and the RSS at the end of each stage, Great Expectations' share of the quality stage, and
   insertion in sessions/s through the flow.
3. Runs ``deduplicate`` on 1,000,000 candidates against 1,000,000 stored sessions (the generator
   of benchmarks/dedup.py, once in discovery order and once shuffled) in a child process.

Everything is below one temporary folder, removed at the end (``--keep`` keeps it). Nothing is
asserted: timings depend on the machine; read them with the load average beside them.

Examples::

    .venv/bin/python benchmarks/end_to_end.py                       # 100,000 sessions, ~1M files
    .venv/bin/python benchmarks/end_to_end.py --sessions 10000 --dedup-rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.share_tree import AP_RATE, FRAME, LF_RATE, _MAT, _NPY, _mkdir, _put, _sparse, meta_text  # noqa: E402

SESSIONS_PER_SUBJECT = 20
GENERATOR_VERSION = 1
MARKER = "bench-end-to-end.json"  # beside recordings/, never a session
LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
KS_FILES = ("params.py", "spike_times.npy", "spike_clusters.npy", "cluster_group.tsv")


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


# --------------------------------------------------------------------------------------------
# the share
# --------------------------------------------------------------------------------------------

def subject_name(i: int) -> str:
    return f"{30000 + i}"


def serial(subject: int, probe: int) -> str:
    return f"19{subject:07d}{probe}"


def _write_subject(job: tuple[str, int, int]) -> int:
    """The sessions of one subject; returns the files written."""
    share, s, sessions = job
    subject = subject_name(s)
    rec = os.path.join(share, "recordings", subject)
    os.makedirs(rec)
    files = 0
    for k in range(sessions):
        start = datetime(2020, 1, 6, 9) + timedelta(days=k * 3 + s % 3, minutes=(k * 17 + s) % 480,
                                                    seconds=(k * 7 + s) % 60)
        name = f"{start:%Y-%m-%d_%H-%M-%S}"
        created = start + timedelta(seconds=9)
        sfd = _mkdir(os.path.join(rec, name))
        probes = 1 + s % 2  # as many as the subject has implanted (see the subjects CSV)
        duration = 600 + (k * 97 + s * 13) % 1800
        for p in range(1, probes + 1):
            probe = os.path.join(rec, name, f"probe_{p}")
            pfd = _mkdir(probe)
            for stream, rate in (("ap", AP_RATE), ("lf", LF_RATE)):
                n_samples = duration * rate
                _put(pfd, f"npx.imec.{stream}.meta",
                     meta_text(subject, name, p, stream, serial(s, p), created, n_samples, p * 7).encode())
                _sparse(pfd, f"npx.imec.{stream}.bin", n_samples * FRAME)
            files += 4
            if p == 1 and k % 2 == 0:  # a complete Kilosort output on probe_1 of every other session
                kfd = _mkdir(os.path.join(probe, "kilosort"))
                for ks in KS_FILES:
                    _put(kfd, ks, _NPY if ks.endswith(".npy") else b"cluster_id\tgroup\n0\tgood\n")
                os.close(kfd)
                files += len(KS_FILES)
            os.close(pfd)
        tasks = "".join(f"#{i},    {task}    start={at}    <{tag}>\n" for i, (task, at, tag) in enumerate(
            [("open_field_1", 30, "RUNNING"), ("sleep", 600, "SLEEP"), ("open_field_2", 1200, "RUNNING"),
             ("linear_track", 1500, "RUNNING")][: 2 + k % 3], 1))
        _put(sfd, "sessions.txt", tasks.encode())
        _put(sfd, "sync_all.mat", _MAT)
        os.close(sfd)
        files += 2
    return files


def generate(base: Path, sessions: int, workers: int, tree: Path | None) -> tuple[Path, int, int]:
    """The share (in ``tree`` when given, reused if a marker says it holds ``sessions``), the subjects
    CSV and the profile below ``base``; returns (profile, subjects, files)."""
    share = tree or base / "share"
    marker = share / MARKER
    subjects = max(1, sessions // SESSIONS_PER_SUBJECT)
    if marker.exists() and json.loads(marker.read_text()).get("sessions") == sessions:
        files = json.loads(marker.read_text())["files"]
    else:
        if share.exists():
            shutil.rmtree(share)
        (share / "recordings").mkdir(parents=True)
        jobs = [(str(share), s, sessions // subjects + (1 if s < sessions % subjects else 0))
                for s in range(subjects)]
        with multiprocessing.Pool(workers) as pool:
            files = sum(pool.imap_unordered(_write_subject, jobs, chunksize=16))
        marker.write_text(json.dumps({"sessions": sessions, "files": files, "version": GENERATOR_VERSION}))
    with open(base / "subjects.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["subject", "probe_name", "serial", "probe_type", "insertion_time"])
        for s in range(subjects):
            for p in range(1, 2 + s % 2):
                out.writerow([subject_name(s), f"{serial(s, p)}_{subject_name(s)}_{p}", serial(s, p),
                              "neuropixels 1.0 - 3B", "2019-12-01 10:00:00"])
    in_project = ", ".join(f'"{subject_name(s)}"' for s in range(0, subjects, 2))
    profile = base / "scale.yaml"
    profile.write_text(f"""name: scale-benchmark
description: generated by benchmarks/end_to_end.py
timezone: Europe/Oslo
shares:
  - name: N
    root: "{share}"
    layouts:
      - template: "{LAYOUT}"
        modality: ephys
projects:
  - name: grid-cells
    subjects: [{in_project}]
quality:
  settle_s: 0
approval:
  timeout_s: 3600
""")
    return profile, subjects, files


# --------------------------------------------------------------------------------------------
# the flow, in a child process
# --------------------------------------------------------------------------------------------

def child_flow(profile: str, out: str) -> None:
    """Run the flow with approval given; write what the parent cannot see from outside to ``out``."""
    samples: list[tuple[float, float, float]] = []  # (time, RSS MB, load)
    stop = threading.Event()

    def sample() -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not stop.wait(0.25):
            with open("/proc/self/statm") as fh:
                samples.append((time.time(), int(fh.read().split()[1]) * page / 1e6, os.getloadavg()[0]))

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.time()
    from flows.ingest import mass_ingest_from_cli
    from mass_ingest.db.decisions import Decision
    from mass_ingest.expectations import gx_run

    gx = {"seconds": 0.0, "calls": 0}
    for name in ("run_suite", "build_data_docs"):
        inner = getattr(gx_run, name)

        def timed(*args, _inner=inner, **kwargs):
            started = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                gx["seconds"] += time.perf_counter() - started
                gx["calls"] += 1
        setattr(gx_run, name, timed)
    # The quality stage imported the names before they were wrapped: wrap them there too.
    import mass_ingest.expectations.verdicts as verdicts
    import tasks.quality as quality
    verdicts.run_suite, quality.build_data_docs = gx_run.run_suite, gx_run.build_data_docs
    imported = time.time()
    state = mass_ingest_from_cli(profile, approval=Decision(approved=True, approver="benchmark", source="cli"),
                        return_state=True)
    ended = time.time()
    stop.set()
    counts = state.result(raise_on_failure=False)
    Path(out).write_text(json.dumps({
        "started": t0, "imported": imported, "ended": ended, "flow_run_id": str(state.state_details.flow_run_id),
        "state": state.type.value, "counts": counts.model_dump() if hasattr(counts, "model_dump") else str(counts),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": time.process_time(), "gx": gx, "samples": samples}))


def task_runs(flow_run_id: str) -> list[dict]:
    """(name, start, end) of every task run of the flow run, from the Prefect API."""
    import asyncio

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    async def fetch() -> list:
        async with get_client() as client:
            runs, offset = [], 0
            while True:
                page = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                                   sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200,
                                                   offset=offset)
                runs += page
                offset += len(page)
                if len(page) < 200:
                    return runs
    return [{"name": r.name, "start": r.start_time.timestamp() if r.start_time else None,
             "end": r.end_time.timestamp() if r.end_time else None} for r in asyncio.run(fetch())]


def stage_of(task_run_name: str) -> str:
    """The stage of a task run: 'insert rows 0+2000' -> 'insert', 'discover N 0/1' -> 'discover',
    'quality-3f2' -> 'quality'."""
    for prefix, stage in (("insert rows ", "insert"), ("discover ", "discover"), ("import ", "import")):
        if task_run_name.startswith(prefix):
            return stage
    return re.sub(r"-[0-9a-f]{3}$", "", task_run_name)


# --------------------------------------------------------------------------------------------
# dedup, in a child process
# --------------------------------------------------------------------------------------------

def child_dedup(rows: int, out: str) -> None:
    import polars as pl

    from benchmarks.dedup import SHARES, generate as generate_dedup
    from mass_ingest.dedup import deduplicate

    candidates, existing = generate_dedup(rows)
    shuffled = candidates.sample(fraction=1.0, shuffle=True, seed=3)
    result = {}
    for label, frame in (("in discovery order", candidates), ("shuffled", shuffled)):
        started, cpu = time.perf_counter(), time.process_time()
        deduplicate(frame, existing, SHARES)
        result[label] = (time.perf_counter() - started, time.process_time() - cpu, os.getloadavg()[0])
    result["polars_threads"] = pl.thread_pool_size()
    Path(out).write_text(json.dumps(result))


# --------------------------------------------------------------------------------------------
# the parent
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prefect(env: dict, log: Path) -> subprocess.Popen:
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", env["PREFECT_API_URL"].rsplit(":", 1)[1].split("/")[0]],
                              stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 600  # minutes on a loaded machine
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(env["PREFECT_API_URL"] + "/health", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    server.terminate()
    sys.exit(f"the Prefect server did not start:\n{log.read_text()[-3000:]}")


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return float("nan")


def busy(runs: list[dict]) -> float:
    """Seconds during which at least one of ``runs`` ran: side by side runs count once, and a stage run at the
    start and again at the end (record-findings) does not count the time between."""
    total, until = 0.0, float("-inf")
    for r in sorted(runs, key=lambda r: r["start"]):
        total += max(0.0, r["end"] - max(r["start"], until))
        until = max(until, r["end"])
    return total


def report_flow(result: dict, runs: list[dict], sessions: int, files: int) -> None:
    stages: dict[str, list[dict]] = {}
    for r in runs:
        if r["start"] is not None and r["end"] is not None:
            stages.setdefault(stage_of(r["name"]), []).append(r)
    samples = result["samples"]

    def at(t: float) -> tuple[float, float]:
        near = min(samples, key=lambda s: abs(s[0] - t)) if samples else (t, float("nan"), float("nan"))
        return near[1], near[2]

    wall = result["ended"] - result["imported"]
    print(f"\nend to end: {sessions:,} sessions, {files:,} files, approval given; state {result['state']}")
    print(f"  flow {wall:.1f} s, the flow process's CPU {result.get('cpu_s', float('nan')):.1f} s ({load()} now), "
          f"imports before it {result['imported'] - result['started']:.1f} s; "
          f"peak RSS of the flow process (ru_maxrss) {result['max_rss_mb']:.0f} MiB = "
          f"{result['max_rss_mb'] * 2**20 / 1e6:.0f} MB")
    if samples:  # where the peak was: the stage running at the highest sampled RSS
        when, top, _ = max(samples, key=lambda s: s[1])
        during = [n for n, rs in stages.items() if any(r["start"] <= when <= r["end"] for r in rs)]
        print(f"  highest sampled RSS {top:.0f} MB, {when - result['imported']:.0f} s into the flow, during "
              f"{', '.join(during) or 'no task run (the flow itself)'}")
    print(f"  {'stage':<28}{'task runs':>10}{'seconds':>10}{'RSS at end':>12}{'highest in it':>15}{'load at end':>13}")
    for name, rs in sorted(stages.items(), key=lambda item: min(r["start"] for r in item[1])):
        rss, avg = at(max(r["end"] for r in rs))
        # The highest sampled RSS while one of the stage's task runs ran: where the peak is, not only where it ends.
        inside = [s[1] for s in samples if any(r["start"] <= s[0] <= r["end"] for r in rs)]
        high = max(inside) if inside else float("nan")
        print(f"  {name:<28}{len(rs):>10}{busy(rs):>10.1f}{rss:>10.0f} MB{high:>12.0f} MB{avg:>13.1f}")
    inserted = result["counts"].get("inserted", 0) if isinstance(result["counts"], dict) else 0
    insert = stages["insert"]
    span = max(r["end"] for r in insert) - min(r["start"] for r in insert)
    quality = stages.get("quality", [])
    q_span = max(r["end"] for r in quality) - min(r["start"] for r in quality) if quality else float("nan")
    print(f"  insertion through the flow: {inserted:,} sessions in {span:.1f} s = {inserted / span:,.0f} sessions/s "
          f"({len(insert)} task runs; load {at(max(r['end'] for r in insert))[1]:.1f})")
    print(f"  Great Expectations: {result['gx']['seconds']:.1f} s in {result['gx']['calls']} calls = "
          f"{result['gx']['seconds'] / q_span:.0%} of the quality stage ({q_span:.1f} s), "
          f"{result['gx']['seconds'] / wall:.0%} of the flow")
    print(f"  counts: {result['counts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--dedup-rows", type=int, default=1_000_000, help="0: skip the dedup benchmark")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the temporary folder goes (a local disk)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes generating the share")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--tree", type=Path, help="generate the share here and keep it for the next run "
                        "(reused while it holds --sessions sessions; delete it yourself)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--dedup-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_flow(*args.child)
    if args.dedup_child:
        return child_dedup(int(args.dedup_child[0]), args.dedup_child[1])

    base = Path(tempfile.mkdtemp(prefix="mass-ingest-e2e-", dir=args.root))
    env = {**os.environ, "MASS_INGEST_HOME": str(base / "home"), "PREFECT_HOME": str(base / "prefect"),
           "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING", "MASS_INGEST_SCHEMA_PREFIX": "e2e_bench"}
    env.pop("MASS_INGEST_DATABASE", None)
    os.environ.update({k: env[k] for k in ("MASS_INGEST_HOME", "PREFECT_HOME", "PREFECT_API_URL",
                                           "MASS_INGEST_SCHEMA_PREFIX")})
    server = None
    print(f"{os.cpu_count()} CPUs, {load()}; temporary folder {base}", flush=True)
    try:
        started = time.perf_counter()
        profile, subjects, files = generate(base, args.sessions, args.workers, args.tree)
        print(f"generated {args.sessions:,} sessions of {subjects:,} subjects, {files:,} files in "
              f"{time.perf_counter() - started:.0f} s ({load()})", flush=True)
        server = start_prefect(env, base / "prefect-server.log")
        subprocess.run([sys.executable, "-m", "mass_ingest.cli", "subjects", "import", str(base / "subjects.csv")],
                       env=env, check=True, capture_output=True)
        result_path = base / "flow.json"
        started = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--child", str(profile), str(result_path)], env=env,
                               capture_output=True, text=True)
        if child.returncode or not result_path.exists():
            print(child.stdout[-3000:], child.stderr[-5000:])
            sys.exit(f"the flow failed after {time.perf_counter() - started:.0f} s")
        result = json.loads(result_path.read_text())
        report_flow(result, task_runs(result["flow_run_id"]), args.sessions, files)
        print(f"  Prefect server peak RSS {peak_rss_mb(server.pid):.0f} MB; PostgreSQL is its own processes")
        if args.dedup_rows:
            out = base / "dedup.json"
            subprocess.run([sys.executable, __file__, "--dedup-child", str(args.dedup_rows), str(out)], env=env,
                           check=True)
            dedup = json.loads(out.read_text())
            print(f"\ndedup of {args.dedup_rows:,} candidates against {args.dedup_rows:,} stored sessions "
                  f"({dedup['polars_threads']} polars threads):")
            for label in ("in discovery order", "shuffled"):
                wall, cpu, avg = dedup[label]
                print(f"  {label:<20}{wall:>7.2f} s ({cpu:.2f} CPU-s), {args.dedup_rows / wall:,.0f} candidates/s, "
                      f"load {avg:.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        from mass_ingest.db.connection import stop_embedded_server

        stop_embedded_server(base / "home" / "pgdata")
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
