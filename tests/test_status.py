"""The candidate status vocabulary: one enum, and only the changes its transitions allow."""

from __future__ import annotations

import polars as pl
import pytest

from mass_ingest.candidates import TRANSITIONS, Status, change_status, status_counts


def test_every_status_is_reachable_from_dedup():
    reached, frontier = set(), {None}
    while frontier:
        step = set().union(*(TRANSITIONS.get(s, frozenset()) for s in frontier)) - reached
        reached |= step
        frontier = step
    assert reached == set(Status)


def test_allowed_changes_go_through_and_a_status_may_stay():
    frame = pl.DataFrame({"status": ["new", "new", "duplicate"]})
    changed = change_status(frame, pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(Status.READY))
                            .otherwise(pl.col("status")))
    assert changed["status"].to_list() == ["ready", "new", "duplicate"]


def test_a_first_status_comes_only_from_dedups_vocabulary():
    frame = pl.DataFrame({"location": ["a", "b"]})
    assert change_status(frame, pl.lit(Status.NEW))["status"].to_list() == ["new", "new"]
    with pytest.raises(ValueError, match="None -> ready"):
        change_status(frame, pl.lit(Status.READY))


@pytest.mark.parametrize("before, after", [("quarantined", "approved"), ("duplicate", "ready"),
                                           ("ready", "pending"), ("new", "made-up")])
def test_a_forbidden_change_stops_with_both_statuses_named(before, after):
    with pytest.raises(ValueError, match=f"{before} -> {after}"):
        change_status(pl.DataFrame({"status": [before]}), pl.lit(after))


def test_status_counts_name_every_status():
    counts = status_counts(pl.DataFrame({"status": ["ready", "ready", "copy"]}))
    assert counts[Status.READY] == 2 and counts[Status.COPY] == 1 and counts[Status.LEFT_OUT] == 0
    assert set(counts) == set(Status)
