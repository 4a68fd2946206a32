"""Deduplication on pure frames: already in the pipeline, copies across shares, exclusions, locations written
with aliases, moved folders and late data; and the snapshot of the pipeline it works against."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from mass_ingest.candidates import CANDIDATE_SCHEMA, Output, ProbeRecording, SessionCandidate, candidates_to_frame
from mass_ingest.locations import canonical_location, normalise_location, normalise_locations
from mass_ingest.profile import Share
from mass_ingest.db.sessions import EXISTING_SCHEMA, fetch_existing_sessions
from mass_ingest.dedup import DEDUP_SCHEMA, deduplicate

LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
N = Share(name="N", root="/mnt/N", aliases=["N:/"], layouts=[{"template": LAYOUT}])
BACKUP = Share(name="backup", root="/mnt/backup", aliases=["//fileserver/backup"], layouts=[{"template": LAYOUT}])
SHARES = [N, BACKUP]  # profile order: N's copy of a session is kept before backup's
T1 = datetime(2024, 3, 5, 10, 30, 58)
T2 = datetime(2024, 3, 12, 14, 2, 11)
STARTED = datetime(2024, 6, 1)  # when the tests' ingest run-1 began


def candidate(share: str, subject: str, start: datetime | None, rel: str | None = None,
              excluded_by: str | None = None, probes: dict[str, str | None] | None = None,
              outputs: list[tuple] | None = None) -> SessionCandidate:
    """A discovered folder; ``probes`` maps probe folder to serial, ``outputs`` are (kind, path[, complete])."""
    if rel is None:
        rel = f"recordings/{subject}/{start:%Y-%m-%d_%H-%M-%S}"
    return SessionCandidate(
        share=share, rel_path=rel, location=f"/mnt/{share}/{rel}".lower(), subject=subject, session_start=start,
        layout=LAYOUT, excluded_by=excluded_by,
        probes=[ProbeRecording(folder=folder, meta_file=f"{folder}/npx.imec.ap.meta".lstrip("/"), serial=serial)
                for folder, serial in (probes or {}).items()],
        outputs=[Output(**dict(zip(("kind", "path", "complete"), output))) for output in outputs or []])


def existing(*rows: tuple) -> pl.DataFrame:
    """Sessions in the pipeline: (subject, start, location[, group[, serials[, recordings[, outputs[, ingest_id[,
    ingested_at]]]]]]).

    group '' for a whole folder; serials and recordings default to none; outputs to None (not recorded);
    the ingest to None (a snapshot without it).
    """
    defaults = ("", [], [], None, None, None)
    return pl.DataFrame([dict(zip(EXISTING_SCHEMA, (*row, *defaults[len(row) - 3:]))) for row in rows],
                        schema=EXISTING_SCHEMA)


def dedup(candidates: list[SessionCandidate], in_db: pl.DataFrame | None = None) -> list[dict]:
    """The dedup columns of each row, in the stage's (share, rel_path) order."""
    frame = deduplicate(candidates_to_frame(candidates), existing() if in_db is None else in_db, SHARES)
    assert frame.columns == [*CANDIDATE_SCHEMA, *DEDUP_SCHEMA]
    return frame.select("share", "rel_path", "status", "duplicate_of", "dedup_reason", "new_parts").to_dicts()


def dedup_rows(candidates: list[SessionCandidate], in_db: pl.DataFrame) -> list[tuple]:
    """(share, rel_path, status, duplicate_of, dedup_reason, new_parts) of each row."""
    return [tuple(r.values()) for r in dedup(candidates, in_db)]


def row(share: str, rel: str, status: str, duplicate_of: str | None = None, reason: str | None = None,
        new_parts: list[str] | None = None) -> dict:
    return {"share": share, "rel_path": rel, "status": status, "duplicate_of": duplicate_of, "dedup_reason": reason,
            "new_parts": new_parts or []}


