"""`mass-ingest import`: a lab's per-subject input file, read strictly, then ingested like discovery's finds."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from mass_ingest.errors import InputFileError
from mass_ingest.input_files import read_input_file
from tests.e2e import cli, demo_campaign, json_out

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "input_files"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestReading:
    def test_the_examples_read_as_written(self) -> None:
        yaml_file = read_input_file(EXAMPLES / "25843.yaml")
        assert (yaml_file.subject, len(yaml_file.sessions)) == ("25843", 2)
        assert yaml_file.sessions[0].location == "N:\\recordings\\25843\\2024-03-05_10-30-58"
        assert yaml_file.sessions[0].probe_association == {"probe_1": "18408403232_25843_1",
                                                           "probe_2": "18408403541_25843_2"}
        json_file = read_input_file(EXAMPLES / "102_1.json")
        assert (json_file.subject, json_file.sessions[0].clustering) == ("102_1", "kilosort2.5")

    @pytest.mark.parametrize(("line", "value", "read_as"), [
        ("subject: 102_1", "102_1", "a number (1021)"),
        ("subject: no", "no", "a boolean (False)"),
        ("subject: 1e5", "1e5", "the number 100000.0 (YAML 1.2)"),
        ("subject: 0123", "0123", "a number (83)"),
        ("subject: 2024-03-05", "2024-03-05", "a date (2024-03-05)"),
    ])
    def test_yaml_pitfalls_name_the_file_line_key_and_fix(self, tmp_path: Path, line: str, value: str,
                                                          read_as: str) -> None:
        path = write(tmp_path, "s.yaml", f"{line}\nsessions:\n  - location: N:/x\n    experimenter: anna\n")
        with pytest.raises(InputFileError) as err:
            read_input_file(path)
        assert str(err.value) == (f"input file s.yaml line 1: subject is {value} unquoted, which YAML reads as "
                                  f"{read_as}; quote it (subject: '{value}') so every tool reads the text {value}")

    def test_every_pitfall_is_listed_at_once_including_nested_ones(self, tmp_path: Path) -> None:
        path = write(tmp_path, "s.yaml", "subject: '102_1'\nsessions:\n  - location: N:/x\n    experimenter: no\n"
                     "    probe_association: {probe_1: 18194823662}\n    tasks: [sleep, 1e3]\n")
        with pytest.raises(InputFileError) as err:
            read_input_file(path)
        lines = str(err.value).splitlines()
        assert [line.split(" is ")[0] for line in lines] == [
            "input file s.yaml line 4: sessions[0].experimenter",
            "input file s.yaml line 5: sessions[0].probe_association.probe_1",
            "input file s.yaml line 6: sessions[0].tasks[1]"]
        assert lines[2].endswith("quote it ('1e3') so every tool reads the text 1e3")

    def test_hex_ids_and_quoted_values_are_text(self, tmp_path: Path) -> None:
        path = write(tmp_path, "s.yaml", "subject: f4fab316a8743038\nsessions:\n  - location: N:/x\n"
                     "    experimenter: 'no'\n    probe_association: {probe_1: '18194823662'}\n")
        data = read_input_file(path)
        assert (data.subject, data.sessions[0].experimenter) == ("f4fab316a8743038", "no")

    def test_json_numbers_and_unknown_keys_are_refused_with_the_key(self, tmp_path: Path) -> None:
        path = write(tmp_path, "s.json", json.dumps({"subject": 1021, "sessions": [
            {"location": "N:/x", "experimenter": "anna", "probe": "x"}]}))
        with pytest.raises(InputFileError) as err:
            read_input_file(path)
        assert str(err.value).splitlines() == [
            "input file s.json: subject must be text; quote it",
            "input file s.json: sessions[0].probe is not a key the input file knows (remove it or check its spelling)"]

    def test_a_file_without_sessions_says_so(self, tmp_path: Path) -> None:
        # Read as a profile is (mass_ingest/lab_files.py): the message names the line of the mapping.
        with pytest.raises(InputFileError, match=r"input file s.yaml line 1: sessions Field required \(add it\)"):
            read_input_file(write(tmp_path, "s.yaml", "subject: '25843'\n"))

    def test_a_key_written_twice_is_refused_naming_both_lines_as_in_a_profile(self, tmp_path: Path) -> None:
        text = "subject: '25843'\nsessions:\n  - location: /mnt/N/a\n    experimenter: ada\nsubject: '25844'\n"
        with pytest.raises(InputFileError, match=r"input file s.yaml line 5: key 'subject' appears twice in the "
                                                 r"top level \(lines 1 and 5\)"):
            read_input_file(write(tmp_path, "s.yaml", text))


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server", "clean_database")
class TestImportEndToEnd:
    def sessions(self, subject: str) -> set[datetime]:
        from mass_ingest.db import schema

        return {r["session_start"] for r in (schema.Session & {"subject": subject}).to_dicts()}

    @pytest.mark.backends
    def test_the_example_file_is_ingested_once_with_its_project(self, tmp_path: Path) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.subjects import import_subjects_csv

        campaign = demo_campaign(tmp_path / "demo")
        import_subjects_csv(campaign.subjects_csv)
        example = shutil.copy(EXAMPLES / "25843.yaml", tmp_path / "25843.yaml")
        first = cli("import", str(example), "--profile", str(campaign.profile_path), "--approve", "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        counts = json_out(first.stdout)
        assert {k: counts[k] for k in ("discovered", "duplicates", "quarantined", "inserted")} == \
            {"discovered": 2, "duplicates": 0, "quarantined": 0, "inserted": 2}
        # Only the two listed sessions, though the share holds a third of 25843 and others.
        assert self.sessions("25843") == {datetime(2024, 3, 5, 10, 30, 58), datetime(2024, 4, 9, 9, 47, 33)}
        assert len(schema.Session()) == 2
        memberships = {(r["session_start"], r["project"]) for r in schema.Session.Membership.to_dicts()}
        assert (datetime(2024, 4, 9, 9, 47, 33), "grid_remapping") in memberships
        assert len(schema.Session.Recording & {"subject": "25843"}) == 4
        # What the lab wrote is kept: who recorded each session, and the profile's project descriptions
        # (a project only the input file names has none to keep).
        assert {(r["session_start"], r["experimenter"]) for r in schema.Session.Experimenter.to_dicts()} == {
            (datetime(2024, 3, 5, 10, 30, 58), "anna"), (datetime(2024, 4, 9, 9, 47, 33), "anna")}
        assert {r["project"]: r["description"] for r in schema.Project.to_dicts()} == {
            "grid-cells": "Grid cells in MEC, chronic Neuropixels implants",
            "pilot": "Everything recorded in March 2024, while the rig was being tuned", "grid_remapping": ""}
        # The same file again: both are duplicates now, nothing is inserted twice.
        again = cli("import", str(example), "--profile", str(campaign.profile_path), "--approve", "--json")
        assert again.returncode == 0, again.stderr[-3000:]
        assert {k: json_out(again.stdout)[k] for k in ("duplicates", "inserted")} == {"duplicates": 2, "inserted": 0}
        # A scan of the whole share afterwards skips what the import inserted.
        scan = cli("run", str(campaign.profile_path), "--approve", "--json")
        assert scan.returncode == 0, scan.stderr[-3000:]
        assert {k: json_out(scan.stdout)[k] for k in ("duplicates", "inserted")} == {"duplicates": 3, "inserted": 3}
        assert len(schema.Session.Experimenter()) == 2  # nothing on the share says who recorded the others

    def test_a_wrong_probe_or_missing_folder_is_quarantined_with_the_reason(self, tmp_path: Path) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.subjects import import_subjects_csv

        campaign = demo_campaign(tmp_path / "demo")
        import_subjects_csv(campaign.subjects_csv)
        path = write(tmp_path, "102_1.yaml", "subject: '102_1'\nsessions:\n"
                     "  - location: 'N:/recordings/102_1/2024-05-14_15-22-09'\n    experimenter: anna\n"
                     "    probe_association: {probe_1: '18194823999'}\n"
                     "  - location: 'N:/recordings/102_1/2024-05-15_09-00-00'\n    experimenter: anna\n"
                     "  - location: 'N:/recordings/102_1'\n    experimenter: anna\n")
        result = cli("import", str(path), "--profile", str(campaign.profile_path), "--approve", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        counts = json_out(result.stdout)
        assert (counts["discovered"], counts["quarantined"], counts["inserted"]) == (3, 3, 0)
        reasons = {r["rel_path"]: " ".join(r["reasons"]) for r in
                   (schema.Quarantine & {"ingest_id": counts["ingest_id"]}).to_dicts()}
        assert "IMPORT.PROBE_MISMATCH" in reasons["recordings/102_1/2024-05-14_15-22-09"]
        assert "IMPORT.NOT_FOUND" in reasons["recordings/102_1/2024-05-15_09-00-00"]
        assert "IMPORT.NO_LAYOUT" in reasons["recordings/102_1"]

    def test_a_pitfall_or_a_location_off_every_share_stops_before_any_run(self, tmp_path: Path) -> None:
        campaign = demo_campaign(tmp_path / "demo")
        bad = write(tmp_path, "s.yaml", "subject: 102_1\nsessions:\n  - location: N:/x\n    experimenter: anna\n")
        result = cli("import", str(bad), "--profile", str(campaign.profile_path), "--approve")
        assert result.returncode == 2
        assert "s.yaml line 1: subject is 102_1 unquoted" in result.stderr
        elsewhere = write(tmp_path, "e.yaml", "subject: '102_1'\nsessions:\n  - location: 'Z:/rec/102_1/x'\n"
                          "    experimenter: anna\n")
        result = cli("import", str(elsewhere), "--profile", str(campaign.profile_path), "--approve")
        assert result.returncode == 2
        assert "are on none of profile demo-ephys's shares (Z:/rec/102_1/x); add the root" in result.stderr


@pytest.mark.usefixtures("prefect_server", "clean_database")
class TestImportSummary:
    """What a person reads after `mass-ingest import`: what the input file says that the share does not, and a
    command listing every candidate that reads the input file (run here as they would run it)."""

    def test_input_file_findings_are_shown_and_the_summary_points_at_a_validate_that_reads_the_file(
            self, tmp_path: Path) -> None:
        import re
        import shlex

        from mass_ingest.db.subjects import import_subjects_csv
        from tests.e2e import latest_flow_run_id
        from tests.test_review_page import _artifacts

        campaign = demo_campaign(tmp_path / "demo")
        import_subjects_csv(campaign.subjects_csv)
        path = write(tmp_path, "25843 (march).yaml", "subject: '25843'\nsessions:\n"
                     "  - location: 'N:/recordings/25843/2024-03-05_10-30-58'\n    experimenter: anna\n"
                     "    clustering: kilosort2.5\n"
                     "  - location: 'N:/recordings/25843/2024-03-12_14-02-11'\n    experimenter: ola\n"
                     "    probe_association: {probe_1: '18194823999'}\n")
        result = cli("import", str(path), "--profile", str(campaign.profile_path), "--approve")
        assert result.returncode == 0, result.stderr[-3000:]
        said = " ".join(result.stdout.split())  # rich wraps long lines at the console's width
        assert ("input file N:recordings/25843/2024-03-05_10-30-58: WARNING IMPORT.NO_CLUSTERING: the input file "
                "names clustering 'kilosort2.5', but no such output is in the folder; run it, or drop clustering "
                "from the file") in said
        assert ("input file N:recordings/25843/2024-03-12_14-02-11/probe_1: ERROR IMPORT.PROBE_MISMATCH: the input "
                "file associates probe '18194823999' with probe_1") in said
        assert "quarantined N:recordings/25843/2024-03-12_14-02-11: IMPORT.PROBE_MISMATCH" in said

        [summary] = _artifacts(latest_flow_run_id(campaign.profile_path))["approval-summary"]
        [command] = re.findall(r"`(mass-ingest validate PROFILE --input-file [^`]+ --json)`", summary.data)
        args = shlex.split(command)[1:]  # after mass-ingest
        assert args[:4] == ["validate", "PROFILE", "--input-file", str(path.resolve())]
        listed = cli(*[str(campaign.profile_path) if a == "PROFILE" else a for a in args])
        assert listed.returncode == 0, listed.stderr[-3000:]
        decisions = {c["rel_path"]: (c["status"], [f["code"] for f in c["findings"]])
                     for c in json_out(listed.stdout)["candidates"]}
        assert decisions == {  # the file's two sessions, and none of the share's others
            "recordings/25843/2024-03-05_10-30-58": ("duplicate", ["IMPORT.NO_CLUSTERING"]),
            "recordings/25843/2024-03-12_14-02-11": (
                "quarantined", ["IMPORT.PROBE_MISMATCH", "QUALITY.NO_DISCOVERY_ERRORS"])}
