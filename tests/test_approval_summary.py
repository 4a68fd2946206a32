"""The summary shown at the approval pause: counts per share, subject and project; candidates with findings."""

from __future__ import annotations

import polars as pl

from mass_ingest.approval_summary import approval_markdown, counts_by, markdown_table, new_subjects, png_uri
from mass_ingest.campaign_picture import Timelines
from mass_ingest.review_tables import part_frames, per_subject, review_lists

FINDING = pl.Struct({"code": pl.String, "severity": pl.String, "stage": pl.String, "share": pl.String,
                     "path": pl.String, "message": pl.String, "expected": pl.String,
                     "found": pl.String})


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {"share": "N", "projects": [], "probes": [], "findings": [], "quality_reasons": [], "pending_reasons": [],
            "quality_failures": [], "new_parts": [], "dedup_reason": None, "session_start": None, "excluded_by": None}
    full = [{**base, **r, "session_id": f"{r['subject']}/{i:04d}", "rel_path": f"recordings/{r['subject']}/{i:04d}"}
            for i, r in enumerate(rows)]
    return pl.DataFrame(full, schema={
        "status": pl.String, "share": pl.String, "subject": pl.String, "projects": pl.List(pl.String),
        "probes": pl.List(pl.Struct({"serial": pl.String})), "findings": pl.List(FINDING),
        "quality_reasons": pl.List(pl.String), "pending_reasons": pl.List(pl.String),
        "quality_failures": pl.List(pl.String), "session_start": pl.Datetime("us"), "excluded_by": pl.String,
        "new_parts": pl.List(pl.String), "dedup_reason": pl.String, "session_id": pl.String, "rel_path": pl.String})


