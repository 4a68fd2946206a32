"""The data-quality stage: each expectation, run through Great Expectations for real."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import polars as pl
import pytest
from pydantic import ValidationError

from mass_ingest.candidates import CANDIDATE_SCHEMA, ProbeRecording, SessionCandidate, candidates_to_frame
from mass_ingest.errors import QualitySuiteError
from mass_ingest.findings import finding, Severity
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.reasons import FIXES
from mass_ingest.expectations.gx_run import build_data_docs, run_suite
from mass_ingest.expectations.suites import EXPECTATIONS, META_KEY, expectations_for
from mass_ingest.expectations.values import validation_frame
from mass_ingest.expectations.verdicts import classify, failures_as_findings, run_suites

NOW = datetime(2025, 6, 1, 12, 0)
# m1's implant has no serial on record, so its probes' serials are not judged.
CONTEXT = QualityContext(implanted_probes={"m1": 1, "m2": 2}, implanted_serials={"m2": ["18301", "18302"]},
                         now=NOW, now_epoch=NOW.timestamp(), not_before=datetime(2015, 1, 1))
QUALITY_COLUMNS = {"quality_passed": pl.Boolean, "quality_failures": pl.List(pl.String),
                   "quality_reasons": pl.List(pl.String)}
STAGE_COLUMNS = {**QUALITY_COLUMNS, "pending_reasons": pl.List(pl.String),  # every column the stage adds
                 "new_subject": pl.Boolean}


def _probe(n: int, **changes: object) -> ProbeRecording:
    """A complete, plausible probe whose .bin was last written an hour before NOW."""
    return ProbeRecording(**{
        "folder": f"probe_{n}", "meta_file": f"probe_{n}/npx.imec.ap.meta", "bin_file": f"probe_{n}/npx.imec.ap.bin",
        "serial": f"1830{n}",
        "n_saved_chans": 385, "sample_rate": 30000.0, "file_size_bytes": 3080, "bin_size": 3080,
        "file_time_secs": 3080 / 770 / 30000, "file_create_time": datetime(2024, 3, 1, 10, 0, 9),
        "bin_mtime": NOW.timestamp() - 3600, **changes})


def _candidate(name: str, *, subject: str = "m1", start: datetime | None = datetime(2024, 3, 1, 10, 0),
               probes: int | list[ProbeRecording] = 1, bins_without_meta: tuple[str, ...] = (),
               modality: str = "ephys") -> SessionCandidate:
    """A candidate that passes every expectation unless an argument says otherwise (probes: a count or the list)."""
    rel_path = f"recordings/{subject}/{name}"
    return SessionCandidate(share="N", rel_path=rel_path, location=f"/mnt/n/{rel_path}", subject=subject,
                            session_start=start, modality=modality, bins_without_meta=list(bins_without_meta),
                            probes=probes if isinstance(probes, list) else [_probe(n) for n in range(1, probes + 1)])


def fixed(name: str, sentence: str) -> str:
    """A failure's reason as a person reads it: what was found, then what to do (FIXES, where the sentence
    does not say it itself)."""
    return f"{sentence}; {FIXES[name]}" if name in FIXES else sentence


def _checked(*candidates: SessionCandidate) -> list[dict]:
    out = run_suites(candidates_to_frame(list(candidates)), CONTEXT)[0]
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
            "quality_reasons": [fixed("session_start_parsed",
                                      "session start could not be read from the folder name")]}]

    def test_a_session_start_after_now_fails_only_not_in_future_and_names_the_start(self) -> None:
        assert _checked(_candidate("s", start=datetime(2031, 1, 1, 3, 0))) == [{
            "quality_passed": False, "quality_failures": ["session_start_not_in_future"],
            "quality_reasons": [fixed("session_start_not_in_future",
                                      "session start 2031-01-01 03:00 is in the future")]}]

    def test_a_session_start_before_not_before_fails_only_not_before_and_names_both_dates(self) -> None:
        assert _checked(_candidate("s", start=datetime(2009, 12, 31, 23, 59))) == [{
            "quality_passed": False, "quality_failures": ["session_start_not_before"],
            "quality_reasons": [fixed(
                "session_start_not_before",
                "session start 2009-12-31 23:59 is before 2015-01-01 00:00, the earliest start allowed")]}]

    def test_session_starts_exactly_on_either_bound_pass(self) -> None:
        checked = _checked(_candidate("at-now", start=CONTEXT.now), _candidate("at-floor", start=CONTEXT.not_before))
        assert [row["quality_failures"] for row in checked] == [[], []]

    def test_an_ap_bin_without_meta_fails_only_every_ap_bin_has_meta_and_names_the_file(self) -> None:
        assert _checked(_candidate("s", bins_without_meta=("probe_2/npx.imec.ap.bin",))) == [{
            "quality_passed": False, "quality_failures": ["every_ap_bin_has_meta"],
            "quality_reasons": [fixed("every_ap_bin_has_meta", "probe_2/npx.imec.ap.bin has no .ap.meta")]}]

    def test_a_probe_count_other_than_the_implants_fails_only_probe_count_matches_implants(self) -> None:
        assert _checked(_candidate("s", probes=2)) == [{
            "quality_passed": False, "quality_failures": ["probe_count_matches_implants"],
            "quality_reasons": [fixed("probe_count_matches_implants",
                                      "2 probe folders but subject m1 has 1 implanted probe")]}]

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
        out = run_suites(frame, CONTEXT)[0].select(list(QUALITY_COLUMNS)).to_dicts()
        reason = ("2 new candidates claim subject m1 starting 2024-03-01 10:00; they cannot all be inserted: give "
                  "them distinct start times, or combine them (layout combined: true)")
        assert out == [{"quality_passed": False, "quality_failures": ["session_key_unique"],
                        "quality_reasons": [reason]}] * 2

    def test_a_copy_or_duplicate_does_not_count_as_a_second_claim(self) -> None:
        frame = candidates_to_frame([_candidate("s"), _candidate("s-copy")]).with_columns(
            pl.Series("status", ["new", "copy"]))
        assert [r["quality_failures"] for r in run_suites(frame, CONTEXT)[0].to_dicts()] == [[], []]

    def test_several_failures_of_one_candidate_are_all_listed_in_suite_order(self) -> None:
        candidate = _candidate("s", subject="m2", start=None, probes=1,
                               bins_without_meta=("probe_2/npx.imec.ap.bin", "probe_3/npx.imec.ap.bin"))
        assert _checked(candidate) == [{
            "quality_passed": False,
            "quality_failures": ["session_start_parsed", "every_ap_bin_has_meta", "probe_count_matches_implants"],
            "quality_reasons": [fixed("session_start_parsed", "session start could not be read from the folder name"),
                                fixed("every_ap_bin_has_meta",
                                      "probe_2/npx.imec.ap.bin, probe_3/npx.imec.ap.bin have no .ap.meta"),
                                fixed("probe_count_matches_implants",
                                      "1 probe folder but subject m2 has 2 implanted probes")]}]

    def test_an_empty_frame_comes_back_empty_with_the_three_columns(self) -> None:
        out = run_suites(candidates_to_frame([]), CONTEXT)[0]
        assert out.height == 0
        assert out.schema == pl.Schema({**CANDIDATE_SCHEMA, **STAGE_COLUMNS})

    def test_candidates_keep_their_order_and_their_other_columns(self) -> None:
        frame = candidates_to_frame([_candidate("c", probes=2, start=datetime(2024, 3, 2, 10, 0)), _candidate("a"),
                                     _candidate("b", subject="m9"), _candidate("d", start=None)]
                                    ).with_columns(pl.lit("kept").alias("extra"))
        out = run_suites(frame, CONTEXT)[0]
        others = [c for c in frame.columns if c != "findings"]
        assert out.select(others).equals(frame.select(others))
        assert out.columns == [*frame.columns, *STAGE_COLUMNS]
        # The findings column keeps discovery's findings and gains one per failed expectation.
        assert [[f["code"] for f in fs if f["stage"] != "quality"] for fs in out["findings"].to_list()] == \
            [[f["code"] for f in fs] for fs in frame["findings"].to_list()]
        assert [[f["code"] for f in fs if f["stage"] == "quality"] for fs in out["findings"].to_list()] == [
            ["QUALITY.PROBE_COUNT_MATCHES_IMPLANTS"], [], ["QUALITY.SUBJECT_KNOWN"], ["QUALITY.SESSION_START_PARSED"]]
        assert out["quality_failures"].to_list() == [
            ["probe_count_matches_implants"], [], ["subject_known"], ["session_start_parsed"]]
        assert out["quality_passed"].to_list() == [False, True, False, False]

    def test_failures_become_findings_with_a_code_per_expectation_the_value_found_and_expected(self) -> None:
        frame = candidates_to_frame([_candidate("s", subject="m9", start=None)])
        row = run_suites(frame, CONTEXT)[0].row(0, named=True)
        findings = failures_as_findings(row)
        assert [(f.code, f.severity, f.stage, f.share, f.path, f.found, f.expected, f.message) for f in findings] == [
            ("QUALITY.SUBJECT_KNOWN", Severity.ERROR, "quality", "N", "recordings/m9/s", "subject 'm9'",
             "a subject in the database",
             "subject 'm9' is not known; import it with `mass-ingest subjects import`"),
            ("QUALITY.SESSION_START_PARSED", Severity.ERROR, "quality", "N", "recordings/m9/s",
             "no start time in the folder name", "a start time in the layout's date format",
             fixed("session_start_parsed", "session start could not be read from the folder name"))]
        assert all(f.origin.startswith("mass-ingest quality suite (great-expectations ") for f in findings)

    def test_every_expectation_has_its_catalogued_code_and_a_value_found(self) -> None:
        from mass_ingest.expectations.reasons import found_for
        from mass_ingest.expectations.suites import quality_code
        from mass_ingest.findings import CATALOGUE

        assert [n for n in EXPECTATIONS if quality_code(n) not in CATALOGUE] == []
        assert [n for n in EXPECTATIONS if n not in found_for(CONTEXT)] == []

    def test_a_recheck_replaces_the_earlier_quality_findings_instead_of_adding_to_them(self) -> None:
        frame = candidates_to_frame([_candidate("s", subject="m9")])
        twice = run_suites(run_suites(frame, CONTEXT)[0].drop(*STAGE_COLUMNS), CONTEXT)[0]
        assert [f["code"] for f in twice["findings"][0]] == ["QUALITY.SUBJECT_KNOWN"]
        assert twice["quality_failures"].to_list() == [["subject_known"]]

    def test_a_passing_row_gives_no_findings(self) -> None:
        row = run_suites(candidates_to_frame([_candidate("clean")]), CONTEXT)[0].row(0, named=True)
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


def _verdict(candidate: SessionCandidate, context: QualityContext = CONTEXT) -> dict:
    """The stage's verdict on one new candidate: status, failures, reasons and why it may be pending."""
    frame = candidates_to_frame([candidate]).with_columns(pl.lit("new").alias("status"))
    row = classify(run_suites(frame, context)[0]).row(0, named=True)
    return {k: row[k] for k in ("status", "quality_failures", "quality_reasons", "pending_reasons")}


