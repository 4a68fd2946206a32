"""Importing the lab's subjects CSV into the embedded database, and counting implanted probes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mass_ingest.errors import SubjectImportError
from mass_ingest.db.subjects import SubjectImport, implanted_probe_counts, import_subjects_csv

pytestmark = pytest.mark.backends  # also run on PostgreSQL and MySQL servers (see tests/conftest.py)

HEADER = "subject,probe_name,serial,probe_type,insertion_time"
NP1, NP2 = "neuropixels 1.0 - 3B", "neuropixels 2.0 - SS"
CSV = [
    HEADER,
    f"25843,18408403232_25843_1,18408403232,{NP1},2024-02-27 09:30:00",
    f"25843,18408403541_25843_2,18408403541,{NP1},2024-02-27 09:30:00",  # second probe of the same animal
    f"26018,21144007318_26018_1,21144007318,{NP2},2024-04-10T10:00:00",  # ISO 'T' is accepted too
    f"102_1,18194823662_102_1_1,18194823662,{NP1},",  # no insertion time: stored as null
    "",  # blank line: skipped
]


def write_csv(tmp_path: Path, lines: list[str], name: str = "subjects.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tables() -> dict[str, list[dict]]:
    from mass_ingest.db import schema

    def rows(table) -> list[dict]:
        return sorted(table.to_dicts(), key=lambda r: tuple(str(v) for v in r.values()))

    return {"subjects": rows(schema.Subject), "probes": rows(schema.Probe),
            "insertions": rows(schema.ProbeInsertion)}


class TestImportSubjectsCsv:
    """import_subjects_csv: whole file checked first; re-importing changes nothing."""

    def test_import_adds_subjects_probes_and_insertions(self, clean_database: str, tmp_path: Path) -> None:
        assert import_subjects_csv(write_csv(tmp_path, CSV)) == SubjectImport(
            rows=4, subjects_added=3, probes_added=4, insertions_added=4)
        assert tables() == {
            "subjects": [{"subject": "102_1", "source": "subjects-csv"}, {"subject": "25843", "source": "subjects-csv"},
                         {"subject": "26018", "source": "subjects-csv"}],
            "probes": [{"probe": "18194823662_102_1_1", "serial": "18194823662", "probe_type": NP1},
                       {"probe": "18408403232_25843_1", "serial": "18408403232", "probe_type": NP1},
                       {"probe": "18408403541_25843_2", "serial": "18408403541", "probe_type": NP1},
                       {"probe": "21144007318_26018_1", "serial": "21144007318", "probe_type": NP2}],
            "insertions": [
                {"subject": "102_1", "probe": "18194823662_102_1_1", "insertion_time": None},
                {"subject": "25843", "probe": "18408403232_25843_1", "insertion_time": datetime(2024, 2, 27, 9, 30)},
                {"subject": "25843", "probe": "18408403541_25843_2", "insertion_time": datetime(2024, 2, 27, 9, 30)},
                {"subject": "26018", "probe": "21144007318_26018_1", "insertion_time": datetime(2024, 4, 10, 10, 0)},
            ],
        }

    def test_reimporting_the_same_file_adds_nothing(self, clean_database: str, tmp_path: Path) -> None:
        path = write_csv(tmp_path, CSV)
        import_subjects_csv(path)
        before = tables()
        assert import_subjects_csv(path) == SubjectImport(rows=4, subjects_added=0, probes_added=0,
                                                          insertions_added=0)
        assert tables() == before

    def test_a_later_file_adds_only_what_is_new(self, clean_database: str, tmp_path: Path) -> None:
        import_subjects_csv(write_csv(tmp_path, CSV[:2]))
        assert import_subjects_csv(write_csv(tmp_path, CSV, "all.csv")) == SubjectImport(
            rows=4, subjects_added=2, probes_added=3, insertions_added=3)

    def test_subject_ids_stay_strings_in_the_database(self, clean_database: str, tmp_path: Path) -> None:
        import_subjects_csv(write_csv(tmp_path, [HEADER, "102_1,p1,1,,", "00042,p2,2,,", "no,p3,3,,"]))
        subjects = [r["subject"] for r in tables()["subjects"]]
        assert subjects == ["00042", "102_1", "no"]
        assert all(type(s) is str for s in subjects)

    def test_utf8_bom_from_excel_does_not_break_the_header(self, clean_database: str, tmp_path: Path) -> None:
        path = tmp_path / "excel.csv"
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(CSV[:2]).encode() + b"\r\n")
        assert import_subjects_csv(path).rows == 1


class TestBadCsv:
    """A bad header or bad rows: one SubjectImportError naming every bad line, and nothing imported."""

    def test_bad_header_names_line_1_and_the_expected_header(self, clean_database: str, tmp_path: Path) -> None:
        path = write_csv(tmp_path, ["subject,probe,serial,type,inserted", *CSV[1:]])
        with pytest.raises(SubjectImportError) as info:
            import_subjects_csv(path)
        assert str(info.value) == (f"{path}: line 1 must be the header '{HEADER}', found "
                                   "'subject,probe,serial,type,inserted'")
        assert tables() == {"subjects": [], "probes": [], "insertions": []}

    def test_empty_file_names_line_1(self, clean_database: str, tmp_path: Path) -> None:
        path = tmp_path / "empty.csv"
        path.write_text("", encoding="utf-8")
        with pytest.raises(SubjectImportError, match="line 1 must be the header"):
            import_subjects_csv(path)

    def test_bad_rows_are_all_listed_by_line_and_nothing_is_imported(self, clean_database: str,
                                                                     tmp_path: Path) -> None:
        import_subjects_csv(write_csv(tmp_path, CSV[:2], "first.csv"))
        before = tables()
        path = write_csv(tmp_path, [
            HEADER,
            CSV[3],  # line 2: fine
            f",18194823662_x_1,18194823662,{NP1},",  # line 3: empty subject
            f"m9,18005116873_m9_1,18005116873,{NP1},2024-02-30 10:00:00",  # line 4: no 30 February
            "m10,too,few",  # line 5: three columns
            "",  # line 6: blank, skipped but counted
            f"m11,p,,{NP1},yesterday",  # line 7: empty serial and a bad time: two problems on one line
        ], "bad.csv")
        with pytest.raises(SubjectImportError) as info:
            import_subjects_csv(path)
        assert str(info.value).splitlines() == [
            "nothing imported; fix these rows:",
            f"{path}:3: subject is empty",
            f"{path}:4: insertion_time '2024-02-30 10:00:00' is not a date/time like 2024-02-27 09:30:00",
            f"{path}:5: expected 5 columns, found 3",
            f"{path}:7: serial is empty; give the probe's serial, or leave all four probe columns empty for a "
            "subject without probes",
            f"{path}:7: insertion_time 'yesterday' is not a date/time like 2024-02-27 09:30:00",
        ]
        assert tables() == before

    def test_rows_with_empty_probe_columns_make_subjects_known_without_probes(self, clean_database: str,
                                                                             tmp_path: Path) -> None:
        path = write_csv(tmp_path, [
            HEADER,
            "23456,,,,",  # an imaging animal, pre-registered: no probe
            "23457, , , ,",  # the same with spaces: still no probe
            CSV[1],  # an ephys animal with its probe, in the same file
        ])
        assert import_subjects_csv(path) == SubjectImport(rows=3, subjects_added=3, probes_added=1,
                                                          insertions_added=1)
        assert [r["subject"] for r in tables()["subjects"]] == ["23456", "23457", "25843"]
        assert [r["subject"] for r in tables()["insertions"]] == ["25843"]
        assert implanted_probe_counts() == {"23456": 0, "23457": 0, "25843": 1}
        assert import_subjects_csv(path).subjects_added == 0  # re-importing changes nothing

    def test_a_row_with_some_probe_columns_is_a_probe_row_missing_the_others(self, clean_database: str,
                                                                            tmp_path: Path) -> None:
        path = write_csv(tmp_path, [HEADER, f"23456,,,{NP1},"])  # a type but no probe name nor serial
        with pytest.raises(SubjectImportError) as info:
            import_subjects_csv(path)
        assert str(info.value).splitlines()[1:] == [
            f"{path}:2: probe_name is empty; give the probe's probe_name, or leave all four probe columns empty "
            "for a subject without probes",
            f"{path}:2: serial is empty; give the probe's serial, or leave all four probe columns empty for a "
            "subject without probes"]
        assert tables()["subjects"] == []

    def test_missing_file_is_an_import_error(self, tmp_path: Path) -> None:
        with pytest.raises(SubjectImportError, match="cannot be read"):
            import_subjects_csv(tmp_path / "nope.csv")


class TestImplantedProbeCounts:
    """implanted_probe_counts: every known subject, with 0 when it has no implant."""

    def test_counts_per_subject_including_zero(self, clean_database: str, tmp_path: Path) -> None:
        from mass_ingest.db import schema

        import_subjects_csv(write_csv(tmp_path, CSV))
        schema.Subject.insert1({"subject": "m9", "source": "by hand"})
        assert implanted_probe_counts() == {"25843": 2, "26018": 1, "102_1": 1, "m9": 0}

    def test_empty_database_has_no_counts(self, clean_database: str) -> None:
        assert implanted_probe_counts() == {}
