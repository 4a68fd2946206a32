#!/usr/bin/env python
"""Deduplication speed: ``deduplicate`` on 1,000,000 candidates against 1,000,000 stored sessions.

What it does:

1. Generates both frames directly in polars (no share, no database), seeded, so every run sees
   the same data, and passes them once through parquet, as the stage loads its input:

   - about 5,000 subjects, each with one or two implanted probes (its serials); session starts
     at random seconds over 5 years; one or two probes per session, a Kilosort output per probe;
   - stored sessions: their location canonical for 80 %, and for 20 % written as older tools
     did (``N:\\Recordings\\...\\``, ``n:/recordings/...``, ``/MNT/N/recordings/.../``), with
     their serials, recording names and output folders (the outputs as insertion will record
     them, so the output comparison is measured too);
   - candidates: 30 % are stored sessions (of those, 2 % with a new Kilosort run and 1 % with a
     new probe folder since), 0.5 % of all are stored sessions in a moved folder, 0.05 % at another
     folder with another probe (conflicts), 1 % are copies on a second share of other candidates,
     0.5 % excluded by the profile, 0.2 % with an unreadable start time; the rest are new.
2. Times ``deduplicate`` (best of ``--repeats``, default 3) on the candidates in discovery order
   (each share sorted by path, as discovery emits it), in 4 sorted runs (as the flow concatenates
   4 discovery chunks of a share, ``shares[].chunks: 4``) and shuffled (the stage then sorts the
   whole frame), and prints seconds, CPU seconds, candidates/s and the count per status;
   ``--breakdown`` also shows the time of each step of one run.

Nothing is asserted: timings depend on the machine.

Examples::

    .venv/bin/python benchmarks/dedup.py
    .venv/bin/python benchmarks/dedup.py --rows 100000 --breakdown
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mass_ingest.candidates import _PROBE, CANDIDATE_SCHEMA  # noqa: E402
from mass_ingest.profile import Share  # noqa: E402
from mass_ingest.dedup import EXISTING_SCHEMA, KEY, deduplicate  # noqa: E402

LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
SHARES = [Share(name="N", root="/mnt/N", aliases=["N:/", "//fileserver/N"], layouts=[{"template": LAYOUT}]),
          Share(name="backup", root="/mnt/backup", aliases=["B:/", "//fileserver/backup"],
                layouts=[{"template": LAYOUT}])]
SUBJECTS = 5_000
YEARS = 5
OVERLAP, MOVED, CONFLICTS, COPIES, EXCLUDED, NO_START = 0.30, 0.005, 0.0005, 0.01, 0.005, 0.002
LATE_OUTPUT, LATE_PROBE = 0.02, 0.01  # of the stored sessions found again at their place


def _sessions(rng: np.random.Generator, n: int, starts: np.ndarray) -> pl.DataFrame:
    """n sessions: subject, start, probe count, and the subject's serials."""
    subject = rng.integers(0, SUBJECTS, n)
    return pl.DataFrame({
        "subject": (20000 + subject).astype(str),
        "session_start": (np.datetime64("2020-01-01T00:00:00", "us")
                          + starts.astype("timedelta64[s]").astype("timedelta64[us]")),
        "n_probes": rng.integers(1, 3, n),
        "serial_1": (18408400000 + subject * 2).astype(str),
        "serial_2": (18408400001 + subject * 2).astype(str),
    })


def _nested(base: pl.DataFrame) -> pl.DataFrame:
    """``probes`` and ``outputs`` list columns of each base row (one Kilosort run per probe).

    Built from one row per probe and grouped, because ``concat_list`` of struct columns is slow.
    """
    nulls = {k: pl.lit(None, dtype=t) for k, t in _PROBE.to_schema().items()}
    per_probe = pl.concat([
        base.filter(pl.col("n_probes") >= n).select(
            "_base", pl.lit(n, dtype=pl.Int64).alias("n"),
            pl.struct(**{**nulls, "folder": pl.lit(f"probe_{n}"), "meta_file": pl.lit(f"probe_{n}/npx.imec.ap.meta"),
                         "serial": pl.col(f"serial_{n}"), "has_lf": pl.lit(True)}).alias("probe"))
        for n in (1, 2)])
    output = {"recording": pl.lit("probe_1"), "files": pl.lit([], dtype=pl.List(pl.String)), "complete": pl.lit(True),
              "preferred": pl.lit(False)}
    per_output = pl.concat([
        per_probe.select("_base", "n", pl.struct(kind=pl.lit("kilosort"), path=pl.format("probe_{}/kilosort4", "n"),
                                                 **output).alias("output")),
        base.filter("late_output").select("_base", pl.lit(3, dtype=pl.Int64).alias("n"), pl.struct(
            kind=pl.lit("kilosort"), path=pl.lit("probe_1/kilosort4_rerun"), **output).alias("output"))])
    probes = per_probe.sort("_base", "n").group_by("_base", maintain_order=True).agg(pl.col("probe").alias("probes"))
    outputs = per_output.sort("_base", "n").group_by("_base", maintain_order=True).agg(
        pl.col("output").alias("outputs"))
    return (base.select("_base").join(probes, on="_base", how="left", maintain_order="left")
            .join(outputs, on="_base", how="left", maintain_order="left").drop("_base"))