def _failed(name: str, reason: str) -> dict:
    return {"status": "quarantined", "quality_failures": [name], "quality_reasons": [fixed(name, reason)],
            "pending_reasons": []}


READY = {"status": "ready", "quality_failures": [], "quality_reasons": [], "pending_reasons": []}


class TestProbeFiles:
    def test_a_bin_larger_than_its_meta_announces_fails_only_ap_bin_size_matches_meta(self) -> None:
        assert _verdict(_candidate("s", probes=[_probe(1, bin_size=4000)])) == _failed(
            "ap_bin_size_matches_meta",
            "probe_1/npx.imec.ap.bin has 4,000 bytes, more than the 3,080 its .ap.meta announces")

    def test_a_meta_without_its_bin_fails_ap_bin_size_matches_meta_and_is_not_pending(self) -> None:
        candidate = _candidate("s", subject="m2",
                               probes=[_probe(1), _probe(2, bin_file=None, bin_size=None, bin_mtime=None)])
        assert _verdict(candidate) == _failed("ap_bin_size_matches_meta",
                                              "probe_2/npx.imec.ap.meta has no .ap.bin beside it")

    def test_every_wrong_bin_of_a_session_is_named_in_one_reason(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1, bin_size=1_234_567),
                                                         _probe(2, bin_file=None, bin_size=None, bin_mtime=None)])
        assert _verdict(candidate)["quality_reasons"] == [fixed(
            "ap_bin_size_matches_meta",
            "probe_1/npx.imec.ap.bin has 1,234,567 bytes, more than the 3,080 its .ap.meta announces; "
            "probe_2/npx.imec.ap.meta has no .ap.bin beside it")]

    def test_an_old_empty_bin_fails_only_no_zero_byte_data_and_is_not_taken_for_a_copy(self) -> None:
        # 0 of 3,080 bytes, untouched for an hour: a recording or copy that failed, for a person to look at.
        assert _verdict(_candidate("s", probes=[_probe(1, bin_size=0)])) == _failed(
            "no_zero_byte_data", "probe_1/npx.imec.ap.bin is empty (0 bytes; its .ap.meta announces 3,080)")

    def test_an_empty_bin_whose_meta_announces_no_size_fails_no_zero_byte_data_and_the_size_check(self) -> None:
        verdict = _verdict(_candidate("s", probes=[_probe(1, bin_size=0, file_size_bytes=None)]))
        assert (verdict["quality_failures"], verdict["quality_reasons"]) == (
            ["no_zero_byte_data", "file_size_plausible"],
            [fixed("no_zero_byte_data", "probe_1/npx.imec.ap.bin is empty (0 bytes)"),
             fixed("file_size_plausible",
                   "probe_1/npx.imec.ap.meta gives no usable fileSizeBytes (missing, or not a whole number)")])