def _warning(code: str, message: str) -> dict:
    return {"code": code, "severity": "WARNING", "stage": "discover", "share": "N", "path": "p", "message": message,
            "expected": None, "found": None}


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
    def test_thousands_of_candidates_give_headline_counts_grouped_reasons_and_links_not_cut_lists(self):
        rows = [{"status": "ready", "subject": f"s{i % 300}", "share": "N" if i % 3 else "backup",
                 "projects": ["grid"]} for i in range(3000)]
        rows += [{"status": "quarantined", "subject": "m9", "quality_failures": ["subject_known"],
                  "quality_reasons": ["subject 'm9' is not known"]}] * 120
        rows += [{"status": "quarantined", "subject": "m1", "quality_failures": ["subject_known", "no_zero_byte_data"],
                  "quality_reasons": ["subject 'm1' is not known", "probe_1/x.ap.bin is empty"]}]
        links = {"insert": [("review-insert", "../../artifacts/artifact/abc")]}
        markdown = approval_markdown(_frame(rows), "moser", "abc", "ingest-1", links=links,
                                     list_titles={"insert": "To insert when approved"})
        assert "**3,000 to insert** (3,000 ready to insert), **121 quarantined**" in markdown
        assert "| N | 2000 | 121 |" in markdown and "| backup | 1000 | 0 |" in markdown
        # Reasons grouped: one row per failed expectation, most sessions first, with examples.
        assert ("| the subject is not in the<br>database | 121 | `m1/3120`: subject 'm1' is not known<br>`m9/3000`:"
                in markdown)
        assert "… and 118 more |" in markdown
        assert "| an .ap.bin is empty (0 bytes) | 1 | `m1/3120`: probe_1/x.ap.bin is empty |" in markdown
        assert "- **To insert when approved** (3,000): [review-insert](../../artifacts/artifact/abc)" in markdown
        assert "and 2950 more" not in markdown and markdown.count("subject 'm9' is not known") == 2
        assert len(markdown) < 20_000

    def test_the_pictures_are_embedded_as_png_data_uris_and_the_compact_form_leaves_the_wide_ones_out(self):
        frame = _frame([{"status": "ready", "subject": "m1"}])
        png = b"\x89PNG\r\n\x1a\nfake"
        full = approval_markdown(frame, "moser", "abc", "ingest-1", counts=png, over_time=png,
                                 timelines=Timelines([("subjects 1-1 of 1", png)]))
        assert full.count(png_uri(png)) == 3 and png_uri(png).startswith("data:image/png;base64,iVBORw0KGg")
        compact = approval_markdown(frame, "moser", "abc", "ingest-1", counts=png, over_time=png,
                                    timelines=Timelines([("subjects 1-1 of 1", png)]), compact=True, full_summary="../x")
        assert compact.count(png_uri(png)) == 1 and "[The whole review page](../x)" in compact
        assert "## Per share" not in compact
        assert "not drawn" not in full

    def test_long_cells_are_broken_into_lines_the_old_ui_shows_and_code_stays_whole(self):
        rows = pl.DataFrame({"why": ["word " * 30 + "`mass-ingest subjects import` end"]})
        table = markdown_table(rows, ["why"], wrap=40)
        cell = table.splitlines()[2]
        assert all(len(line) <= 44 for line in cell.strip("| ").split("<br>"))
        assert "`mass-ingest subjects import`" in cell

    def test_unknown_subjects_of_offered_sessions_are_named_as_created_on_insertion(self):
        # 23456 (two imaging sessions offered) and 23457 will be created; 23458's only session is quarantined,
        # so nothing of it goes in; 12345 is known.
        frame = _frame([{"status": "ready", "subject": "23456"}, {"status": "ready", "subject": "23456"},
                        {"status": "ready", "subject": "23457"}, {"status": "quarantined", "subject": "23458"},
                        {"status": "ready", "subject": "12345"}]).with_columns(
            pl.Series("new_subject", [True, True, True, True, False]))
        assert new_subjects(frame).select("created", "sessions").rows() == [
            ("new subject 23456 will be created", 2), ("new subject 23457 will be created", 1)]
        for compact in (False, True):
            markdown = approval_markdown(frame, "moser-lab", "abc", "ingest-1", compact=compact)
            assert "2 new subjects will be created on insertion" in markdown
        full = approval_markdown(frame, "moser-lab", "abc", "ingest-1")
        assert "| new subject 23456 will be created | 2 |" in full and "23458 will be" not in full
        # Nothing said when every subject is known.
        known = frame.with_columns(pl.lit(False).alias("new_subject"))
        assert "will be created" not in approval_markdown(known, "moser-lab", "abc", "ingest-1")

    def test_without_a_quality_report_no_link_is_made_up(self):
        markdown = approval_markdown(_frame([{"status": "ready", "subject": "m1"}]), "moser", "abc", "ingest-1")
        assert "Quality:" not in markdown and "file://" not in markdown


class TestLists:
    def test_every_candidate_is_in_its_list_with_problems_first(self):
        frame = _frame([{"status": "ready", "subject": "m2"}, {"status": "ready", "subject": "m1",
                                                               "findings": [_warning("EPHYS.X", "odd")]},
                        {"status": "update", "subject": "m3", "new_parts": ["probe_2"]},
                        {"status": "quarantined", "subject": "m9", "quality_failures": ["subject_known"],
                         "quality_reasons": ["subject 'm9' is not known"],
                         "findings": [{**_warning("QUALITY.SUBJECT_KNOWN", "subject 'm9' is not known"),
                                       "severity": "ERROR", "stage": "quality", "found": "subject 'm9'",
                                       "expected": "a subject in the database"}]},
                        {"status": "copy", "subject": "m2", "dedup_reason": "same files as N:x"},
                        {"status": "pending", "subject": "m4", "pending_reasons": ["still copied"]}] * 700)
        lists = review_lists(frame)
        assert {k: v.height for k, v in lists.items()} == {"quarantined": 700, "pending": 700, "held": 0,
                                                           "insert": 2100, "duplicates": 700, "excluded": 0}
        insert = lists["insert"]
        assert insert["warnings"][:700].str.starts_with("EPHYS.X at p: odd").all()  # warnings first
        assert insert["what"][700:1400].eq("new session").all() and insert["what"][-1] == "new data: probe_2"
        first = lists["quarantined"].row(0, named=True)
        assert first == {"session": first["session"], "why": "subject 'm9' is not known", "found": "subject 'm9'",
                         "expected": "a subject in the\ndatabase", "check": "the subject is not in\nthe database",
                         "where": f"N:recordings/{first['session']}"}  # long text in lines: the classic UI shows each
        published = part_frames(insert, 1000)
        assert published[-1]["session"][-1] == insert["session"][-1] and len(published) == 3

    def test_subjects_with_problems_come_first(self):
        frame = _frame([{"status": "ready", "subject": "a"}, {"status": "quarantined", "subject": "z"},
                        {"status": "pending", "subject": "y"}, {"status": "pending", "subject": "y"}])
        assert per_subject(frame).select("subject", "insert", "quarantined", "pending").rows() == [
            ("y", 0, 0, 2), ("z", 0, 1, 0), ("a", 1, 0, 0)]