R1 = "recordings/25843/2024-03-05_10-30-58"
R2 = "recordings/25843/2024-03-12_14-02-11"
HERE = f"/mnt/n/{R1}"
OLD = "/mnt/n/old/25843/2024-03-05_10-30-58"
SN1, SN2, SN3 = "18408403232", "18408403541", "21144007318"
IN_PIPELINE = f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {HERE})"
ALIAS_SPELLINGS = ["N:\\Recordings\\25843\\2024-03-05_10-30-58\\", "n:/recordings/25843/2024-03-05_10-30-58",
                   "/MNT/N/recordings/25843/2024-03-05_10-30-58/"]


class TestDeduplicate:
    """deduplicate: status new / duplicate / copy / excluded, with what it duplicates and why."""

    def test_sessions_not_in_the_pipeline_and_not_repeated_are_new(self) -> None:
        assert dedup([candidate("N", "25843", T2), candidate("N", "25843", T1)]) == [
            row("N", R1, "new"), row("N", R2, "new")]

    def test_session_in_the_pipeline_by_location_is_a_duplicate(self) -> None:
        # Same folder, stored under another subject id or time (fixed by hand since): the location decides,
        # and the reason names the stored session as stored, not the folder's reading of it.
        db = existing(("25843-fixed", datetime(2024, 3, 5, 10, 31), f"/mnt/n/{R1}"))
        assert dedup([candidate("N", "25843", T1)], db) == [
            row("N", R1, "duplicate", f"/mnt/n/{R1}",
                f"already in the pipeline as 25843-fixed/2024-03-05_10-31-00 (at /mnt/n/{R1})")]

    def test_a_folder_without_a_start_names_the_stored_session_at_its_place_and_its_ingest(self) -> None:
        # The folder's date did not parse (its own id is 25843/unknown-time): the stored session at its
        # place is named with its start, its location as stored and the ingest that inserted it.
        db = existing(("25843", T1, "N:\\Recordings\\25843\\odd", "", [], [], None, "run-7",
                       datetime(2024, 6, 1, 9, 30)))
        [found] = dedup([candidate("N", "25843", None, rel="recordings/25843/odd")], db)
        assert (found["status"], found["dedup_reason"]) == (
            "duplicate", "already in the pipeline as 25843/2024-03-05_10-30-58 (at N:\\Recordings\\25843\\odd; "
            "inserted by ingest run-7 on 2024-06-01)")

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
        frame = deduplicate(candidates_to_frame([]), existing(("25843", T1, f"/mnt/n/{R1}")), SHARES)
        assert (frame.height, frame.schema) == (0, pl.Schema({**CANDIDATE_SCHEMA, **DEDUP_SCHEMA}))

    def test_empty_pipeline_makes_everything_new(self) -> None:
        assert [r["status"] for r in dedup([candidate("N", "25843", T1)], existing())] == ["new"]

    def test_candidate_columns_pass_through_unchanged(self) -> None:
        frame = candidates_to_frame([candidate("N", "25843", T1)])
        out = deduplicate(frame, existing(), SHARES)
        assert out.select(list(CANDIDATE_SCHEMA)).equals(frame)

    def test_unsorted_batch_of_several_parts_comes_out_sorted_with_each_row_whole(self) -> None:
        # As the flow concatenates discovery's parts: backup before N, each part its own chunk.
        parts = [candidates_to_frame([candidate("backup", "25843", T2, probes={"probe_1": SN1})]),
                 candidates_to_frame([candidate("N", "25843", T2, probes={"probe_1": SN2}),
                                      candidate("N", "25843", T1, probes={"probe_1": SN3})])]
        batch = pl.concat(parts, rechunk=False)
        out = deduplicate(batch, existing(), SHARES)
        assert out.select(list(CANDIDATE_SCHEMA)).equals(batch.sort("share", "rel_path"))
        assert out.select("share", "rel_path", "status", pl.col("probes").list.eval(
            pl.element().struct.field("serial"))).rows() == [
            ("N", R1, "new", [SN3]), ("N", R2, "new", [SN2]), ("backup", R2, "copy", [SN1])]

    @pytest.mark.parametrize("rel_paths", [
        # A path that is a prefix of another, names differing only after it, and non-ASCII.
        ["recordings/a/b", "recordings/a", "recordings/a-b", "recordings/a/b/c", "recordings/ä", "recordings/A"],
        # A NUL in a path cannot happen on a share; the stage still sorts it by the columns.
        ["recordings/a\x00b", "recordings/a", "recordings/a\x00"],
    ])
    def test_unsorted_batch_comes_out_in_share_path_group_order(self, rel_paths: list[str]) -> None:
        shares = ["N2", "N", "N", "backup", "N2", "N"]
        groups = ["g1", "", "g10", "g2", "", "g1"]
        frame = pl.concat([
            candidates_to_frame([candidate(share, "25843", None, rel=rel)]).with_columns(pl.lit(group).alias("group"))
            for share, rel, group in zip(shares, rel_paths * 2, groups * 2)])
        out = deduplicate(frame, existing(), SHARES)
        expected = sorted(zip(frame["share"], frame["rel_path"], frame["group"]))
        assert list(zip(out["share"], out["rel_path"], out["group"])) == expected

    def test_pipeline_snapshot_without_the_list_columns_still_works(self) -> None:
        # Serials and recordings unknown: the names decide (none on either side); outputs not compared.
        db = pl.DataFrame({"subject": ["25843", "25843"], "session_start": [T1, T2],
                           "location": [OLD, f"/mnt/n/{R2}"], "group": ["", ""]})
        found = [candidate("N", "25843", T1), candidate("N", "25843", T2, outputs=[("kilosort", "ks")])]
        assert [r[2:4] for r in dedup_rows(found, db)] == [("moved", OLD), ("duplicate", f"/mnt/n/{R2}")]


