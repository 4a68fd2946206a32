"""Deduplication on pure frames: already in the pipeline, copies across shares, exclusions; and locations."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from mass_ingest.candidates import CANDIDATE_SCHEMA, SessionCandidate, candidates_to_frame
from mass_ingest.locations import canonical_location, normalise_location
from mass_ingest.profile import Share
from tasks.dedup import EXISTING_SCHEMA, deduplicate

LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
SHARE_ORDER = ["N", "backup"]
T1 = datetime(2024, 3, 5, 10, 30, 58)
T2 = datetime(2024, 3, 12, 14, 2, 11)


def candidate(share: str, subject: str, start: datetime | None, rel: str | None = None,
              excluded_by: str | None = None) -> SessionCandidate:
    if rel is None:
        rel = f"recordings/{subject}/{start:%Y-%m-%d_%H-%M-%S}"
    return SessionCandidate(share=share, rel_path=rel, location=f"/mnt/{share}/{rel}".lower(), subject=subject,
                            session_start=start, layout=LAYOUT, excluded_by=excluded_by)


def existing(*rows: tuple) -> pl.DataFrame:
    """Sessions in the pipeline: (subject, start, location[, group]); group '' for a whole folder."""
    return pl.DataFrame([dict(zip(EXISTING_SCHEMA, (*row, "")[:4])) for row in rows], schema=EXISTING_SCHEMA)


def dedup(candidates: list[SessionCandidate], in_db: pl.DataFrame | None = None) -> list[dict]:
    """The dedup columns of each row, in the stage's (share, rel_path) order."""
    frame = deduplicate(candidates_to_frame(candidates), existing() if in_db is None else in_db, SHARE_ORDER)
    assert frame.columns == [*CANDIDATE_SCHEMA, "status", "duplicate_of", "dedup_reason"]
    return frame.select("share", "rel_path", "status", "duplicate_of", "dedup_reason").to_dicts()


def row(share: str, rel: str, status: str, duplicate_of: str | None = None, reason: str | None = None) -> dict:
    return {"share": share, "rel_path": rel, "status": status, "duplicate_of": duplicate_of, "dedup_reason": reason}


R1 = "recordings/25843/2024-03-05_10-30-58"
R2 = "recordings/25843/2024-03-12_14-02-11"


