"""Which sessions a person's pattern names, and that held sessions never become approved (no database)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from mass_ingest.candidates import Status, change_status
from mass_ingest.db.decisions import Decision
from mass_ingest.db.held import HELD_SCHEMA
from mass_ingest.profile import Share
from mass_ingest.session_patterns import match_patterns, nearest, unmatched_patterns
from mass_ingest.db.held import mark_held
from tasks.approve import apply_decision

SHARES = [Share.model_construct(name="N", root="/mnt/N", aliases=["N:/"])]
A, B = "25843/2024-03-05_10-30-58", "26018/2024-04-18_13-15-40"
ROWS = pl.DataFrame({"candidate_id": ["a" * 16, "b" * 16], "session_id": [A, B], "share": ["N", "N"],
                     "rel_path": [f"recordings/{A}", f"recordings/{B}"],
                     "location": [f"/mnt/n/recordings/{A}", f"/mnt/n/recordings/{B}"], "status": ["ready", "ready"]})


@pytest.mark.parametrize("pattern, named", [
    (A, [True, False]), ("26018/*", [False, True]), (f"/mnt/N/recordings/{A}/", [True, False]),
    (f"N:\\recordings\\{B.replace('/', chr(92))}", [False, True]), (f"N:recordings/{B}", [False, True]),
    (f"recordings/{A}", [True, False]), ("a" * 16, [True, False]), ("*", [True, True])])
def test_a_pattern_names_sessions_by_id_glob_or_folder_as_the_share_shows_it(pattern, named):
    assert match_patterns(ROWS, [pattern], SHARES).to_list() == named


def test_a_pattern_naming_nothing_comes_back_with_the_nearest_ids():
    assert unmatched_patterns(ROWS, ["25834/*", A], SHARES) == {"25834/*": [A]}
    assert nearest("/mnt/N/elsewhere/25843/2024-03-05_10-30-59", [A, B]) == [A]
    assert nearest("zzzz", [A, B]) == []


def _held(candidate_id: str) -> pl.DataFrame:
    return pl.DataFrame([{"candidate_id": candidate_id, "ingest_id": "i", "session_id": A, "share": "N",
                          "rel_path": "r", "location": "l", "reason": "left_out", "held_by": "Ada",
                          "held_at": datetime(2026, 11, 30, 16, 0), "note": "histology first"}], schema=HELD_SCHEMA)


def test_a_held_session_is_shown_why_and_an_approval_never_lets_it_in():
    marked = mark_held(ROWS, _held("a" * 16))
    assert marked["status"].to_list() == ["held", "ready"]
    assert marked["held_reason"].to_list() == ["left out by Ada on 2026-11-30: 'histology first'", None]
    decided = apply_decision(marked, Decision(approved=True, approver="auto-approval", source="auto"), SHARES)
    assert decided["status"].to_list() == ["held", "approved"]


def test_exclusions_by_folder_path_leave_the_session_out():
    decided = apply_decision(ROWS, Decision(approved=True, approver="Ada", source="cli",
                                            excluded=[f"/mnt/N/recordings/{B}"]), SHARES)
    assert decided["status"].to_list() == ["approved", "left_out"]


def test_held_is_a_status_of_its_own_that_no_decision_changes():
    held = pl.DataFrame({"status": ["held"]})
    for after in (Status.APPROVED, Status.READY, Status.LEFT_OUT):
        with pytest.raises(ValueError, match=f"held -> {after}"):
            change_status(held, pl.lit(after))