def _candidates(base: pl.DataFrame, share: str) -> pl.DataFrame:
    """Discovery's frame of ``share`` holding the ``base`` sessions: sorted by rel_path, as discovery emits it."""
    base = base.sort("rel_path").with_row_index("_base")
    location = pl.format("/mnt/{}/{}", pl.lit(share.lower()), "rel_path")
    when = pl.col("session_start").dt.strftime("%Y-%m-%d_%H-%M-%S").fill_null("unknown-time")
    empty = {name: pl.lit([], dtype=dtype).alias(name) for name, dtype in CANDIDATE_SCHEMA.items()
             if isinstance(dtype, pl.List)}
    light = base.select(
        location.hash().cast(pl.String).alias("candidate_id"),
        pl.format("{}/{}", pl.col("subject"), when).alias("session_id"),
        pl.lit(share).alias("share"), "rel_path", location.alias("location"), "subject", "session_start",
        pl.lit(False).alias("start_inferred"), pl.lit("").alias("start_source"), pl.lit("ephys").alias("modality"), pl.lit(LAYOUT).alias("layout"))
    return light.hstack(_nested(base)).with_columns(
        empty["bins_without_meta"], empty["task_hints"], empty["recordings"],
        pl.lit(["spikeglx", "kilosort"]).alias("systems"), empty["projects"],
        pl.lit(None, dtype=pl.String).alias("experimenter"), pl.lit("").alias("group"),
        pl.lit(None, dtype=pl.String).alias("excluded_by"), empty["findings"]).select(list(CANDIDATE_SCHEMA))


