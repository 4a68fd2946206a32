"""Complete before ingested: real .ap.bin files in tmp_path, through discovery and the quality stage.

Discovery stats each .ap.bin once for its size and modification time; quality then calls a
session *pending* while a .bin is shorter than its .meta announces or changed within the
settle time (a copy in progress), and quarantines one that can never be right (larger than
announced, empty). Times are the real clock's: a .bin is aged with ``os.utime``.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path

import polars as pl

from mass_ingest.profile import Profile
from mass_ingest.spikeglx_writer import probe_meta
from mass_ingest.systems import SessionFiles
from mass_ingest.systems.neuropixels import Neuropixels
from mass_ingest.walk import Walker
from tasks.discover import discover_share
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.reasons import FIXES
from mass_ingest.expectations.verdicts import classify, run_suites

LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
SESSION = "recordings/s1/2024-01-01_10-00-00"
ANNOUNCED = 385 * 2 * 4  # fileSizeBytes: four samples of 385 int16 channels (3,080 bytes)
BIN = "probe_1/npx.imec.ap.bin"
HOUR_AGO = -3600.0


def write_probe(root: Path, bin_bytes: int | None, age_s: float | None = HOUR_AGO) -> Path:
    """One probe of the session: its .meta and a .bin of ``bin_bytes`` (None: no .bin), modified ``age_s``
    from now (None: as just written)."""
    folder = root / SESSION / "probe_1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "npx.imec.ap.meta").write_text(probe_meta("18301", ANNOUNCED, datetime(2024, 1, 1, 10, 0, 9)))
    if bin_bytes is not None:
        (folder / "npx.imec.ap.bin").write_bytes(b"\x01" * bin_bytes)
        if age_s is not None:
            when = time.time() + age_s
            os.utime(folder / "npx.imec.ap.bin", (when, when))
    return root


def profile(root: Path) -> Profile:
    return Profile.model_validate({"name": "completeness", "timezone": "Europe/Oslo", "shares": [{
        "name": "N", "root": str(root), "layouts": [{"template": LAYOUT, "systems": ["spikeglx"]}]}]})


def verdict(root: Path, dedup_status: str = "new") -> dict:
    """Discover the share at ``root`` and run the quality stage on its one session, as of now, as dedup
    left it with ``dedup_status``."""
    frame, _ = discover_share(profile(root), "N")
    context = QualityContext(implanted_probes={"s1": 1}, implanted_serials={"s1": ["18301"]},
                             now=datetime.now(), now_epoch=time.time(), not_before=datetime(2015, 1, 1))
    row = classify(run_suites(frame.with_columns(pl.lit(dedup_status).alias("status")), context)[0]).row(0, named=True)
    return {k: row[k] for k in ("status", "quality_failures", "quality_reasons", "pending_reasons")}


class TestDiscoveryRecordsTheBinsState:
    def test_the_bin_size_and_modification_time_come_from_one_stat_of_the_file(self, tmp_path: Path) -> None:
        root = write_probe(tmp_path / "N", ANNOUNCED)
        files = Walker(share="N", root=str(root)).files_below(str(root / SESSION))
        [probe] = Neuropixels.recognise(SessionFiles(share="N", session_rel=SESSION, subject="s1",
                                                     files=files)).probes
        stat = os.stat(root / SESSION / BIN)
        assert (probe.bin_size, probe.bin_mtime) == (stat.st_size, stat.st_mtime)
        assert abs(probe.bin_mtime - (time.time() + HOUR_AGO)) < 5

    def test_the_modification_time_reaches_the_candidate_frame(self, tmp_path: Path) -> None:
        root = write_probe(tmp_path / "N", ANNOUNCED)
        frame, _ = discover_share(profile(root), "N")
        [[probe]] = frame["probes"].to_list()
        assert probe["bin_mtime"] == os.stat(root / SESSION / BIN).st_mtime

    def test_a_missing_bin_has_neither_size_nor_time(self, tmp_path: Path) -> None:
        frame, _ = discover_share(profile(write_probe(tmp_path / "N", None)), "N")
        [[probe]] = frame["probes"].to_list()
        assert (probe["bin_size"], probe["bin_mtime"]) == (None, None)


class TestPendingOnDisk:
    def test_a_complete_bin_untouched_for_an_hour_is_ready(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", ANNOUNCED)) == {
            "status": "ready", "quality_failures": [], "quality_reasons": [], "pending_reasons": []}

    def test_a_bin_shorter_than_announced_is_pending_with_the_bytes_so_far(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", 1200)) == {
            "status": "pending", "quality_failures": [], "quality_reasons": [],
            "pending_reasons": [f"{BIN} has 1,200 of 3,080 bytes announced: still being copied?"]}

    def test_a_bin_just_written_is_pending_until_it_settles(self, tmp_path: Path) -> None:
        root = write_probe(tmp_path / "N", ANNOUNCED, age_s=None)
        just_written = verdict(root)
        assert (just_written["status"], just_written["quality_failures"]) == ("pending", [])
        [reason] = just_written["pending_reasons"]
        assert re.fullmatch(rf"{re.escape(BIN)} changed \d+ s ago \(settle time 15 min\)", reason)

        an_hour_ago = time.time() + HOUR_AGO
        os.utime(root / SESSION / BIN, (an_hour_ago, an_hour_ago))
        assert verdict(root)["status"] == "ready"


class TestQuarantinedOnDisk:
    def test_a_bin_larger_than_announced_fails_ap_bin_size_matches_meta(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", ANNOUNCED + 770)) == {
            "status": "quarantined", "quality_failures": ["ap_bin_size_matches_meta"],
            "quality_reasons": [f"{BIN} has 3,850 bytes, more than the 3,080 its .ap.meta announces; "
                                f"{FIXES['ap_bin_size_matches_meta']}"],
            "pending_reasons": []}

    def test_a_missing_bin_fails_ap_bin_size_matches_meta(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", None)) == {
            "status": "quarantined", "quality_failures": ["ap_bin_size_matches_meta"],
            "quality_reasons": ["probe_1/npx.imec.ap.meta has no .ap.bin beside it; "
                                f"{FIXES['ap_bin_size_matches_meta']}"],
            "pending_reasons": []}

    def test_an_empty_bin_fails_no_zero_byte_data(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", 0)) == {
            "status": "quarantined", "quality_failures": ["no_zero_byte_data"],
            "quality_reasons": [f"{BIN} is empty (0 bytes; its .ap.meta announces 3,080); "
                                f"{FIXES['no_zero_byte_data']}"],
            "pending_reasons": []}

    def test_an_empty_bin_just_created_is_pending_a_copy_that_has_only_begun(self, tmp_path: Path) -> None:
        just_created = verdict(write_probe(tmp_path / "N", 0, age_s=None))
        assert (just_created["status"], just_created["quality_failures"]) == ("pending", ["no_zero_byte_data"])


class TestLateDataIsJudgedToo:
    """A known session's late data (``update``) or new place (``moved``) goes in when approved: it is
    held back while still arriving and quarantined when wrong, like a new session."""

    def test_late_data_still_being_copied_is_pending(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", 1200), "update")["status"] == "pending"

    def test_a_moved_folder_with_a_bin_larger_than_announced_is_quarantined(self, tmp_path: Path) -> None:
        checked = verdict(write_probe(tmp_path / "N", ANNOUNCED + 770), "moved")
        assert (checked["status"], checked["quality_failures"]) == ("quarantined", ["ap_bin_size_matches_meta"])

    def test_complete_late_data_stays_an_update(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", ANNOUNCED), "update")["status"] == "update"

    def test_a_duplicate_keeps_its_status_whatever_its_files_say(self, tmp_path: Path) -> None:
        assert verdict(write_probe(tmp_path / "N", 1200), "duplicate")["status"] == "duplicate"
