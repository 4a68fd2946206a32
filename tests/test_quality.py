"""The data-quality stage: each expectation, run through Great Expectations for real."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import polars as pl
import pytest
from pydantic import ValidationError

from mass_ingest.candidates import CANDIDATE_SCHEMA, ProbeRecording, SessionCandidate, candidates_to_frame
from mass_ingest.findings import finding, Severity
from tasks.quality import (
    EXPECTATIONS,
    META_KEY,
    QualityContext,
    check_quality,
    failures_as_findings,
    run_suite,
    validation_frame,
)

CONTEXT = QualityContext(implanted_probes={"m1": 1, "m2": 2}, now=datetime(2025, 6, 1, 12, 0),
                         not_before=datetime(2015, 1, 1))
QUALITY_COLUMNS = {"quality_passed": pl.Boolean, "quality_failures": pl.List(pl.String),
                   "quality_reasons": pl.List(pl.String)}


def _probe(n: int) -> ProbeRecording:
    return ProbeRecording(folder=f"probe_{n}", meta_file=f"probe_{n}/npx.imec.ap.meta", serial=f"1830{n}",
                          file_size_bytes=1000, bin_size=1000)


def _candidate(name: str, *, subject: str = "m1", start: datetime | None = datetime(2024, 3, 1, 10, 0),
               probes: int = 1, bins_without_meta: tuple[str, ...] = ()) -> SessionCandidate:
    """A candidate that passes every expectation unless an argument says otherwise."""
    rel_path = f"recordings/{subject}/{name}"
    return SessionCandidate(share="N", rel_path=rel_path, location=f"/mnt/n/{rel_path}", subject=subject,
                            session_start=start, probes=[_probe(n) for n in range(1, probes + 1)],
                            bins_without_meta=list(bins_without_meta))


def _checked(*candidates: SessionCandidate) -> list[dict]:
    out = check_quality(candidates_to_frame(list(candidates)), CONTEXT)
    return out.select(list(QUALITY_COLUMNS)).to_dicts()


class TestQualityStage:
    def test_a_clean_candidate_passes_with_no_failures_and_no_reasons(self) -> None:
        assert _checked(_candidate("clean")) == [
            {"quality_passed": True, "quality_failures": [], "quality_reasons": []}]

    def test_an_unknown_subject_fails_only_subject_known_and_its_probe_count_is_not_judged(self) -> None:
        # Three probes would fail the count for any known subject; m9 has no implant record.
        assert _checked(_candidate("s", subject="m9", probes=3)) == [{
            "quality_passed": False, "quality_failures": ["subject_known"],
            "quality_reasons": ["subject 'm9' is not known; import it with `mass-ingest subjects import`"]}]

    def test_an_unread_session_start_fails_only_session_start_parsed(self) -> None:
        # The null start must not also fail the two date-range expectations.
        assert _checked(_candidate("s", start=None)) == [{
            "quality_passed": False, "quality_failures": ["session_start_parsed"],
            "quality_reasons": ["session start could not be read from the folder name"]}]

    def test_a_session_start_after_now_fails_only_not_in_future_and_names_the_start(self) -> None:
        assert _checked(_candidate("s", start=datetime(2031, 1, 1, 3, 0))) == [{
            "quality_passed": False, "quality_failures": ["session_start_not_in_future"],
            "quality_reasons": ["session start 2031-01-01 03:00 is in the future"]}]

    def test_a_session_start_before_not_before_fails_only_not_before_and_names_both_dates(self) -> None:
        assert _checked(_candidate("s", start=datetime(2009, 12, 31, 23, 59))) == [{
            "quality_passed": False, "quality_failures": ["session_start_not_before"],
            "quality_reasons": [
                "session start 2009-12-31 23:59 is before 2015-01-01 00:00, the earliest start allowed"]}]

    def test_session_starts_exactly_on_either_bound_pass(self) -> None:
        checked = _checked(_candidate("at-now", start=CONTEXT.now), _candidate("at-floor", start=CONTEXT.not_before))
        assert [row["quality_failures"] for row in checked] == [[], []]

    def test_an_ap_bin_without_meta_fails_only_every_ap_bin_has_meta_and_names_the_file(self) -> None:
        assert _checked(_candidate("s", bins_without_meta=("probe_2/npx.imec.ap.bin",))) == [{
            "quality_passed": False, "quality_failures": ["every_ap_bin_has_meta"],
            "quality_reasons": ["probe_2/npx.imec.ap.bin has no .ap.meta"]}]

    def test_a_probe_count_other_than_the_implants_fails_only_probe_count_matches_implants(self) -> None:
        assert _checked(_candidate("s", probes=2)) == [{
            "quality_passed": False, "quality_failures": ["probe_count_matches_implants"],
            "quality_reasons": ["2 probe folders but subject m1 has 1 implanted probe"]}]

    def test_an_error_finding_from_discovery_fails_only_no_discovery_errors_and_names_it(self) -> None:
        unreadable = finding("DISCOVER.UNREADABLE_DIR", stage="discover", share="N", path="recordings/m1/s/probe_2",
                             message="cannot be listed (Permission denied)")
        noted = finding("DISCOVER.SUSPICIOUS_COPY", stage="discover", share="N", path="recordings/m1/s",
                        message="looks like a copy")  # a warning: reported, but does not stop the session
        candidate = _candidate("s").model_copy(update={"findings": [unreadable, noted]})
        assert _checked(candidate) == [{
            "quality_passed": False, "quality_failures": ["no_discovery_errors"],
            "quality_reasons": ["DISCOVER.UNREADABLE_DIR at recordings/m1/s/probe_2: cannot be listed "
                                "(Permission denied)"]}]

    def test_findings_another_expectation_names_are_not_reported_twice(self) -> None:
        missing = finding("EPHYS.BIN_WITHOUT_META", stage="discover", share="N", path="recordings/m1/s/p.ap.bin",
                          message="no meta")
        candidate = _candidate("s", bins_without_meta=("p.ap.bin",)).model_copy(update={"findings": [missing]})
        assert _checked(candidate)[0]["quality_failures"] == ["every_ap_bin_has_meta"]

    def test_two_new_candidates_claiming_one_session_key_both_fail_session_key_unique(self) -> None:
        # Two recordings of one imaging folder whose start times could not be told apart.
        frame = candidates_to_frame([_candidate("s#fovA"), _candidate("s#fovB")]).with_columns(
            pl.lit("new").alias("status"))
        out = check_quality(frame, CONTEXT).select(list(QUALITY_COLUMNS)).to_dicts()
        reason = ("2 new candidates claim subject m1 starting 2024-03-01 10:00; they cannot all be inserted: give "
                  "them distinct start times, or combine them (layout combined: true)")
        assert out == [{"quality_passed": False, "quality_failures": ["session_key_unique"],
                        "quality_reasons": [reason]}] * 2

    def test_a_copy_or_duplicate_does_not_count_as_a_second_claim(self) -> None:
        frame = candidates_to_frame([_candidate("s"), _candidate("s-copy")]).with_columns(
            pl.Series("status", ["new", "copy"]))
        assert [r["quality_failures"] for r in check_quality(frame, CONTEXT).to_dicts()] == [[], []]

    def test_several_failures_of_one_candidate_are_all_listed_in_suite_order(self) -> None:
        candidate = _candidate("s", subject="m2", start=None, probes=1,
                               bins_without_meta=("probe_2/npx.imec.ap.bin", "probe_3/npx.imec.ap.bin"))
        assert _checked(candidate) == [{
            "quality_passed": False,
            "quality_failures": ["session_start_parsed", "every_ap_bin_has_meta", "probe_count_matches_implants"],
            "quality_reasons": ["session start could not be read from the folder name",
                                "probe_2/npx.imec.ap.bin, probe_3/npx.imec.ap.bin have no .ap.meta",
                                "1 probe folder but subject m2 has 2 implanted probes"]}]

    def test_an_empty_frame_comes_back_empty_with_the_three_columns(self) -> None:
        out = check_quality(candidates_to_frame([]), CONTEXT)
        assert out.height == 0
        assert out.schema == pl.Schema({**CANDIDATE_SCHEMA, **QUALITY_COLUMNS})

    def test_candidates_keep_their_order_and_their_other_columns(self) -> None:
        frame = candidates_to_frame([_candidate("c", probes=2, start=datetime(2024, 3, 2, 10, 0)), _candidate("a"),
                                     _candidate("b", subject="m9"), _candidate("d", start=None)]
                                    ).with_columns(pl.lit("kept").alias("extra"))
        out = check_quality(frame, CONTEXT)
        assert out.select(frame.columns).equals(frame)
        assert out.columns == [*frame.columns, *QUALITY_COLUMNS]
        assert out["quality_failures"].to_list() == [
            ["probe_count_matches_implants"], [], ["subject_known"], ["session_start_parsed"]]
        assert out["quality_passed"].to_list() == [False, True, False, False]

    def test_failures_become_quality_failed_findings_naming_the_expectation(self) -> None:
        frame = candidates_to_frame([_candidate("s", subject="m9", start=None)])
        row = check_quality(frame, CONTEXT).row(0, named=True)
        findings = failures_as_findings(row)
        assert [(f.code, f.severity, f.stage, f.share, f.path, f.expected, f.message) for f in findings] == [
            ("QUALITY.FAILED", Severity.ERROR, "quality", "N", "recordings/m9/s", "subject_known",
             "subject 'm9' is not known; import it with `mass-ingest subjects import`"),
            ("QUALITY.FAILED", Severity.ERROR, "quality", "N", "recordings/m9/s", "session_start_parsed",
             "session start could not be read from the folder name")]
        assert all(f.origin.startswith("mass-ingest quality suite (great-expectations ") for f in findings)

    def test_a_passing_row_gives_no_findings(self) -> None:
        row = check_quality(candidates_to_frame([_candidate("clean")]), CONTEXT).row(0, named=True)
        assert failures_as_findings(row) == []

    def test_the_raw_suite_result_names_each_expectation_and_the_candidates_that_failed_it(self) -> None:
        clean, unknown = _candidate("clean"), _candidate("s", subject="m9")
        result = run_suite(validation_frame(candidates_to_frame([clean, unknown]), CONTEXT).to_pandas(), CONTEXT)
        assert [r.expectation_config.meta[META_KEY] for r in result.results] == list(EXPECTATIONS)
        failed = {r.expectation_config.meta[META_KEY]:
                  [hit["candidate_id"] for hit in r.result["unexpected_index_list"]] for r in result.results}
        assert failed == {name: [unknown.candidate_id] if name == "subject_known" else [] for name in EXPECTATIONS}
        assert result.to_json_dict()["success"] is False  # serialisable, for Data Docs later

    def test_a_misspelt_context_key_is_rejected_by_name(self) -> None:
        with pytest.raises(ValidationError, match="not_befor"):
            QualityContext(implanted_probes={}, now=datetime(2025, 1, 1), not_befor=datetime(2015, 1, 1))

    def test_a_context_time_with_a_utc_offset_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="naive local time"):
            QualityContext(implanted_probes={}, now=datetime.fromisoformat("2025-01-01T00:00+01:00"),
                           not_before=datetime(2015, 1, 1))

    def test_importing_the_stage_does_not_import_great_expectations(self) -> None:
        # GX takes about 5 s to import; the flow and the CLI import this module without needing it.
        code = "import sys, tasks.quality; print('great_expectations' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert done.stdout.strip() == "False"
