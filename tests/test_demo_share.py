"""The demo campaign generator: files, profile, CSV and expected counts (no discovery code used)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mass_ingest.demo import EXCLUDED_SUBJECTS, DemoCampaign, make_demo_campaign
from mass_ingest.profile import load_profile


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _meta(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.fixture
def demo(tmp_path: Path) -> DemoCampaign:
    return make_demo_campaign(tmp_path / "demo")


def test_profile_loads_with_both_shares(demo: DemoCampaign) -> None:
    profile = load_profile(demo.profile_path)
    assert profile.name == "demo-ephys" and profile.timezone == "Europe/Oslo"
    assert {s.name: Path(s.root) for s in profile.shares} == demo.shares
    assert profile.share("N").aliases == ["N:/", "//fileserver/N"]
    assert profile.exclude.subjects == ["00000"]
    projects = {p.name: p for p in profile.projects}
    assert projects["grid-cells"].subjects == ["25843", "26018"]
    assert projects["pilot"].start_after.month == 3 and projects["pilot"].start_before.month == 4
    assert "#" in demo.profile_path.read_text()  # hand-written style, with comments


def test_subjects_csv(demo: DemoCampaign) -> None:
    lines = demo.subjects_csv.read_text().splitlines()
    assert lines[0] == "subject,probe_name,serial,probe_type,insertion_time"
    rows = list(csv.DictReader(lines))
    assert [r["subject"] for r in rows] == ["25843", "25843", "26018", "102_1", "00000"]
    for row in rows:
        assert len(row["serial"]) == 11 and row["serial"].isdigit()
        assert row["probe_name"].startswith(f"{row['serial']}_{row['subject']}_")
    assert rows[2]["probe_type"] == "neuropixels 2.0 - SS" and rows[0]["probe_type"] == "neuropixels 1.0 - 3B"
    assert "m9" not in {r["subject"] for r in rows}


def test_meta_sizes_match_bins(demo: DemoCampaign) -> None:
    serials = {r["serial"] for r in csv.DictReader(demo.subjects_csv.read_text().splitlines())}
    metas = sorted(demo.base.rglob("*.meta"))
    imec = [m for m in metas if m.parent.name.startswith("probe_")]
    assert len(imec) > 10
    for meta_path in imec:
        meta = _meta(meta_path)
        bin_path = meta_path.with_suffix(".bin")
        size = bin_path.stat().st_size
        assert int(meta["fileSizeBytes"]) == size and size % (385 * 2) == 0
        rate = int(meta["imSampRate"])
        assert float(meta["fileTimeSecs"]) == pytest.approx(size / 770 / rate)
        assert meta["typeThis"] == "imec" and meta["nSavedChans"] == "385"
        assert meta["~imroTbl"].startswith(f"({meta['imDatPrb_type']},384)")
        if "/m9/" not in meta_path.as_posix():
            assert meta["imDatPrb_sn"] in serials
        if meta_path.name.endswith(".lf.meta"):
            assert rate == 2500 and meta["imDatPrb_type"] == "0"


def test_bin_without_meta(demo: DemoCampaign) -> None:
    bins = sorted(demo.base.rglob("*.ap.bin"))
    orphans = [b for b in bins if not b.with_suffix(".meta").exists()]
    assert [o.relative_to(demo.shares["N"]).as_posix() for o in orphans] == \
        ["recordings/26018/2024-04-25_11-08-02/probe_1/npx.imec.ap.bin"]


def test_backup_copy_matches_n(demo: DemoCampaign) -> None:
    backup = _tree(demo.shares["backup"])
    sessions = {"/".join(p.split("/")[:3]) for p in backup}
    assert sessions == {"recordings/25843/2024-03-12_14-02-11"}
    (session,) = sessions
    n_tree = _tree(demo.shares["N"] / session)
    assert n_tree == _tree(demo.shares["backup"] / session) and len(n_tree) > 5


def test_regenerating_is_identical(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    first = make_demo_campaign(base, bin_bytes=10_000)
    before = _tree(base)
    (base / "shares" / "N" / "stray.txt").write_text("left over")  # a rebuild removes it
    second = make_demo_campaign(base, bin_bytes=10_000)
    assert _tree(base) == before and first == second
    other = make_demo_campaign(tmp_path / "again", bin_bytes=10_000)
    assert _tree(other.base / "shares") == _tree(base / "shares")  # content does not depend on base


def test_refuses_to_wipe_foreign_shares(tmp_path: Path) -> None:
    (tmp_path / "shares").mkdir()
    (tmp_path / "shares" / "keep.txt").write_text("not ours")
    with pytest.raises(FileExistsError):
        make_demo_campaign(tmp_path)
    assert (tmp_path / "shares" / "keep.txt").exists()


def test_expected_counts(demo: DemoCampaign) -> None:
    folders = [p for root in demo.shares.values() for p in (root / "recordings").glob("*/*") if p.is_dir()]
    excluded = [p for p in folders if p.parent.name in EXCLUDED_SUBJECTS]
    assert demo.expected["discovered"] == len(folders) - len(excluded) == 8
    assert demo.expected == {"discovered": 8, "duplicates": 1, "quarantined": 2, "excluded": 1, "inserted": 5}
    exp = demo.expected
    assert exp["inserted"] == exp["discovered"] - exp["duplicates"] - exp["quarantined"]
    assert (demo.shares["N"] / "recordings" / "25843" / "notes.txt").is_file()
    assert any((demo.shares["N"] / "analysis").iterdir()) and any((demo.shares["N"] / "histology").iterdir())


def test_a_copy_still_arriving_is_short_and_written_now_and_the_rest_dated_at_its_recording(tmp_path: Path) -> None:
    """The quality stage tells a copy still running (pending) from one that stopped (quarantined) by the short
    .ap.bin's age: dated at its recording, the campaign's 'still arriving' sessions read as stalled for months."""
    import time

    from mass_ingest.demo import make_campaign

    campaign = make_campaign(tmp_path / "lab", sessions=120, subjects=10)
    bins = list((campaign.shares["N"] / "recordings").glob("*/*/probe_1/npx.imec.ap.bin"))
    short = [b for b in bins if b.with_suffix(".meta").exists()
             and b.stat().st_size < int(_meta(b.with_suffix(".meta"))["fileSizeBytes"])]
    assert len(short) == campaign.expected["pending"] > 0
    assert all(time.time() - b.stat().st_mtime < 600 for b in short)
    assert all(time.time() - b.stat().st_mtime > 30 * 86400 for b in bins if b not in short)