class TestPictures:
    def test_a_campaign_of_2000_sessions_and_200_subjects_gives_an_overview_and_four_timeline_pages(self):
        from datetime import datetime, timedelta

        from mass_ingest.approval_summary import reason_titles
        from mass_ingest.campaign_picture import counts_png, over_time_png, subject_order, timeline_pngs

        statuses = ["ready"] * 8 + ["quarantined", "pending", "duplicate", "held"]
        frame = _frame([{"status": statuses[i % 12], "subject": f"s{i % 200:03d}",
                         "quality_failures": ["subject_known"] if statuses[i % 12] == "quarantined" else []}
                        for i in range(2000)]).with_columns(
            pl.Series("session_start", [datetime(2024, 1, 1) + timedelta(hours=5 * i) for i in range(2000)]))
        pngs = [counts_png(frame, reason_titles()), over_time_png(frame)] + [p for _, p in timeline_pngs(frame).pictures]
        assert len(pngs) == 2 + 4 and all(p.startswith(b"\x89PNG") for p in pngs)
        assert timeline_pngs(frame).subjects_left_out == 0
        captions = [c for c, _ in timeline_pngs(frame.head(120), per_picture=50).pictures]
        assert captions[-1].startswith("Sessions per subject over time, subjects 101–120 of 120")
        order = subject_order(frame)
        problems = frame.filter(pl.col("status").is_in(["quarantined", "pending", "held"]))["subject"].unique()
        assert set(order[:problems.len()]) == set(problems.to_list())

    def test_timelines_stop_after_the_last_page_allowed_and_the_summary_says_where_the_other_subjects_are(self):
        from datetime import datetime, timedelta

        from mass_ingest.campaign_picture import subject_order, timeline_pngs

        # 130 subjects; every third has a quarantined session: those 44 come first, on the pages drawn.
        frame = _frame([{"status": "quarantined" if i % 3 == 0 else "ready", "subject": f"s{i:03d}"}
                        for i in range(130)]).with_columns(
            pl.Series("session_start", [datetime(2024, 1, 1) + timedelta(days=i) for i in range(130)]))
        timelines = timeline_pngs(frame, per_picture=25, max_pictures=2)
        assert len(timelines.pictures) == 2 and timelines.subjects_left_out == 80
        assert timelines.pictures[-1][0].startswith("Sessions per subject over time, subjects 26–50 of 130")
        assert set(subject_order(frame)[:50]) >= {f"s{i:03d}" for i in range(0, 130, 3)}
        links = {"subjects": [("review-subjects", "../../artifacts/artifact/subj")]}
        markdown = approval_markdown(frame, "moser", "abc", "ingest-1", links=links, timelines=timelines)
        assert markdown.count("data:image/png;base64,") == 2
        assert ("_80 more subjects not drawn (subjects are drawn most problems first): their sessions by outcome are "
                "in [the per-subject list](../../artifacts/artifact/subj)._") in markdown