class TestPending:
    def test_a_bin_shorter_than_announced_is_pending_not_quarantined(self) -> None:
        assert _verdict(_candidate("s", probes=[_probe(1, bin_size=1200)])) == {
            "status": "pending", "quality_failures": [], "quality_reasons": [],
            "pending_reasons": ["probe_1/npx.imec.ap.bin has 1,200 of 3,080 bytes announced: still being copied?"]}

    def test_a_bin_changed_within_the_settle_time_is_pending(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1), _probe(2, bin_mtime=NOW.timestamp() - 200)])
        assert _verdict(candidate) == {
            "status": "pending", "quality_failures": [], "quality_reasons": [],
            "pending_reasons": ["probe_2/npx.imec.ap.bin changed 3 min ago (settle time 15 min)"]}

    def test_a_bin_changed_exactly_the_settle_time_ago_has_settled(self) -> None:
        assert _verdict(_candidate("s", probes=[_probe(1, bin_mtime=NOW.timestamp() - 900)])) == READY

    def test_the_settle_time_comes_from_the_context(self) -> None:
        context = CONTEXT.model_copy(update={"settle_s": 45})
        candidate = _candidate("s", probes=[_probe(1, bin_mtime=NOW.timestamp() - 30)])
        assert _verdict(candidate, context)["pending_reasons"] == [
            "probe_1/npx.imec.ap.bin changed 30 s ago (settle time 45 s)"]
        assert _verdict(_candidate("s", probes=[_probe(1, bin_mtime=NOW.timestamp() - 60)]), context) == READY

    def test_a_bin_dated_after_now_is_pending_and_the_reason_suspects_the_clocks(self) -> None:
        assert _verdict(_candidate("s", probes=[_probe(1, bin_mtime=NOW.timestamp() + 125)]))["pending_reasons"] == [
            "probe_1/npx.imec.ap.bin is dated 2 min ahead of this computer's clock (settle time 15 min); are the "
            "file server's and this computer's clocks apart?"]

    def test_pending_wins_over_a_quality_failure_and_both_are_kept(self) -> None:
        # A copy in progress of an unknown subject: looked at again next scan, with its failure on record.
        verdict = _verdict(_candidate("s", subject="m9", probes=[_probe(1, bin_size=1200)]))
        assert (verdict["status"], verdict["quality_failures"]) == ("pending", ["subject_known"])
        assert verdict["pending_reasons"] == [
            "probe_1/npx.imec.ap.bin has 1,200 of 3,080 bytes announced: still being copied?"]

    def test_each_probe_still_arriving_is_named_sizes_first(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1, bin_size=1200, bin_mtime=NOW.timestamp() - 60),
                                                         _probe(2, bin_size=1, bin_mtime=NOW.timestamp() - 1)])
        assert _verdict(candidate)["pending_reasons"] == [
            "probe_1/npx.imec.ap.bin has 1,200 of 3,080 bytes announced: still being copied?",
            "probe_2/npx.imec.ap.bin has 1 of 3,080 bytes announced: still being copied?",
            "probe_1/npx.imec.ap.bin changed 1 min ago (settle time 15 min)",
            "probe_2/npx.imec.ap.bin changed 1 s ago (settle time 15 min)"]

    def test_a_short_bin_is_pending_until_unchanged_for_the_stall_limit_then_quarantined(self) -> None:
        context = CONTEXT.model_copy(update={"stalled_after_s": 7200})  # the profile's quality.stalled_after_s
        short = [_probe(1, bin_size=1200, bin_mtime=NOW.timestamp() - 7199)]
        assert _verdict(_candidate("s", probes=short), context)["status"] == "pending"
        short = [_probe(1, bin_size=1200, bin_mtime=NOW.timestamp() - 7200)]
        verdict = _verdict(_candidate("s", probes=short), context)
        assert (verdict["status"], verdict["quality_failures"], verdict["pending_reasons"]) == (
            "quarantined", ["ap_bin_not_stalled"], [])
        assert "stopped growing at 1,200 of 3,080 bytes (unchanged for 2 h)" in verdict["quality_reasons"][0]

    def test_only_new_candidates_become_pending(self) -> None:
        frame = candidates_to_frame([_candidate("s", probes=[_probe(1, bin_size=1200)])] * 2).with_columns(
            pl.Series("status", ["duplicate", "excluded"]))
        assert classify(run_suites(frame, CONTEXT)[0])["status"].to_list() == ["duplicate", "excluded"]


