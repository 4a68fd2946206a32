"""Locations and case (issue 13, item 2): each share's case rule, and folders that collide under it.

Discovery runs on real trees; dedup's entry point (deduplicate_discovered) marks the collisions.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mass_ingest.locations import canonical_location, normalise_location, normalise_locations
from mass_ingest.profile import Share
from mass_ingest.dedup import deduplicate_discovered
from tasks.discover import discover_share
from tests.test_discover import make_tree, moser, probe

LAYOUT = [{"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}]
SMB = Share(name="N", root="/mnt/N", aliases=["N:/"], layouts=LAYOUT)
POSIX = Share(name="P", root="/data/Lab", layouts=LAYOUT)


class TestTheRule:
    def test_the_default_follows_the_shares_spelling_and_the_profile_can_say_otherwise(self) -> None:
        assert (SMB.ignores_case, POSIX.ignores_case) == (True, False)
        assert Share(name="U", root="/u", aliases=["//fs/u"], layouts=LAYOUT).ignores_case
        assert not SMB.model_copy(update={"case_sensitive": True}).ignores_case
        assert POSIX.model_copy(update={"case_sensitive": False}).ignores_case

    def test_locations_keep_case_only_where_the_share_tells_case_apart(self) -> None:
        assert canonical_location(SMB, "recordings/b26A/x") == "/mnt/n/recordings/b26a/x"
        assert canonical_location(POSIX, "recordings/b26A/x") == "/data/Lab/recordings/b26A/x"

    @pytest.mark.parametrize("path", [
        "/data/Lab/recordings/b26A/x", "/data/Lab/recordings/b26a/x/", "\\data\\Lab\\recordings\\B26A",
        "/DATA/LAB/recordings/B26a", "N:\\recordings\\b26A", "/mnt/N/Recordings/B26A", "/elsewhere/X", "/data/Lab",
    ])
    def test_the_column_rewrite_gives_what_the_one_path_rewrite_gives(self, path: str) -> None:
        shares = [POSIX, SMB]
        assert normalise_locations(pl.Series([path]), shares).to_list() == [normalise_location(path, shares)]


class TestCollisions:
    def test_two_folders_differing_only_in_case_are_both_stopped_naming_each_other(self, tmp_path: Path) -> None:
        # On a POSIX copy of an SMB share both folders exist; the share (with its Windows alias) ignores case.
        root = make_tree(tmp_path / "N", [
            *probe("recordings/b26A/2024-03-05_10-30-58/probe_1", "18408403232"),
            *probe("recordings/b26a/2024-03-05_10-30-58/probe_1", "18408403541"),
            *probe("recordings/25843/2024-03-05_10-30-58/probe_1", "18408403777"),  # a good one beside them
        ])
        profile = moser(root)
        assert profile.shares[0].ignores_case
        frame, _ = discover_share(profile, "N")
        checked = deduplicate_discovered([frame], profile.shares)
        flagged = {row["rel_path"]: [f for f in row["findings"] if f["code"] == "DISCOVER.CASE_COLLISION"]
                   for row in checked.iter_rows(named=True)}
        a, b = "recordings/b26A/2024-03-05_10-30-58", "recordings/b26a/2024-03-05_10-30-58"
        assert [len(flagged[a]), len(flagged[b]), len(flagged["recordings/25843/2024-03-05_10-30-58"])] == [1, 1, 0]
        assert f"is the same place as '{b}'" in flagged[a][0]["message"]
        assert f"is the same place as '{a}'" in flagged[b][0]["message"]
        assert flagged[a][0]["severity"] == "ERROR"

    def test_on_a_case_sensitive_share_they_are_two_sessions(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe("recordings/b26A/2024-03-05_10-30-58/probe_1", "18408403232"),
            *probe("recordings/b26a/2024-03-05_10-30-58/probe_1", "18408403541"),
        ])
        profile = moser(root)
        profile = profile.model_copy(update={"shares": [profile.shares[0].model_copy(update={"case_sensitive": True})]})
        frame, _ = discover_share(profile, "N")
        checked = deduplicate_discovered([frame], profile.shares)
        assert checked["location"].n_unique() == 2
        assert not any(f["code"] == "DISCOVER.CASE_COLLISION" for fs in checked["findings"] for f in fs)