class TestAliasesInThePipeline:
    """Locations stored by older tools, written with a share alias, in any case: the same place."""

    @pytest.mark.parametrize("stored", ALIAS_SPELLINGS)
    def test_session_stored_under_an_alias_spelling_is_a_duplicate_not_a_move(self, stored: str) -> None:
        # duplicate_of is the canonical place; the reason quotes the location as it is stored.
        assert dedup_rows([candidate("N", "25843", T1)], existing(("25843", T1, stored))) == [
            ("N", R1, "duplicate", HERE, f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {stored})", [])]

    @pytest.mark.parametrize("stored", ALIAS_SPELLINGS)
    def test_folder_stored_under_an_alias_spelling_is_a_duplicate_by_place(self, stored: str) -> None:
        # Stored under another start (fixed by hand since): only the place can match.
        db = existing(("25843", datetime(2024, 3, 5, 10, 31), stored))
        assert dedup_rows([candidate("N", "25843", T1)], db) == [
            ("N", R1, "duplicate", HERE, f"already in the pipeline as 25843/2024-03-05_10-31-00 (at {stored})", [])]

    def test_unc_alias_of_the_second_share_in_upper_case(self) -> None:
        stored = "\\\\FILESERVER\\Backup\\recordings\\25843\\2024-03-05_10-30-58"
        assert dedup_rows([candidate("backup", "25843", T1)], existing(("25843", T1, stored))) == [
            ("backup", R1, "duplicate", f"/mnt/backup/{R1}",
             f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {stored})", [])]


class TestMovedFolders:
    """A stored session found at another location: moved when its probes are the same, else a conflict."""

    def test_same_subject_and_start_elsewhere_with_the_same_probe_serials_is_moved(self) -> None:
        # The probe folders were renamed on the way: the serials decide, not the names.
        db = existing(("25843", T1, OLD, "", [SN1, SN2], ["probe_1", "probe_2"]))
        assert dedup_rows([candidate("N", "25843", T1, probes={"imec0": SN2, "imec1": SN1})], db) == [
            ("N", R1, "moved", OLD, f"moved from {OLD} (same subject, start and probe serials)", [])]

    @pytest.mark.parametrize(("here", "stored", "listed"), [
        ({"probe_1": SN3}, [SN1], f"here: {SN3}; stored: {SN1}"),
        ({"probe_1": SN1, "probe_2": SN2}, [SN1], f"here: {SN1}, {SN2}; stored: {SN1}"),  # one probe more
    ])
    def test_same_subject_and_start_elsewhere_with_other_serials_is_a_conflict(
            self, here: dict, stored: list[str], listed: str) -> None:
        db = existing(("25843", T1, OLD, "", stored, ["probe_1"]))
        assert dedup_rows([candidate("N", "25843", T1, probes=here)], db) == [
            ("N", R1, "duplicate", OLD, f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {OLD}) but with "
             f"other probe serials ({listed}): a conflict for a person to resolve", [])]

    def test_without_probes_on_either_side_the_recording_names_decide(self) -> None:
        assert dedup_rows([candidate("N", "25843", T1)], existing(("25843", T1, OLD))) == [
            ("N", R1, "moved", OLD, f"moved from {OLD} (same subject, start and recording names)", [])]

    def test_stored_without_serials_compares_the_probe_folders(self) -> None:
        # Stored from .meta files that could not be read: serials unknown, the folders still tell.
        db = existing(("25843", T1, OLD, "", [], ["probe_1"]))
        assert dedup_rows([candidate("N", "25843", T1, probes={"probe_1": SN1})], db) == [
            ("N", R1, "moved", OLD, f"moved from {OLD} (same subject, start and recording names)", [])]
        assert dedup_rows([candidate("N", "25843", T1, probes={"probe_2": SN1})], db) == [
            ("N", R1, "duplicate", OLD, f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {OLD}) but with "
             "other recording names (here: probe_2; stored: probe_1): a conflict for a person to resolve", [])]

    def test_old_place_still_in_the_batch_makes_the_new_folder_a_copy_not_a_move(self) -> None:
        # Copied, not moved: both folders exist, and the stored one stays the session's folder.
        db = existing(("25843", T1, OLD, "", [SN1], ["probe_1"]))
        old = candidate("N", "25843", T1, rel="old/25843/2024-03-05_10-30-58", probes={"probe_1": SN1})
        reason = f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {OLD})"
        assert dedup_rows([candidate("N", "25843", T1, probes={"probe_1": SN1}), old], db) == [
            ("N", "old/25843/2024-03-05_10-30-58", "duplicate", OLD, reason, []),
            ("N", R1, "duplicate", OLD, reason, [])]

    def test_moved_folder_found_on_two_shares_is_moved_once_and_the_other_is_a_copy(self) -> None:
        db = existing(("25843", T1, OLD, "", [SN1], ["probe_1"]))
        found = [candidate(share, "25843", T1, probes={"probe_1": SN1}) for share in ("backup", "N")]
        assert dedup_rows(found, db) == [
            ("N", R1, "moved", OLD, f"moved from {OLD} (same subject, start and probe serials)", []),
            ("backup", R1, "copy", HERE, f"same session as {HERE} (subject and start time match)", [])]

    def test_the_copy_with_the_same_serials_is_the_one_moved(self) -> None:
        # N comes first in the profile, but its folder holds another probe: backup's is the moved one.
        db = existing(("25843", T1, OLD, "", [SN1], ["probe_1"]))
        found = [candidate("N", "25843", T1, probes={"probe_1": SN3}),
                 candidate("backup", "25843", T1, probes={"probe_1": SN1})]
        assert [r[:4] for r in dedup_rows(found, db)] == [
            ("N", R1, "duplicate", OLD), ("backup", R1, "moved", OLD)]

    def test_move_onto_a_place_another_stored_session_holds_is_a_duplicate(self) -> None:
        db = existing(("25843", T1, OLD, "", [SN1], ["probe_1"]), ("25843", T2, HERE))
        assert dedup_rows([candidate("N", "25843", T1, probes={"probe_1": SN1})], db) == [
            ("N", R1, "duplicate", OLD, f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {OLD})", [])]

    def test_excluded_wins_over_moved(self) -> None:
        db = existing(("25843", T1, OLD, "", [SN1], ["probe_1"]))
        found = candidate("N", "25843", T1, excluded_by="exclude subjects: '25843'", probes={"probe_1": SN1})
        assert dedup_rows([found], db) == [("N", R1, "excluded", None, "exclude subjects: '25843'", [])]


class TestLateData:
    """A stored session whose folder now holds outputs or probes the pipeline does not have: an update."""

    def test_new_kilosort_output_makes_the_known_session_an_update(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], []))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1}, outputs=[("kilosort", "probe_1/ks25")])
        assert dedup_rows([found], db) == [
            ("N", R1, "update", HERE, "in the pipeline as 25843/2024-03-05_10-30-58 "
             f"(at {HERE}), which lacks: output kilosort probe_1/ks25", ["output kilosort probe_1/ks25"])]

    def test_new_probe_folder_makes_the_known_session_an_update(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], []))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1, "probe_2": SN2})
        assert dedup_rows([found], db) == [
            ("N", R1, "update", HERE, f"in the pipeline as 25843/2024-03-05_10-30-58 (at {HERE}), which lacks: "
             "probe probe_2", ["probe probe_2"])]

    def test_every_new_part_is_listed_outputs_first(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], ["probe_1/ks25"]))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1, "probe_2": SN2},
                          outputs=[("kilosort", "probe_1/ks25"), ("kilosort", "probe_2/ks25"),
                                   ("curation", "probe_1/ks25/phy")])
        assert [r[5] for r in dedup_rows([found], db)] == [
            ["output kilosort probe_2/ks25", "output curation probe_1/ks25/phy", "probe probe_2"]]

    def test_unchanged_known_session_stays_a_duplicate(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], ["probe_1/ks25"]))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1}, outputs=[("kilosort", "probe_1/ks25")])
        assert dedup_rows([found], db) == [("N", R1, "duplicate", HERE, IN_PIPELINE, [])]

    def test_an_output_is_known_by_its_folder_whatever_its_kind_is_now(self) -> None:
        # A suite2p run becomes 'suite2p_split' once a combined run appears beside it; it is the same folder.
        db = existing(("25843", T1, HERE, "", [], [], ["suite2p"]))
        found = candidate("N", "25843", T1, outputs=[("suite2p_split", "suite2p"), ("suite2p", "suite2p_combined")])
        assert [r[2:] for r in dedup_rows([found], db)] == [
            ("update", HERE, f"in the pipeline as 25843/2024-03-05_10-30-58 (at {HERE}), which lacks: "
             "output suite2p suite2p_combined", ["output suite2p suite2p_combined"])]

    def test_an_incomplete_output_is_not_late_data_yet(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], []))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1}, outputs=[("kilosort", "probe_1/ks25", False)])
        assert dedup_rows([found], db) == [("N", R1, "duplicate", HERE, IN_PIPELINE, [])]

    def test_outputs_are_not_compared_while_the_pipeline_does_not_record_them(self) -> None:
        # existing_outputs null: outputs not recorded for the session (a caller's snapshot without them).
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], None))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1}, outputs=[("kilosort", "probe_1/ks25")])
        assert dedup_rows([found], db) == [("N", R1, "duplicate", HERE, IN_PIPELINE, [])]

    def test_late_data_under_an_alias_spelling_is_an_update_of_the_canonical_place(self) -> None:
        db = existing(("25843", T1, ALIAS_SPELLINGS[0], "", [SN1], ["probe_1"], []))
        found = candidate("N", "25843", T1, probes={"probe_1": SN1, "probe_2": SN2})
        assert [r[2:4] + r[5:] for r in dedup_rows([found], db)] == [("update", HERE, ["probe probe_2"])]

    def test_copy_of_an_updated_session_on_another_share_is_a_duplicate(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], []))
        found = [candidate(share, "25843", T1, probes={"probe_1": SN1, "probe_2": SN2}) for share in ("N", "backup")]
        assert [r[:4] + r[5:] for r in dedup_rows(found, db)] == [
            ("N", R1, "update", HERE, ["probe probe_2"]), ("backup", R1, "duplicate", HERE, [])]

    def test_excluded_wins_over_late_data(self) -> None:
        db = existing(("25843", T1, HERE, "", [SN1], ["probe_1"], []))
        found = candidate("N", "25843", T1, excluded_by="exclude subjects: '25843'",
                          probes={"probe_1": SN1, "probe_2": SN2})
        assert dedup_rows([found], db) == [("N", R1, "excluded", None, "exclude subjects: '25843'", [])]