class TestChannelsAndRate:
    def test_too_many_channels_fails_channels_and_rate_plausible_naming_the_value_and_bounds(self) -> None:
        too_many = _probe(1, n_saved_chans=5000, file_size_bytes=10_000, bin_size=10_000, file_time_secs=1 / 30000)
        assert _verdict(_candidate("s", probes=[too_many])) == _failed(
            "channels_and_rate_plausible", "probe_1/npx.imec.ap.meta has nSavedChans=5000, outside the plausible "
            "1 to 4096")

    def test_an_implausible_rate_and_channels_on_two_probes_are_all_named(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1, sample_rate=500.0),
                                                         _probe(2, n_saved_chans=0, sample_rate=250_000.5)])
        assert _verdict(candidate) == _failed(
            "channels_and_rate_plausible",
            "probe_2/npx.imec.ap.meta has nSavedChans=0, outside the plausible 1 to 4096; "
            "probe_1/npx.imec.ap.meta has imSampRate=500, outside the plausible 1000 to 100000 Hz; "
            "probe_2/npx.imec.ap.meta has imSampRate=250000.5, outside the plausible 1000 to 100000 Hz")

    def test_values_on_the_bounds_pass(self) -> None:
        on_bounds = _probe(1, n_saved_chans=4096, sample_rate=1000.0, file_size_bytes=8192 * 4, bin_size=8192 * 4,
                           file_time_secs=4 / 1000)
        assert _verdict(_candidate("s", probes=[on_bounds])) == READY

    def test_missing_values_fail_saying_so_instead_of_going_in_as_null(self) -> None:
        # imSampRate=nan or a missing nSavedChans: the reader leaves them empty (with META.BAD_VALUE for nan).
        verdict = _verdict(_candidate("s", probes=[_probe(1, n_saved_chans=None, sample_rate=None)]))
        assert verdict["quality_failures"] == ["channels_and_rate_plausible"]
        assert verdict["quality_reasons"] == [fixed(
            "channels_and_rate_plausible",
            "probe_1/npx.imec.ap.meta gives no usable nSavedChans (missing or not a number above 0); "
            "probe_1/npx.imec.ap.meta gives no usable imSampRate (missing or not a number above 0)")]

    def test_probe_types_have_bounds_of_their_own(self) -> None:
        from mass_ingest.expectations.context import ProbeTypeBounds

        context = CONTEXT.model_copy(update={"probe_types": {"np1": ProbeTypeBounds(sample_rate_hz=(29000, 29500))}})
        verdict = _verdict(_candidate("s", probes=[_probe(1, probe_type="np1")]), context)
        assert verdict["quality_reasons"] == [fixed(
            "channels_and_rate_plausible",
            "probe_1/npx.imec.ap.meta has imSampRate=30000, outside the plausible 29000 to 29500 Hz for a np1")]
        assert _verdict(_candidate("s", probes=[_probe(1, probe_type="np2")]), context) == READY

    def test_the_bounds_come_from_the_context(self) -> None:
        context = CONTEXT.model_copy(update={"saved_chans": (1, 384), "sample_rate_hz": (2500.0, 30000.0)})
        assert _verdict(_candidate("s", probes=[_probe(1, sample_rate=2500.0)]), context)["quality_reasons"] == [
            fixed("channels_and_rate_plausible", "probe_1/npx.imec.ap.meta has nSavedChans=385, outside the plausible "
                  "1 to 384")]

    def test_bounds_given_highest_first_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="4096 is above 1"):
            CONTEXT.model_validate({**CONTEXT.model_dump(), "saved_chans": (4096, 1)})


