#!/usr/bin/env python
"""The whole commands against ``find``: ``mass-ingest discover --json`` and ``validate --json`` as a
person runs them (a new process: interpreter start, imports, the walk, the JSON on stdout), on the
generated share of about N files (``share_tree.py``; 1,000,000 by default, reused with ``--keep``).

In one run: ``find -type f | wc -l`` over the share and over ``recordings/`` (best of the repeats,
page cache warm), then each command (best of the repeats, stdout to a file whose size is printed),
with the load average beside every number. ``validate`` reads the pipeline, so it gets a database of
its own: the embedded PostgreSQL below a temporary MASS_INGEST_HOME, started by one untimed
``validate`` first and stopped at the end. Nothing is asserted.

    .venv/bin/python benchmarks/commands.py                       # 1,000,000 files
    .venv/bin/python benchmarks/commands.py --files 100000 --keep --commands discover
    .venv/bin/python benchmarks/commands.py --keep --commands discover --baseline ../main   # before/after
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import load_average, time_find  # noqa: E402
from benchmarks.share_tree import (DEFAULT_ROOT, FILES_PER_SESSION, MARKER, bench_profile, check_disk,  # noqa: E402
                                   ensure_tree, remove_tree)

CLI = Path(sys.executable).parent / "mass-ingest"


def _load() -> str:
    one, five, _ = load_average()
    return f"load {one:.1f}/{five:.1f}"


def write_profile(share: Path, folder: Path) -> Path:
    """The benchmark's profile as a YAML file, as a lab would write it."""
    import yaml

    data = bench_profile(str(share)).model_dump(mode="json", exclude_defaults=True)
    path = folder / "bench-profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_command(args: list[str], env: dict, out: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system of the process) and bytes written to stdout."""
    with open(out, "wb") as fh:
        before = os.times()
        started = time.perf_counter()
        # From the output's folder: a checkout in the working directory could come first on a child's path.
        done = subprocess.run([str(CLI), *args], stdout=fh, stderr=subprocess.PIPE, env=env, cwd=out.parent)
        seconds = time.perf_counter() - started
        after = os.times()
    if done.returncode != 0:
        sys.exit(f"mass-ingest {' '.join(args)} failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return seconds, cpu, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1_000_000, metavar="N", help="about how many files (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, the best is reported (default 3)")
    parser.add_argument("--commands", default="discover,validate", help="which commands (default discover,validate)")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR", help=f"where to generate (default {DEFAULT_ROOT})")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree for the next run")
    parser.add_argument("--baseline", metavar="CHECKOUT", help="also run each command with another checkout's code "
                        "(e.g. the main branch's worktree), alternating with this one's, for a before/after in one run")
    args = parser.parse_args()
    if args.files < FILES_PER_SESSION * 10:
        parser.error(f"--files must be at least {FILES_PER_SESSION * 10}")
    base = Path(args.root).resolve()
    created_base = not base.exists()
    check_disk(base, [args.files])
    base.mkdir(parents=True, exist_ok=True)
    tree = base / f"files-{args.files}"
    home = Path(tempfile.mkdtemp(prefix="mass-ingest-bench-home-"))
    env = {**os.environ, "MASS_INGEST_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    commands = args.commands.split(",")
    try:
        share, counts = ensure_tree(base, args.files, min(4, os.cpu_count() or 1))
        profile = write_profile(share, home)
        time_find(share)  # warm the page cache for both sides
        finds = [(time_find(share), time_find(share / "recordings"), _load()) for _ in range(args.repeats)]
        find_all = min(finds, key=lambda f: f[0][0])
        find_rec = min(finds, key=lambda f: f[1][0])
        print(f"find -type f, whole tree   {find_all[0][0]:>7.2f} s  ({find_all[0][2]:,} files; {find_all[2]})", flush=True)
        print(f"find -type f, recordings/  {find_rec[1][0]:>7.2f} s  ({find_rec[1][2]:,} files; {find_rec[2]})", flush=True)
        results = {}
        # Each checkout's code through PYTHONPATH; with --baseline, the two alternate, so load swings hit both.
        checkouts = [("", env)] if not args.baseline else [
            (" (baseline)", {**env, "PYTHONPATH": str(Path(args.baseline).resolve())}),
            ("", {**env, "PYTHONPATH": str(REPO)})]
        for command in commands:
            argv = [command, str(profile), "--json"]
            if command == "validate":  # starts the embedded database once, untimed
                print("  starting the embedded database (one untimed validate) ...", flush=True)
                run_command(argv, env, home / "warm.json")
            runs: dict[str, list] = {label: [] for label, _ in checkouts}
            for i in range(args.repeats):
                for label, checkout_env in checkouts:
                    seconds, cpu, size = run_command(argv, checkout_env, home / f"{command}.json")
                    runs[label].append((seconds, cpu, size, _load()))
                    print(f"  mass-ingest {command} --json{label}, run {i + 1}/{args.repeats}: {seconds:.2f} s "
                          f"(CPU {cpu:.2f} s), {runs[label][-1][3]}", flush=True)
            for label, _ in checkouts:
                results[command + label] = min(runs[label])
        print(f"\n=== whole commands against find, {counts.files:,} files, {counts.sessions:,} sessions "
              f"({os.cpu_count()} CPUs) ===")
        print(f"{'':<28}{'wall':>8}  {'CPU':>7}  {'/ find whole':>12}  {'/ find recordings/':>18}  load average")
        print(f"{'find -type f (whole tree)':<28}{find_all[0][0]:>6.2f} s  {find_all[0][1]:>5.2f} s  {'1.0x':>12}  "
              f"{'':>18}  {find_all[2]}")
        print(f"{'find -type f recordings/':<28}{find_rec[1][0]:>6.2f} s  {find_rec[1][1]:>5.2f} s  {'':>12}  "
              f"{'1.0x':>18}  {find_rec[2]}")
        for command, (seconds, cpu, size, load) in results.items():
            print(f"{'mass-ingest ' + command + ' --json':<28}{seconds:>6.2f} s  {cpu:>5.2f} s  "
                  f"{seconds / find_all[0][0]:>11.2f}x  {seconds / find_rec[1][0]:>17.2f}x  {load}  "
                  f"({size / 1e6:.1f} MB of JSON)")
    finally:
        if "validate" in commands:
            subprocess.run([str(CLI), "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        if not args.keep and (tree / MARKER).exists():
            remove_tree(tree)
        if created_base and base.exists() and not any(base.iterdir()):
            base.rmdir()


if __name__ == "__main__":
    main()
