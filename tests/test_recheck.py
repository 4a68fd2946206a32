"""The re-check between approval and insertion: folder fingerprints on real files, and their comparison."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mass_ingest.profile import Share
from tasks.recheck import FOLDER, fingerprint, folder_fingerprint, share_changes

REPO = Path(__file__).resolve().parent.parent
LAYOUT = [{"template": "{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}]
SESSION = "m1/2024-03-05_10-30-58"
OLD = 1_700_000_000  # a fixed, old modification time


def _share(root: Path) -> Share:
    return Share(name="N", root=str(root), layouts=LAYOUT)


def _write(path: Path, data: bytes = b"x" * 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def share(tmp_path: Path) -> Share:
    root = tmp_path / "share"
    _write(root / SESSION / "probe_0" / "run_g0_t0.imec0.ap.bin")
    _write(root / SESSION / "probe_0" / "run_g0_t0.imec0.ap.meta", b"fileSizeBytes=100\n")
    _write(root / SESSION / "sessions.txt", b"")
    return _share(root)


def _candidates(*rel_paths: str) -> pl.DataFrame:
    return pl.DataFrame({"candidate_id": [f"c{i}" for i in range(len(rel_paths))],
                         "session_id": list(rel_paths), "share": ["N"] * len(rel_paths), "rel_path": list(rel_paths)})


def _changes(share: Share, shown: pl.DataFrame, approved: pl.DataFrame) -> list[str]:
    return share_changes(shown, approved, fingerprint(approved, [share]))["change"].to_list()


class TestFolderFingerprint:
    def test_lists_every_file_below_with_size_and_time_and_the_folder_first(self, share):
        assert folder_fingerprint(share, SESSION) == [
            (FOLDER, 3, -1),
            ("probe_0/run_g0_t0.imec0.ap.bin", 100, OLD * 10**9),
            ("probe_0/run_g0_t0.imec0.ap.meta", 18, OLD * 10**9),
            ("sessions.txt", 0, OLD * 10**9),
        ]

    def test_a_missing_folder_is_one_row_saying_so(self, share):
        assert folder_fingerprint(share, "m1/2024-01-01_00-00-00") == [(FOLDER, -1, -1)]

    def test_a_link_inside_the_share_is_described_by_its_target(self, share):
        link = Path(share.root) / SESSION / "copy.bin"
        link.symlink_to(Path(share.root) / SESSION / "probe_0" / "run_g0_t0.imec0.ap.bin")
        assert ("copy.bin", 100, OLD * 10**9) in folder_fingerprint(share, SESSION)

    def test_a_link_outside_the_share_is_never_followed(self, share, tmp_path):
        outside = _write(tmp_path / "elsewhere" / "big.bin", b"y" * 5000)
        (Path(share.root) / SESSION / "outside.bin").symlink_to(outside)
        (Path(share.root) / SESSION / "outside_dir").symlink_to(outside.parent, target_is_directory=True)
        rows = {name: (size, mtime) for name, size, mtime in folder_fingerprint(share, SESSION)}
        # The file link is described by the link (its own size), never by the 5,000-byte target;
        # the folder link is not entered at all.
        assert rows["outside.bin"] == (os.lstat(Path(share.root) / SESSION / "outside.bin").st_size,
                                       os.lstat(Path(share.root) / SESSION / "outside.bin").st_mtime_ns)
        assert rows["outside.bin"][0] != 5000
        assert not any(name.startswith("outside_dir/") for name in rows)
        assert f"{SESSION}/outside_dir [DISCOVER.SYMLINK_OUTSIDE]" in rows

    def test_a_folder_that_cannot_be_listed_is_a_row_naming_it(self, share):
        # Root reads through chmod 000: list in a child without the capabilities that bypass it.
        prefix = []
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and setpriv (util-linux) is missing, so chmod 000 cannot be tested")
            prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        probe = Path(share.root) / SESSION / "probe_0"
        code = ("import sys; from mass_ingest.profile import Share; from tasks.recheck import folder_fingerprint; "
                f"print(folder_fingerprint(Share(name='N', root={share.root!r}, layouts={LAYOUT!r}), {SESSION!r}))")
        probe.chmod(0)
        try:
            done = subprocess.run([*prefix, sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
        finally:
            probe.chmod(0o755)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"('{SESSION}/probe_0 [DISCOVER.UNREADABLE_DIR]', -1, -1)" in done.stdout
        assert "run_g0_t0" not in done.stdout

    def test_one_listing_per_folder_shared_by_several_candidates(self, share):
        two = pl.concat([_candidates(SESSION), _candidates(SESSION).with_columns(pl.lit("c9").alias("candidate_id"))])
        prints = fingerprint(two, [share])
        assert prints.group_by("candidate_id").len().sort("candidate_id").rows() == [("c0", 4), ("c9", 4)]


class TestShareChanges:
    def test_an_unchanged_folder_has_no_changes(self, share):
        approved = _candidates(SESSION)
        assert _changes(share, fingerprint(approved, [share]), approved) == []

    def test_a_file_added_after_the_pause_is_named(self, share):
        approved = _candidates(SESSION)
        shown = fingerprint(approved, [share])
        _write(Path(share.root) / SESSION / "probe_0" / "notes.txt")
        assert _changes(share, shown, approved) == ["added probe_0/notes.txt"]

    def test_a_file_grown_removed_or_touched_is_named_with_what_changed(self, share):
        approved = _candidates(SESSION)
        shown = fingerprint(approved, [share])
        folder = Path(share.root) / SESSION
        _write(folder / "probe_0" / "run_g0_t0.imec0.ap.bin", b"x" * 5000)
        (folder / "sessions.txt").unlink()
        os.utime(folder / "probe_0" / "run_g0_t0.imec0.ap.meta", (OLD + 60, OLD + 60))
        assert _changes(share, shown, approved) == [
            "modified probe_0/run_g0_t0.imec0.ap.bin (100 -> 5,000 bytes)",
            "modified probe_0/run_g0_t0.imec0.ap.meta (same size, newer time)",
            "removed sessions.txt",
        ]

    def test_a_folder_gone_is_said_once_with_its_files(self, share):
        approved = _candidates(SESSION)
        shown = fingerprint(approved, [share])
        (Path(share.root) / SESSION).rename(Path(share.root) / "m1" / "moved")
        changes = _changes(share, shown, approved)
        assert changes[0] == "the folder is gone or is no longer a folder"
        assert sorted(changes[1:]) == ["removed probe_0/run_g0_t0.imec0.ap.bin",
                                       "removed probe_0/run_g0_t0.imec0.ap.meta", "removed sessions.txt"]

    def test_only_approved_candidates_are_compared(self, share):
        other = "m1/2024-03-06_09-00-00"
        _write(Path(share.root) / other / "sessions.txt")
        both = _candidates(SESSION, other)
        shown = fingerprint(both, [share])
        _write(Path(share.root) / other / "late.txt")  # the left-out session changed: no matter
        assert _changes(share, shown, both.head(1)) == []
        assert _changes(share, shown, both) == ["added late.txt"]

    def test_listed_a_slice_of_folders_at_a_time_the_changes_are_the_same(self, share, monkeypatch):
        import tasks.recheck as recheck

        sessions = [SESSION, *(f"m{s}/2024-03-0{d}_09-00-00" for s in (2, 3) for d in (1, 2))]
        for rel in sessions[1:]:
            _write(Path(share.root) / rel / "sessions.txt")
        approved = pl.concat([_candidates(*sessions),  # two candidates of one folder (recording groups)
                              _candidates(sessions[2]).with_columns(candidate_id=pl.lit("g2"))])
        shown = fingerprint(approved, [share])
        _write(Path(share.root) / sessions[1] / "late.txt")
        _write(Path(share.root) / sessions[4] / "sessions.txt", b"grown" * 50)
        (Path(share.root) / sessions[2] / "sessions.txt").unlink()
        whole, cost = recheck.changes_now([share], shown, approved, None)
        monkeypatch.setattr(recheck, "_RECHECK_SLICE", 2)
        sliced, sliced_cost = recheck.changes_now([share], shown, approved, None)
        assert sliced.equals(whole) and sliced_cost == cost == {"folders": 5, "files": 7}
        assert whole.select("candidate_id", "change").rows() == [
            ("c1", "added late.txt"), ("c2", "removed sessions.txt"), ("g2", "removed sessions.txt"),
            ("c4", "modified sessions.txt (100 -> 250 bytes)")]

    def test_a_candidate_not_fingerprinted_at_the_pause_is_a_change(self, share):
        approved = _candidates(SESSION)
        shown = fingerprint(approved, [share]).filter(pl.lit(False))
        assert _changes(share, shown, approved) == ["was not among the sessions shown at the pause"]


class TestWalkOnce:
    """The fingerprint shown at the pause is discovery's listing; only the re-check lists again."""

    def test_discoverys_listing_is_the_fingerprint_a_new_listing_gives(self, tmp_path: Path) -> None:
        from mass_ingest.profile import load_profile
        from tasks.discover import discover_share
        from tests.test_discover import MOSER
        from tests.test_discover_parallel import messy_ephys_share

        root = tmp_path / "N"
        messy_ephys_share(root, tmp_path / "elsewhere")  # links in, out and looping, bad names
        profile = load_profile(MOSER).with_root(str(root))
        listings: list = []
        frame, _ = discover_share(profile, "N", listings=listings)
        listed = listings[0].with_columns(walk=pl.lit("N-0"))
        candidates = frame.select("candidate_id", "session_id", "share", "rel_path")
        assert sorted(listed["rel_path"]) == sorted(frame["rel_path"].unique()) and frame.height > 60
        from_discovery = fingerprint(candidates, profile.shares, listed, as_listed=True)
        listed_now = fingerprint(candidates, profile.shares, listed)
        assert from_discovery.equals(listed_now)
        problems = from_discovery.filter(pl.col("file").str.contains(r"\[DISCOVER\.")).get_column("file").to_list()
        # A link from one session into another's folder is not followed (that folder is described on
        # its own): a new listing knows the session folders discovery knew.
        assert "recordings/20002/2024-02-03_10-30-58/borrowed [DISCOVER.SYMLINK_LOOP]" in problems
        assert len(problems) >= 4

        # Nothing is walked again for the fingerprint: a file added after discovery is not in it,
        # and the re-check (which lists the approved folders now) names it.
        session = root / "recordings" / "20004" / "2024-03-05_10-30-58"
        _write(session / "probe_1" / "late.txt")
        assert fingerprint(candidates, profile.shares, listed, as_listed=True).equals(from_discovery)
        approved = candidates.filter(pl.col("rel_path") == "recordings/20004/2024-03-05_10-30-58")
        assert share_changes(from_discovery, approved, fingerprint(approved, profile.shares, listed))["change"] \
            .to_list() == ["added probe_1/late.txt"]

    def test_folders_discovery_did_not_list_are_listed_now(self, share: Share) -> None:
        from mass_ingest.listing import LISTING_SCHEMA

        rows = fingerprint(_candidates(SESSION), [share], pl.DataFrame(schema=LISTING_SCHEMA), as_listed=True)
        assert rows["file"].to_list() == [FOLDER, "probe_0/run_g0_t0.imec0.ap.bin", "probe_0/run_g0_t0.imec0.ap.meta",
                                          "sessions.txt"]