class TestSerials:
    def test_a_serial_not_implanted_in_the_subject_fails_probe_serials_implanted_naming_it(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1), _probe(2, serial="18399")])
        assert _verdict(candidate) == _failed(
            "probe_serials_implanted", "probe serial 18399 is not implanted in subject m2 (its implants: 18301, "
            "18302)")

    def test_several_wrong_serials_are_all_named(self) -> None:
        candidate = _candidate("s", subject="m2", probes=[_probe(1, serial="18398"), _probe(2, serial="18399")])
        assert _verdict(candidate)["quality_reasons"] == [fixed(
            "probe_serials_implanted",
            "probe serials 18398, 18399 are not implanted in subject m2 (its implants: 18301, 18302)")]

    def test_a_probe_without_a_serial_fails_serial_present(self) -> None:
        assert _verdict(_candidate("s", subject="m2", probes=[_probe(1), _probe(2, serial=None)])) == _failed(
            "serial_present", "probe_2/npx.imec.ap.meta names no probe serial (imDatPrb_sn / imProbeSN); enter it or "
            "exclude the session")

    def test_serials_are_not_judged_for_a_subject_without_serials_on_record_or_an_unknown_one(self) -> None:
        assert _verdict(_candidate("s", probes=[_probe(1, serial="99999")])) == READY  # m1: none on record
        assert _verdict(_candidate("s", subject="m9", probes=[_probe(1, serial="99999")]))["quality_failures"] == [
            "subject_known"]