@pytest.mark.backends
class TestFetchExistingSessions:
    """The snapshot of the pipeline: sessions with their place, probe serials and recording names."""

    def test_each_session_comes_with_its_serials_and_recordings(self, clean_database: str) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.insertion import insert_sessions

        schema.Subject.insert1({"subject": "25843"})
        schema.IngestRun.insert1({"ingest_id": "run-1", "profile_name": "test", "profile_hash": "0" * 16,
                                  "status": "open", "started_at": datetime(2024, 6, 1)})
        sessions = [candidate("N", "25843", T1, probes={"probe_2": SN2, "probe_1": None, "": SN1},
                              outputs=[("kilosort", "probe_2/ks25"), ("kilosort", "probe_1/ks4", False)]),
                    candidate("N", "25843", T2)]
        insert_sessions(candidates_to_frame(sessions), timezone="Europe/Oslo", ingest_id="run-1")
        snapshot = fetch_existing_sessions()
        assert snapshot.schema == pl.Schema(EXISTING_SCHEMA)
        assert snapshot.sort("session_start").rows() == [
            # Complete outputs only: an incomplete one is late data once it is complete.
            ("25843", T1, HERE, "", [SN1, SN2], [".", "probe_1", "probe_2"], ["probe_2/ks25"], "run-1", STARTED),
            ("25843", T2, f"/mnt/n/{R2}", "", [], [], [], "run-1", STARTED)]

    def test_pipeline_without_any_probe_recording(self, clean_database: str) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.insertion import insert_sessions

        schema.Subject.insert1({"subject": "25843"})
        schema.IngestRun.insert1({"ingest_id": "run-1", "profile_name": "test", "profile_hash": "0" * 16,
                                  "status": "open", "started_at": datetime(2024, 6, 1)})
        insert_sessions(candidates_to_frame([candidate("N", "25843", T2)]), timezone="Europe/Oslo",
                        ingest_id="run-1")
        assert fetch_existing_sessions().rows() == [("25843", T2, f"/mnt/n/{R2}", "", [], [], [], "run-1", STARTED)]

    def test_empty_pipeline_gives_an_empty_snapshot_with_the_schema(self, clean_database: str) -> None:
        snapshot = fetch_existing_sessions()
        assert (snapshot.height, snapshot.schema) == (0, pl.Schema(EXISTING_SCHEMA))


