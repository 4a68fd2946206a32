"""`--share` and `--root` on every command that scans shares, as a person types them: child processes
of `mass-ingest` on the demo campaign (two shares, N and backup), the embedded database and, for the
ingest, a real Prefect server. `--share` means what the deployments' `shares` parameter means; `--root`
replaces the root of the one share left."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from mass_ingest.db import schema
from mass_ingest.demo import age_folders
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import cli, demo_campaign, json_out

pytestmark = pytest.mark.usefixtures("clean_database")

COMMANDS_WITH_ROOT = ("discover", "validate", "run", "rescan")
BACKUP_SESSION = ("25843", datetime(2024, 3, 12, 14, 2, 11))  # the demo's backup share holds this one session


@pytest.mark.parametrize("command", COMMANDS_WITH_ROOT)
def test_root_on_two_shares_without_share_says_what_to_add_and_starts_nothing(tmp_path, command):
    campaign = demo_campaign(tmp_path)
    result = cli(command, str(campaign.profile_path), "--root", str(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert " ".join(result.stderr.split()) == ("error: profile demo-ephys has 2 shares (N, backup) and --root "
                                               "replaces the root of one of them: add --share N or --share backup")
    assert len(schema.IngestRun()) == 0


@pytest.mark.parametrize("command", COMMANDS_WITH_ROOT)
def test_an_unknown_share_names_the_profiles_shares_and_starts_nothing(tmp_path, command):
    campaign = demo_campaign(tmp_path)
    result = cli(command, str(campaign.profile_path), "--share", "N", "--share", "Q")
    assert result.returncode == 2, result.stderr[-2000:]
    assert " ".join(result.stderr.split()) == "error: profile demo-ephys: no share named 'Q'; its shares are N, backup"
    assert len(schema.IngestRun()) == 0


def test_root_with_two_named_shares_says_to_name_one(tmp_path):
    campaign = demo_campaign(tmp_path)
    result = cli("discover", str(campaign.profile_path), "--share", "N", "--share", "backup", "--root", str(tmp_path))
    assert result.returncode == 2
    assert "--root replaces the root of one share, but --share names 2 (N, backup); give one --share with --root" \
        in " ".join(result.stderr.split())


def test_discover_scans_only_the_named_share_at_the_given_root(tmp_path):
    campaign = demo_campaign(tmp_path / "demo")
    copy = tmp_path / "copy-of-backup"
    shutil.copytree(campaign.shares["backup"], copy)
    age_folders(copy)
    result = cli("discover", str(campaign.profile_path), "--share", "backup", "--root", str(copy), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    found = json_out(result.stdout)
    assert [(s["share"], s["root"]) for s in found["shares"]] == [("backup", str(copy))]
    assert [(c["share"], c["session_id"], c["location"]) for c in found["candidates"]] == [
        ("backup", "25843/2024-03-12_14-02-11", str(copy / "recordings/25843/2024-03-12_14-02-11"))]


def test_validate_with_two_shares_named_is_the_whole_profile(tmp_path):
    campaign = demo_campaign(tmp_path)
    import_subjects_csv(campaign.subjects_csv)
    both = cli("validate", str(campaign.profile_path), "--share", "backup", "--share", "N", "--json")
    whole = cli("validate", str(campaign.profile_path), "--json")
    one = cli("validate", str(campaign.profile_path), "--share", "N", "--json")
    for result in (both, whole, one):
        assert result.returncode == 0, result.stderr[-2000:]

    def decisions(result) -> list[tuple[str, str, str]]:
        return sorted((c["share"], c["session_id"], c["status"]) for c in json_out(result.stdout)["candidates"])

    assert decisions(both) == decisions(whole)
    assert {share for share, _, _ in decisions(whole)} == {"N", "backup"}
    # Only N scanned: the backup folder is not there to be told a copy of N's.
    assert decisions(one) == [d for d in decisions(whole) if d[0] == "N"]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_run_ingests_only_the_named_share_from_the_given_root(tmp_path):
    campaign = demo_campaign(tmp_path / "demo")
    import_subjects_csv(campaign.subjects_csv)
    copy = tmp_path / "copy-of-backup"
    shutil.copytree(campaign.shares["backup"], copy)
    age_folders(copy)
    result = cli("run", str(campaign.profile_path), "--share", "backup", "--root", str(copy), "--approve", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = json_out(result.stdout)
    assert (counts["discovered"], counts["inserted"]) == (1, 1)
    stored = (schema.Session.Directory & {"subject": BACKUP_SESSION[0], "session_start": BACKUP_SESSION[1]}).to_dicts()
    assert [(d["share"], d["location"]) for d in stored] == [
        ("backup", str(copy / "recordings/25843/2024-03-12_14-02-11"))]
    assert len(schema.Session()) == 1


def test_validate_reads_the_pipeline_and_runs_the_suites_without_importing_prefect(tmp_path):
    import os
    import subprocess
    import sys

    campaign = demo_campaign(tmp_path)
    import_subjects_csv(campaign.subjects_csv)
    code = ("import runpy, sys\n"
            "sys.argv = ['mass-ingest', 'validate', sys.argv[1], '--json']\n"
            "try:\n    runpy.run_module('mass_ingest.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'great_expectations', 'datajoint'})\n"
            "print('imported:', heavy, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, str(campaign.profile_path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    # The database and GX it needs; Prefect (a second of import) it does not; and no library's warning.
    assert done.stderr.splitlines() == ["imported: ['datajoint', 'great_expectations']"]
    statuses = {c["status"] for c in json_out(done.stdout)["candidates"]}
    assert {"ready", "quarantined"} <= statuses  # the demo's suites passed some sessions and failed others