class TestModalitySuites:
    def test_ephys_is_judged_on_everything_and_imaging_only_on_what_a_session_without_probes_has(self) -> None:
        assert expectations_for("ephys") == EXPECTATIONS
        assert expectations_for("imaging") == (
            "session_start_parsed", "session_start_not_in_future", "session_start_not_before",
            "no_discovery_errors", "session_key_unique")

    def test_an_imaging_session_is_not_judged_on_probe_counts(self) -> None:
        # m2 has two implants; an ephys session without probes fails the count, an imaging one does not.
        frame = candidates_to_frame([_candidate("e", subject="m2", probes=0),
                                     _candidate("i", subject="m2", probes=0, modality="imaging",
                                                start=datetime(2024, 3, 1, 11, 0)),
                                     _candidate("e2", subject="m9", probes=0, start=datetime(2024, 3, 1, 12, 0))])
        out = run_suites(frame, CONTEXT)[0]
        assert out["quality_failures"].to_list() == [["probe_count_matches_implants"], [], ["subject_known"]]

    def test_rows_of_interleaved_modalities_keep_their_order_and_their_own_verdicts(self) -> None:
        kinds = ["imaging", "ephys", "imaging", "ephys"]
        frame = candidates_to_frame([_candidate(f"s{i}", subject="m2", probes=0, modality=kind,
                                                start=datetime(2024, 3, 1, 10, i)) for i, kind in enumerate(kinds)])
        out, results = run_suites(frame, CONTEXT)
        assert out["rel_path"].to_list() == frame["rel_path"].to_list()
        assert out["quality_failures"].to_list() == [[], ["probe_count_matches_implants"]] * 2
        assert [(r.suite_name, len(r.results)) for r in results] == [
            ("mass-ingest-quality-imaging", 5), ("mass-ingest-quality-ephys", len(EXPECTATIONS))]

    def test_a_suite_chosen_for_a_modality_replaces_its_default(self) -> None:
        frame = candidates_to_frame([_candidate("s", subject="m2", probes=[_probe(1, bin_size=0)])])
        chosen = run_suites(frame, CONTEXT, expectations={"ephys": ["subject_known", "no_zero_byte_data"]})[0]
        assert chosen["quality_failures"].to_list() == [["no_zero_byte_data"]]  # the count is not judged

    def test_an_unknown_expectation_name_is_an_error_naming_it(self) -> None:
        frame = candidates_to_frame([_candidate("s")])
        with pytest.raises(QualitySuiteError, match="subject_knwon"):
            run_suites(frame, CONTEXT, expectations={"ephys": ["subject_knwon"]})[0]


