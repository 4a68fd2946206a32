"""The summary shown at the approval pause: counts per share, subject and project; candidates with findings."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mass_ingest.approval_summary import ROWS, approval_markdown, counts_by

FINDING = pl.Struct({"code": pl.String, "severity": pl.String, "stage": pl.String, "share": pl.String,
                     "path": pl.String, "message": pl.String, "expected": pl.String})


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {"share": "N", "projects": [], "probes": [], "findings": [], "quality_reasons": [], "pending_reasons": [],
            "new_parts": [], "dedup_reason": None}
    full = [{**base, **r, "session_id": f"{r['subject']}/{i:04d}", "rel_path": f"recordings/{r['subject']}/{i:04d}"}
            for i, r in enumerate(rows)]
    return pl.DataFrame(full, schema={
        "status": pl.String, "share": pl.String, "subject": pl.String, "projects": pl.List(pl.String),
        "probes": pl.List(pl.Struct({"serial": pl.String})), "findings": pl.List(FINDING),
        "quality_reasons": pl.List(pl.String), "pending_reasons": pl.List(pl.String),
        "new_parts": pl.List(pl.String), "dedup_reason": pl.String, "session_id": pl.String, "rel_path": pl.String})


def _warning(code: str, message: str) -> dict:
    return {"code": code, "severity": "WARNING", "stage": "discover", "share": "N", "path": "p", "message": message,
            "expected": None}


class TestCounts:
    def test_per_subject_counts_each_status_in_its_column_most_ready_first(self):
        frame = _frame([{"status": "ready", "subject": "m2"}, {"status": "ready", "subject": "m2"},
                        {"status": "quarantined", "subject": "m1"}, {"status": "ready", "subject": "m1"},
                        {"status": "moved", "subject": "m1"}, {"status": "update", "subject": "m3"}])
        counts = counts_by(frame, "subject").select("subject", "ready", "quarantined", "moved or new data")
        assert counts.rows() == [("m2", 2, 0, 0), ("m1", 1, 1, 1), ("m3", 0, 0, 1)]

    def test_a_session_in_two_projects_counts_in_each_and_one_in_none_under_none(self):
        frame = _frame([{"status": "ready", "subject": "m1", "projects": ["grid", "speed"]},
                        {"status": "ready", "subject": "m1", "projects": []}])
        assert counts_by(frame, "projects").select("projects", "ready").rows() == \
            [("(none)", 1), ("grid", 1), ("speed", 1)]


class TestMarkdown:
    def test_thousands_of_candidates_give_capped_tables_and_full_counts(self):
        rows = [{"status": "ready", "subject": f"s{i % 300}", "share": "N" if i % 3 else "backup",
                 "projects": ["grid"]} for i in range(3000)]
        rows += [{"status": "quarantined", "subject": "m9", "quality_reasons": ["subject 'm9' is not known"]}] * 120
        markdown = approval_markdown(_frame(rows), "moser", "abc", "ingest-1")
        assert "**3000 ready to insert**, 120 quarantined" in markdown
        assert "| N | 2000 | 120 |" in markdown and "| backup | 1000 | 0 |" in markdown
        assert "| grid | 3000 | 0 |" in markdown
        assert f"... and {301 - ROWS} more subjects" in markdown
        assert f"... and {3000 - ROWS} more ready sessions" in markdown
        assert f"... and {120 - ROWS} more quarantined sessions" in markdown
        assert markdown.count("subject 'm9' is not known") == ROWS
        assert len(markdown) < 60_000

    def test_ready_candidates_show_their_findings_and_the_data_docs_are_linked(self, tmp_path: Path):
        findings = [_warning(f"EPHYS.W{i}", f"warning {i}") for i in range(5)]
        frame = _frame([{"status": "ready", "subject": "m1", "findings": findings},
                        {"status": "ready", "subject": "m2",
                         "findings": [{**_warning("DISCOVER.X", "only info"), "severity": "INFO"}]},
                        {"status": "ready", "subject": "m3", "findings": [_warning("EPHYS.ONE", "just one")]}])
        docs = tmp_path / "data-docs" / "index.html"
        markdown = approval_markdown(frame, "moser", "abc", "ingest-1", docs)
        assert "EPHYS.W0 at p: warning 0; EPHYS.W1 at p: warning 1; EPHYS.W2 at p: warning 2; and 2 more" in markdown
        assert "| EPHYS.ONE at p: just one |" in markdown
        assert "only info" not in markdown
        assert f"[Great Expectations Data Docs]({docs.as_uri()})" in markdown

    def test_without_data_docs_no_link_is_made_up(self):
        markdown = approval_markdown(_frame([{"status": "ready", "subject": "m1"}]), "moser", "abc", "ingest-1")
        assert "Data Docs" not in markdown
