"""The readable quality report: what Great Expectations checked, how much failed, and every failure
named by its session, with the value found and what was expected.

It replaces GX's Data Docs as the page a person opens: those are HTML files on the worker (a
``file://`` link a browser refuses) whose styles load from the internet. This report is built
from GX's own validation results (saved as JSON by the quality stage) and the findings the
failures became, and is shown as Prefect artifacts, which render offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from mass_ingest.approval_summary import markdown_table, reason_titles
from mass_ingest.expectations.suites import META_KEY
from mass_ingest.findings import Stage

RESULTS_FILE = "quality-results.json"  # beside the stage frames of an ingest


def save_results(results: list[Any], run_dir: Path) -> Path:
    """GX's validation results (one per modality's suite) as JSON, for the report of every later run."""
    target = run_dir / RESULTS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps([r.to_json_dict() for r in results]))
    tmp.replace(target)
    return target


def load_results(run_dir: Path) -> list[dict]:
    path = run_dir / RESULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def _rule(config: dict) -> str:
    """An expectation as GX names it, with its arguments (parameters by name)."""
    kwargs = {k: (f"${v['$PARAMETER']}" if isinstance(v, dict) and "$PARAMETER" in v else v)
              for k, v in (config.get("kwargs") or {}).items() if k not in ("batch_id",)}
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{config.get('type', '?')}({args})"


def expectation_rows(results: list[dict]) -> pl.DataFrame:
    """One row per expectation and suite: suite, expectation, the GX rule, rows checked, failed."""
    rows = []
    titles = reason_titles()
    for result in results:
        suite = result.get("suite_name") or (result.get("meta") or {}).get("expectation_suite_name", "?")
        for outcome in result.get("results", []):
            config = outcome.get("expectation_config") or {}
            name = (config.get("meta") or {}).get(META_KEY, "?")
            detail = outcome.get("result") or {}
            rows.append({"suite": suite, "expectation": name, "failing means": titles.get(name, ""),
                         "rule (Great Expectations)": _rule(config),
                         "checked": int(detail.get("element_count") or 0),
                         "failed": int(detail.get("unexpected_count") or 0),
                         "passed": "yes" if outcome.get("success") else "no"})
    return pl.DataFrame(rows, schema={"suite": pl.String, "expectation": pl.String, "failing means": pl.String,
                                      "rule (Great Expectations)": pl.String, "checked": pl.Int64,
                                      "failed": pl.Int64, "passed": pl.String})


def failure_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Every failed expectation of every candidate: session, expectation, code, value found, expected, where."""
    if frame.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in
                                    ("session", "expectation", "found", "expected", "status", "share", "folder",
                                     "code", "reason")})
    findings = (frame.select("session_id", "status", "findings").explode("findings").drop_nulls("findings")
                .unnest("findings").filter(pl.col("stage") == Stage.QUALITY))
    if "found" not in findings.columns:
        findings = findings.with_columns(pl.lit(None, dtype=pl.String).alias("found"))
    return findings.sort("code", "session_id").select(
        pl.col("session_id").alias("session"),
        pl.col("code").str.replace("QUALITY.", "", literal=True).str.to_lowercase().alias("expectation"),
        pl.col("found").fill_null(""), pl.col("expected").fill_null(""), "status", "share",
        pl.col("path").alias("folder"), "code", pl.col("message").alias("reason"))


def report_markdown(ingest_id: str, expectations: pl.DataFrame, failures: pl.DataFrame,
                    failures_links: list[tuple[str, str]], gx_version: str) -> str:
    """The report's page: per expectation what was checked and how much failed, and where every failure is."""
    sessions = failures["session"].n_unique() if failures.height else 0
    links = ", ".join(f"[{label}]({url})" for label, url in failures_links) or "_none_"
    examples = (failures.group_by("expectation", maintain_order=True).head(1)
                .select("expectation", "session", "found", "expected"))
    return (
        f"# Quality report of ingest `{ingest_id}`\n\n"
        f"Checked by Great Expectations {gx_version}: {expectations['suite'].n_unique()} suite(s), "
        f"{expectations.height} expectation results; **{failures.height:,} failures in {sessions:,} sessions**.\n\n"
        f"Every failure, with its session, the value found and what was expected: {links}\n\n"
        "## Expectations\n"
        + markdown_table(expectations.sort("failed", "suite", descending=[True, False]),
                         ["expectation", "failing means", "checked", "failed", "suite", "rule (Great Expectations)"],
                         "expectations", limit=max(expectations.height, 1))
        + "\n## First failure of each expectation\n"
        + markdown_table(examples, ["expectation", "session", "found", "expected"], "expectations",
                         limit=max(examples.height, 1))
    )