class TestDataDocs:
    def test_data_docs_are_written_with_an_index_linking_each_suites_result(self, tmp_path) -> None:
        frame = candidates_to_frame([_candidate("e", subject="m2"),
                                     _candidate("i", subject="m2", probes=0, modality="imaging",
                                                start=datetime(2024, 3, 1, 11, 0))])
        out, results = run_suites(frame, CONTEXT)
        index = build_data_docs(results, tmp_path / "docs")
        assert index == tmp_path / "docs" / "index.html"
        html = index.read_text()
        assert "mass-ingest-quality-ephys" in html and "mass-ingest-quality-imaging" in html
        # The ephys result's page names each expectation, and the candidate that failed one.
        [page] = (index.parent / "validations" / "mass-ingest-quality-ephys").rglob("*.html")
        assert page.relative_to(index.parent).as_posix() in html
        text = page.read_text()
        assert "probe_count_matches_implants: as many probes were recorded as the subject has implanted." in text
        assert out["candidate_id"][0] in text


def test_the_profile_names_exactly_the_suites_expectations():
    from typing import get_args

    from mass_ingest.profile import ExpectationName
    from mass_ingest.expectations.suites import EXPECTATIONS

    assert get_args(ExpectationName) == EXPECTATIONS


def _one_failure_each() -> dict[str, tuple[list[SessionCandidate], str]]:
    """Expectation -> (candidates failing it and nothing else, a phrase its reason must hold)."""
    unreadable = finding("DISCOVER.UNREADABLE_DIR", stage="discover", share="N", path="recordings/m1/e/probe_1",
                         message="cannot be listed (Permission denied)")
    return {
        "subject_known": ([_candidate("a", subject="m9")], "subject 'm9' is not known"),
        "session_start_parsed": ([_candidate("b", start=None)], "could not be read"),
        "session_start_not_in_future": ([_candidate("c", start=datetime(2031, 1, 1))], "2031-01-01 00:00 is in the"),
        "session_start_not_before": ([_candidate("d", start=datetime(2009, 1, 1))], "is before 2015-01-01"),
        "every_ap_bin_has_meta": ([_candidate("e", start=datetime(2024, 3, 2), bins_without_meta=("p2.ap.bin",))],
                                  "p2.ap.bin has no .ap.meta"),
        "ap_bin_size_matches_meta": ([_candidate("f", start=datetime(2024, 3, 3), probes=[_probe(1, bin_size=5000)])],
                                     "has 5,000 bytes, more than the 3,080"),
        "no_zero_byte_data": ([_candidate("g", start=datetime(2024, 3, 4), probes=[_probe(1, bin_size=0)])],
                              "is empty (0 bytes"),
        "channels_and_rate_plausible": ([_candidate("h", start=datetime(2024, 3, 5), probes=[
            _probe(1, sample_rate=500.0, file_time_secs=3080 / 770 / 500)])], "imSampRate=500"),
        "probe_count_matches_implants": ([_candidate("i", start=datetime(2024, 3, 6), probes=2)],
                                         "2 probe folders but subject m1 has 1"),
        "probe_serials_implanted": ([_candidate("j", subject="m2", probes=[_probe(1), _probe(2, serial="99999")])],
                                    "serial 99999 is not implanted in subject m2"),
        "no_discovery_errors": ([_candidate("k", start=datetime(2024, 3, 7)).model_copy(
            update={"findings": [unreadable]})], "DISCOVER.UNREADABLE_DIR"),
        "session_key_unique": ([_candidate("l#1", start=datetime(2024, 3, 8)),
                                _candidate("l#2", start=datetime(2024, 3, 8))], "2 new candidates claim subject m1"),
        "file_size_plausible": ([_candidate("m", start=datetime(2024, 3, 9), probes=[
            _probe(1, file_size_bytes=3081, bin_size=3081)])], "fileSizeBytes=3081, not a whole number of samples"),
        "duration_plausible": ([_candidate("n", start=datetime(2024, 3, 10), probes=[_probe(1, file_time_secs=-1.0)])],
                               "has fileTimeSecs=-1.0"),
        "serial_present": ([_candidate("o", start=datetime(2024, 3, 11), probes=[_probe(1, serial=None)])],
                           "names no probe serial"),
        "create_time_plausible": ([_candidate("p", start=datetime(2024, 3, 12), probes=[
            _probe(1, file_create_time=datetime(2031, 1, 1))])], "fileCreateTime=2031-01-01 00:00, outside 2015-01-01"),
        "ap_bin_not_stalled": ([_candidate("q", start=datetime(2024, 3, 13), probes=[
            _probe(1, bin_size=1200, bin_mtime=NOW.timestamp() - 2 * 86400)])],
            "stopped growing at 1,200 of 3,080 bytes (unchanged for 2 days)"),
    }


def test_every_expectation_fails_alone_for_its_own_reason_in_one_suite_run():
    """One candidate (two for the key) per expectation, all in one frame: each fails exactly its own,
    with a reason naming its values; an expectation added without a case here fails this test."""
    cases = _one_failure_each()
    assert tuple(cases) == EXPECTATIONS
    candidates = [c for group, _ in cases.values() for c in group]
    frame = candidates_to_frame(candidates).with_columns(pl.lit("new").alias("status"))
    out = run_suites(frame, CONTEXT)[0]
    row = 0
    for name, (group, phrase) in cases.items():
        for _ in group:
            failures, reasons = out["quality_failures"][row].to_list(), out["quality_reasons"][row].to_list()
            assert (failures, len(reasons)) == ([name], 1), (name, failures, reasons)
            assert phrase in reasons[0], (name, reasons[0])
            row += 1