def generate(rows: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(candidates, existing): ``rows`` of each, as described in the module docstring."""
    rng = np.random.default_rng(seed)
    # Distinct start seconds, so that every generated key is one session.
    drawn = np.unique(rng.integers(0, YEARS * 365 * 86400, size=3 * rows))
    starts = rng.permutation(drawn)[:2 * rows]
    stored = _sessions(rng, rows, starts[:rows]).with_columns(
        pl.format("recordings/{}/{}", "subject", pl.col("session_start").dt.strftime("%Y-%m-%d_%H-%M-%S"))
        .alias("rel_path"))

    # Existing: canonical locations, 20 % in an older tool's spelling.
    spelling = rng.choice(4, rows, p=[0.8, 0.08, 0.06, 0.06])
    canonical = pl.format("/mnt/n/{}", "rel_path")
    location = (pl.when(pl.col("_spelling") == 1)
                .then(pl.format("N:\\{}\\", pl.col("rel_path").str.replace_all("/", "\\", literal=True)
                                .str.replace("recordings", "Recordings", literal=True)))
                .when(pl.col("_spelling") == 2).then(pl.format("n:/{}", "rel_path"))
                .when(pl.col("_spelling") == 3).then(pl.format("/MNT/N/{}/", "rel_path"))
                .otherwise(canonical))
    probes = ["probe_1", "probe_2"]
    existing = stored.with_columns(pl.Series("_spelling", spelling)).select(
        *KEY, location.alias("location"), pl.lit("").alias("group"),
        pl.concat_list("serial_1", "serial_2").list.head(pl.col("n_probes")).alias("existing_serials"),
        pl.lit([probes]).list.first().list.head(pl.col("n_probes")).alias("existing_recordings"),
        pl.lit([[f"{p}/kilosort4" for p in probes]]).list.first().list.head(pl.col("n_probes"))
        .alias("existing_outputs"),
        pl.lit("0f1e2d3c-bench").alias("ingest_id"), pl.lit(datetime(2024, 6, 1)).alias("ingested_at"))

    # Candidates: stored sessions found again (at their place, moved, conflicting), then new ones.
    n_moved, n_conflicts = int(rows * MOVED), int(rows * CONFLICTS)
    n_again = int(rows * OVERLAP) - n_moved - n_conflicts
    n_copies = int(rows * COPIES)
    n_new = rows - n_again - n_moved - n_conflicts - n_copies
    found = stored.sample(n_again + n_moved + n_conflicts, seed=seed)
    kind = np.repeat(np.array(["again", "moved", "conflict"]), [n_again, n_moved, n_conflicts])
    late = rng.random(len(kind))
    found = found.with_columns(
        pl.Series("_kind", kind),
        pl.when(pl.Series(kind) != "again").then(pl.col("rel_path").str.replace("recordings/", "archive/"))
        .otherwise(pl.col("rel_path")).alias("rel_path"),
        pl.when(pl.Series(kind) == "conflict").then(pl.lit("21144000000")).otherwise(pl.col("serial_1"))
        .alias("serial_1"),
        pl.when(pl.Series((kind == "again") & (late >= 1 - LATE_PROBE)) & (pl.col("n_probes") == 1))
        .then(2).otherwise(pl.col("n_probes")).alias("n_probes"),
        pl.Series("late_output", (kind == "again") & (late < LATE_OUTPUT)),
    ).drop("_kind")
    new = _sessions(rng, n_new, starts[rows:rows + n_new]).with_columns(
        pl.format("recordings/{}/{}", "subject", pl.col("session_start").dt.strftime("%Y-%m-%d_%H-%M-%S"))
        .alias("rel_path"), pl.lit(False).alias("late_output"))
    base = pl.concat([found, new], how="diagonal_relaxed")
    base = base.with_columns(
        pl.when(pl.Series(rng.random(base.height) < NO_START)).then(None)
        .otherwise(pl.col("session_start")).alias("session_start"))
    copies = base.sample(n_copies, seed=seed + 1)
    candidates = pl.concat([_candidates(base, "N"), _candidates(copies, "backup")])
    excluded = pl.Series(rng.random(candidates.height) < EXCLUDED)
    candidates = candidates.with_columns(
        pl.when(excluded).then(pl.lit("exclude subjects: 'x'")).otherwise(None).alias("excluded_by"))
    return _as_loaded(candidates.cast(CANDIDATE_SCHEMA)), _as_loaded(existing.cast(EXISTING_SCHEMA))


def _as_loaded(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a stage reads it, through parquet (StageFrame.load): columns in several chunks."""
    with tempfile.TemporaryDirectory() as tmp:
        frame.write_parquet(Path(tmp) / "frame.parquet")
        return pl.read_parquet(Path(tmp) / "frame.parquet")


def best_of(repeats: int, run) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return min(times), out


def breakdown(candidates: pl.DataFrame, existing: pl.DataFrame) -> list[tuple[str, float]]:
    """Seconds spent in each step of one ``deduplicate`` run (cProfile, cumulative, our functions only)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(deduplicate, candidates, existing, SHARES)
    stats = pstats.Stats(profiler).stats
    ours = {f"{Path(file).name}:{name}": row[3] for (file, _, name), row in stats.items()
            if file.endswith(("mass_ingest/dedup.py", "mass_ingest/locations.py")) and row[3] >= 0.005
            and not name.startswith("<")}
    steps = ("_output_order", "_stored_sessions", "_pairs", "_stored_lists", "_classify")
    ours["dedup.py:deduplicate, its own lines"] = ours["dedup.py:deduplicate"] - sum(
        ours.get(f"dedup.py:{step}", 0.0) for step in steps)
    return sorted(ours.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="candidates, and stored sessions (each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true", help="also show the time of each step of one run")
    args = parser.parse_args()
    print(f"polars {pl.__version__} on {os.cpu_count()} CPUs ({pl.thread_pool_size()} polars threads), "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    t = time.perf_counter()
    candidates, existing = generate(args.rows)
    shuffled = candidates.sample(fraction=1.0, shuffle=True, seed=3)
    runs = pl.concat([candidates.gather_every(4, i) for i in range(4)]).rechunk()
    print(f"generated {candidates.height:,} candidates and {existing.height:,} stored sessions "
          f"in {time.perf_counter() - t:.1f} s", flush=True)
    for label, frame in (("in discovery order", candidates), ("in 4 sorted runs", runs),
                         ("shuffled (a full sort)", shuffled)):
        cpu = time.process_time()
        seconds, out = best_of(args.repeats, lambda: deduplicate(frame, existing, SHARES))
        cpu = (time.process_time() - cpu) / args.repeats
        print(f"\ndeduplicate, candidates {label}: {seconds:.2f} s (best of {args.repeats}; "
              f"{cpu:.2f} CPU-s per run on average), {frame.height / seconds:,.0f} candidates/s", flush=True)
    counts = out.group_by("status").len().sort("len", descending=True)
    print("rows per status:")
    for status, n in counts.iter_rows():
        print(f"  {status:<10}{n:>10,}")
    if args.breakdown:
        for label, frame in (("in discovery order", candidates), ("shuffled", shuffled)):
            print(f"\nsteps of one run, candidates {label} (cumulative seconds, under cProfile):")
            for name, s in breakdown(frame, existing):
                print(f"  {name:<44}{s:>6.2f} s")


if __name__ == "__main__":
    main()