class TestDeduplicate:
    """deduplicate: status new / duplicate / copy / excluded, with what it duplicates and why."""

    def test_sessions_not_in_the_pipeline_and_not_repeated_are_new(self) -> None:
        assert dedup([candidate("N", "25843", T2), candidate("N", "25843", T1)]) == [
            row("N", R1, "new"), row("N", R2, "new")]

    def test_session_in_the_pipeline_by_subject_and_start_is_a_duplicate_of_its_stored_location(self) -> None:
        # Stored from another folder (moved since): the key decides, and the stored location is named.
        db = existing(("25843", T1, "/mnt/n/old/25843/2024-03-05_10-30-58"))
        assert dedup([candidate("N", "25843", T1), candidate("N", "25843", T2)], db) == [
            row("N", R1, "duplicate", "/mnt/n/old/25843/2024-03-05_10-30-58",
                "already in the pipeline as 25843/2024-03-05_10-30-58 (at /mnt/n/old/25843/2024-03-05_10-30-58)"),
            row("N", R2, "new")]

    def test_session_in_the_pipeline_by_location_is_a_duplicate(self) -> None:
        # Same folder, stored under another subject id or time (fixed by hand since): the location decides.
        db = existing(("25843-fixed", datetime(2024, 3, 5, 10, 31), f"/mnt/n/{R1}"))
        assert dedup([candidate("N", "25843", T1)], db) == [
            row("N", R1, "duplicate", f"/mnt/n/{R1}",
                f"already in the pipeline as 25843/2024-03-05_10-30-58 (at /mnt/n/{R1})")]

    def test_copy_on_two_shares_keeps_the_first_share_in_profile_order(self) -> None:
        # Listed backup first and N second in the batch: the profile order (N, backup) still decides.
        assert dedup([candidate("backup", "25843", T1), candidate("N", "25843", T1)]) == [
            row("N", R1, "new"),
            row("backup", R1, "copy", f"/mnt/n/{R1}",
                f"same session as /mnt/n/{R1} (subject and start time match)")]

    def test_copy_within_one_share_keeps_the_first_path(self) -> None:
        rel_b = "recordings/25843/2024-03-05_10-30-58_copy"
        assert dedup([candidate("N", "25843", T1, rel=rel_b), candidate("N", "25843", T1)]) == [
            row("N", R1, "new"),
            row("N", rel_b, "copy", f"/mnt/n/{R1}", f"same session as /mnt/n/{R1} (subject and start time match)")]

    def test_share_not_in_the_profile_order_ranks_last(self) -> None:
        rows = dedup([candidate("stray", "25843", T1), candidate("backup", "25843", T1)])
        assert [(r["share"], r["status"], r["duplicate_of"]) for r in rows] == [
            ("backup", "new", None), ("stray", "copy", f"/mnt/backup/{R1}")]

    def test_excluded_stays_excluded_even_when_in_the_pipeline(self) -> None:
        db = existing(("00000", T1, "/mnt/n/recordings/00000/2024-03-05_10-30-58"))
        assert dedup([candidate("N", "00000", T1, excluded_by="exclude subjects: '00000'")], db) == [
            row("N", "recordings/00000/2024-03-05_10-30-58", "excluded", None, "exclude subjects: '00000'")]

    def test_excluded_folder_sorting_after_the_kept_one_leaves_it_new(self) -> None:
        # Same share, same subject and start; 'recordings/' sorts before 'recordings_old/'.
        rows = dedup([candidate("N", "25843", T1, rel="recordings_old/25843/2024-03-05_10-30-58",
                                excluded_by="exclude paths: 'recordings_old/*'"),
                      candidate("N", "25843", T1)])
        assert rows == [row("N", R1, "new"),
                        row("N", "recordings_old/25843/2024-03-05_10-30-58", "excluded", None,
                            "exclude paths: 'recordings_old/*'")]

    def test_excluded_folder_on_the_first_share_does_not_make_the_second_share_a_copy(self) -> None:
        rows = dedup([candidate("N", "25843", T1, rel="recordings_old/25843/2024-03-05_10-30-58",
                                excluded_by="exclude paths: 'recordings_old/*'"),
                      candidate("backup", "25843", T1)])
        assert rows == [row("N", "recordings_old/25843/2024-03-05_10-30-58", "excluded", None,
                            "exclude paths: 'recordings_old/*'"),
                        row("backup", R1, "new")]

    def test_null_start_is_not_a_copy_of_another_null_start(self) -> None:
        # Two folders whose dates did not parse: same subject and same (unknown) start, yet not one session.
        assert dedup([candidate("N", "25843", None, rel="recordings/25843/odd-1"),
                      candidate("backup", "25843", None, rel="recordings/25843/odd-1")]) == [
            row("N", "recordings/25843/odd-1", "new"), row("backup", "recordings/25843/odd-1", "new")]

    def test_null_start_is_not_a_duplicate_of_anything_in_the_pipeline_by_key(self) -> None:
        db = existing(("25843", None, "/mnt/n/elsewhere"))
        assert dedup([candidate("N", "25843", None, rel="recordings/25843/odd-1")], db) == [
            row("N", "recordings/25843/odd-1", "new")]

    def test_copy_of_a_session_already_in_the_pipeline_is_a_duplicate(self) -> None:
        db = existing(("25843", T1, f"/mnt/n/{R1}"))
        reason = f"already in the pipeline as 25843/2024-03-05_10-30-58 (at /mnt/n/{R1})"
        assert dedup([candidate("N", "25843", T1), candidate("backup", "25843", T1)], db) == [
            row("N", R1, "duplicate", f"/mnt/n/{R1}", reason), row("backup", R1, "duplicate", f"/mnt/n/{R1}", reason)]

    def test_empty_batch_gives_an_empty_frame_with_the_dedup_columns(self) -> None:
        frame = deduplicate(candidates_to_frame([]), existing(("25843", T1, f"/mnt/n/{R1}")), SHARE_ORDER)
        assert (frame.height, frame.schema) == (0, pl.Schema({**CANDIDATE_SCHEMA, "status": pl.String,
                                                              "duplicate_of": pl.String,
                                                              "dedup_reason": pl.String}))

    def test_empty_pipeline_makes_everything_new(self) -> None:
        assert [r["status"] for r in dedup([candidate("N", "25843", T1)], existing())] == ["new"]

    def test_candidate_columns_pass_through_unchanged(self) -> None:
        frame = candidates_to_frame([candidate("N", "25843", T1)])
        out = deduplicate(frame, existing(), SHARE_ORDER)
        assert out.select(list(CANDIDATE_SCHEMA)).equals(frame)