class TestDuplicateNamesTheStoredSession:
    """What `mass-ingest validate` says of a session already in the pipeline: the stored session's id, its
    location as stored and the ingest that inserted it, read from the real database in one snapshot."""

    def test_validate_names_the_stored_session_and_the_ingest_that_inserted_it(
            self, clean_database: str, tmp_path) -> None:
        from mass_ingest.db import schema
        from mass_ingest.demo import make_demo_campaign
        from mass_ingest.profile import load_profile
        from mass_ingest.db.subjects import import_subjects_csv
        from flows.validate import preview_ingest
        from mass_ingest.db.insertion import insert_sessions
        from tests.e2e import cli, json_out

        campaign = make_demo_campaign(tmp_path / "demo")
        import_subjects_csv(campaign.subjects_csv)
        schema.IngestRun.insert1({"ingest_id": "run-1", "profile_name": "demo-ephys", "profile_hash": "0" * 16,
                                  "status": "completed", "started_at": datetime(2024, 6, 1, 23, 50),
                                  "finished_at": datetime(2024, 6, 2, 0, 10)})
        frame, _, _ = preview_ingest(load_profile(campaign.profile_path))
        ready = frame.filter(pl.col("status") == "ready")
        assert insert_sessions(ready, timezone="Europe/Oslo", ingest_id="run-1") == ready.height > 0
        result = cli("validate", str(campaign.profile_path), "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        reasons = {(c["share"], c["session_id"]): (c["status"], c["reasons"])
                   for c in json_out(result.stdout)["candidates"]}
        by = "inserted by ingest run-1 on 2024-06-02"  # the day it finished, not the day it began
        here = (schema.Session.Directory & {"subject": "25843", "session_start": T1}).fetch1("location")
        assert reasons[("N", "25843/2024-03-05_10-30-58")] == (
            "duplicate", [f"already in the pipeline as 25843/2024-03-05_10-30-58 (at {here}; {by})"])
        # The copy on the backup share: the session stored from share N, at N's place.
        copied = (schema.Session.Directory & {"subject": "25843", "session_start": T2}).fetch1("location")
        assert "/backup/" not in copied
        assert reasons[("backup", "25843/2024-03-12_14-02-11")] == (
            "duplicate", [f"already in the pipeline as 25843/2024-03-12_14-02-11 (at {copied}; {by})"])


class TestLocations:
    """normalise_location(s) / canonical_location: one folder written several ways is one string."""

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

    def test_the_column_version_gives_what_the_function_gives(self) -> None:
        spellings = ["N:\\x\\Y\\", "N:/x/y", "/mnt/N/x/y/", "n:/X/y", "/MNT/n/x/y", "N:\\x/y", "N:\\", "N:",
                     "/mnt/Nx/y", "Z:\\Data\\x\\", "\\\\fileserver\\backup\\rec\\1", "//FILESERVER/Backup/",
                     "n://x//y", "/mnt/backup", "", "/", *ALIAS_SPELLINGS]
        for shares in ([N, BACKUP], [BACKUP], []):
            column = normalise_locations(pl.Series("p", spellings), shares)
            assert (column.name, column.to_list()) == ("p", [normalise_location(p, shares) for p in spellings])

    @pytest.mark.parametrize("order", ["outer first", "inner first"])
    def test_nested_roots_and_aliases_take_the_first_prefix_in_order_in_both(self, order: str) -> None:
        # A share inside another one, and an alias that is a folder of a third: the column version's
        # shortcut for canonical paths must not skip the prefix the function would take first.
        inner = Share(name="inner", root="/mnt/N/sub", aliases=["/mnt/backup/x"], layouts=[{"template": LAYOUT}])
        shares = [N, inner, BACKUP] if order == "outer first" else [inner, N, BACKUP]
        spellings = ["/mnt/n/sub/a", "/mnt/n/sub", "/mnt/n/a", "/mnt/backup/x/a", "/mnt/backup/y", "N:/sub/a",
                     "/mnt/n/sub/A", None]
        column = normalise_locations(pl.Series(spellings, dtype=pl.String), shares)
        assert column.to_list() == [None if p is None else normalise_location(p, shares) for p in spellings]

    @pytest.mark.parametrize("root", ["/mnt/lab data", "/mnt/a+b*c?(d)[e]{2}$|^", "/mnt/Øst"])
    def test_roots_with_spaces_regex_characters_or_non_ascii_in_both(self, root: str) -> None:
        share = Share(name="odd", root=root, aliases=["O:/"], layouts=[{"template": LAYOUT}])
        spellings = [f"{root.lower()}/x/a b", f"{root.upper()}\\Y\\", "o:\\q", f"{root.lower()}/ø"]
        assert normalise_locations(pl.Series(spellings), [share]).to_list() == [
            normalise_location(p, [share]) for p in spellings]

    def test_the_column_version_keeps_nulls(self) -> None:
        assert normalise_locations(pl.Series([None, "N:/x"], dtype=pl.String), [N]).to_list() == [None, "/mnt/n/x"]


class TestRecordingGroups:
    """Imaging with combined: false: one folder holds one session per recording (its group)."""

    def test_a_group_in_the_pipeline_does_not_make_the_other_groups_of_its_folder_duplicates(self) -> None:
        folder = "m1/20240301"
        first = candidate("N", "m1", datetime(2024, 3, 1, 10, 0), rel=folder).model_copy(update={"group": "fovA"})
        second = candidate("N", "m1", datetime(2024, 3, 1, 11, 0), rel=folder).model_copy(update={"group": "fovB"})
        assert first.location == second.location
        db = existing(("m1", datetime(2024, 3, 1, 10, 0), first.location, "fovA"))
        frame = deduplicate(candidates_to_frame([first, second]), db, SHARES)
        assert frame.select("session_id", "status").rows() == [
            ("m1/2024-03-01_10-00-00/fovA", "duplicate"), ("m1/2024-03-01_11-00-00/fovB", "new")]