N = Share(name="N", root="/mnt/N", aliases=["N:/"], layouts=[{"template": LAYOUT}])
BACKUP = Share(name="backup", root="/mnt/backup", aliases=["//fileserver/backup"], layouts=[{"template": LAYOUT}])


class TestLocations:
    """normalise_location / canonical_location: one folder written several ways is one string."""

    @pytest.mark.parametrize("spelling", ["N:\\x\\Y\\", "N:/x/y", "/mnt/N/x/y/", "n:/X/y", "/MNT/n/x/y",
                                          "N:\\x/y"])
    def test_every_spelling_of_one_folder_is_one_canonical_string(self, spelling: str) -> None:
        assert normalise_location(spelling, [N, BACKUP]) == "/mnt/n/x/y"

    def test_canonical_location_matches_the_normalised_spelling(self) -> None:
        assert canonical_location(N, "x/Y/") == normalise_location("N:\\x\\Y", [N]) == "/mnt/n/x/y"

    def test_unc_alias_maps_to_its_share(self) -> None:
        assert normalise_location("\\\\fileserver\\backup\\rec\\1", [N, BACKUP]) == "/mnt/backup/rec/1"

    def test_share_root_itself_is_the_root(self) -> None:
        assert (normalise_location("N:\\", [N]), canonical_location(N, "")) == ("/mnt/n", "/mnt/n")

    def test_prefix_must_end_at_a_separator(self) -> None:
        # /mnt/Nx is not below /mnt/N; it is left as written, only normalised.
        assert normalise_location("/mnt/Nx/y", [N]) == "/mnt/nx/y"

    def test_path_on_no_known_share_is_only_normalised(self) -> None:
        assert normalise_location("Z:\\Data\\x\\", [N, BACKUP]) == "z:/data/x"


class TestRecordingGroups:
    """Imaging with combined: false: one folder holds one session per recording (its group)."""

    def test_a_group_in_the_pipeline_does_not_make_the_other_groups_of_its_folder_duplicates(self) -> None:
        folder = "m1/20240301"
        first = candidate("N", "m1", datetime(2024, 3, 1, 10, 0), rel=folder).model_copy(update={"group": "fovA"})
        second = candidate("N", "m1", datetime(2024, 3, 1, 11, 0), rel=folder).model_copy(update={"group": "fovB"})
        assert first.location == second.location
        db = existing(("m1", datetime(2024, 3, 1, 10, 0), first.location, "fovA"))
        frame = deduplicate(candidates_to_frame([first, second]), db, SHARE_ORDER)
        assert frame.select("session_id", "status").rows() == [
            ("m1/2024-03-01_10-00-00/fovA", "duplicate"), ("m1/2024-03-01_11-00-00/fovB", "new")]
