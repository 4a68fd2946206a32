"""The walker never counts one thing twice and never opens a special file (issue 13, item 3).

Real trees in tmp_path with real links, FIFOs and sockets; discovery runs on them as on a share.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tests.test_discover import (S1, discover, make_tree, moser, probe, probe_record, run_with_deadline,
                                 where)

S2 = "recordings/25843/2024-03-12_14-02-11"


class TestLinksBackIntoListedFolders:
    def test_link_to_its_own_folder_inside_a_probe_folder_does_not_store_the_probe_twice(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        (root / S1 / "probe_1" / "again").symlink_to(".")  # probe_1/again -> probe_1: the same probe
        [candidate], findings = run_with_deadline(lambda: discover(moser(root)), 10)
        assert candidate.probes == [probe_record("probe_1", "18408403232")]
        assert (where(candidate.findings), findings) == ([("DISCOVER.SYMLINK_LOOP", f"{S1}/probe_1/again")], [])
        assert "'recordings/25843/2024-03-05_10-30-58/probe_1', a folder of this session" in \
            candidate.findings[0].message

    def test_link_to_a_sibling_folder_of_the_same_session_is_not_followed(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        (root / S1 / "probe_1_copy").symlink_to("probe_1")
        [candidate], _ = discover(moser(root))
        assert candidate.probes == [probe_record("probe_1", "18408403232")]
        assert where(candidate.findings) == [("DISCOVER.SYMLINK_LOOP", f"{S1}/probe_1_copy")]

    def test_link_into_another_session_folder_is_not_followed(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232"),
                                           *probe(f"{S2}/probe_1", "18408403541")])
        (root / S1 / "probe_2").symlink_to(root / S2 / "probe_1")
        first, second = discover(moser(root))[0]
        assert [p.serial for p in first.probes] == ["18408403232"]
        assert [p.serial for p in second.probes] == ["18408403541"]
        assert where(first.findings) == [("DISCOVER.SYMLINK_LOOP", f"{S1}/probe_2")]
        assert f"inside or around the session folder '{S2}'" in first.findings[0].message

    def test_two_links_to_one_folder_follow_only_the_first(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe("moved/probe_2", "18408403541"),
                                           *probe(f"{S1}/probe_1", "18408403232")])
        (root / S1 / "a").symlink_to(root / "moved" / "probe_2")
        (root / S1 / "b").symlink_to(root / "moved")  # around the folder already followed through a/
        [candidate], _ = discover(moser(root))
        assert sorted(p.serial for p in candidate.probes) == ["18408403232", "18408403541"]
        assert len(where(candidate.findings)) == 1 and candidate.findings[0].code == "DISCOVER.SYMLINK_LOOP"

    def test_subject_folder_linked_to_another_subject_is_described_once(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        (root / "recordings" / "99999").symlink_to(root / "recordings" / "25843")
        candidates, findings = discover(moser(root))
        assert [c.rel_path for c in candidates] == [S1]
        assert where(findings) == [("DISCOVER.SYMLINK_LOOP", "recordings/99999/2024-03-05_10-30-58")]
        assert f"link to '{S1}'" in findings[0].message


class TestSpecialFiles:
    def test_fifo_meta_is_named_as_a_fifo_not_as_a_missing_meta_and_never_opened(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [(f"{S1}/probe_1/npx.imec.ap.bin", b"\x01" * 3080)])
        os.mkfifo(root / S1 / "probe_1" / "npx.imec.ap.meta")  # opening it would block for ever
        [candidate], findings = run_with_deadline(lambda: discover(moser(root)), 10)
        assert (where(candidate.findings), findings) == (
            [("DISCOVER.SPECIAL_FILE", f"{S1}/probe_1/npx.imec.ap.meta")], [])
        assert "is a FIFO (named pipe)" in candidate.findings[0].message
        assert candidate.findings[0].severity.name == "ERROR"  # the session is stopped, not taken as complete

    def test_fifo_sessions_txt_is_a_finding_not_zero_tasks_in_silence(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        os.mkfifo(root / S1 / "sessions.txt")
        [candidate], _ = run_with_deadline(lambda: discover(moser(root)), 10)
        assert where(candidate.findings) == [("DISCOVER.SPECIAL_FILE", f"{S1}/sessions.txt")]

    def test_socket_is_named_as_a_socket(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        # A socket path is limited to ~107 bytes: bind from inside the folder.
        cwd = os.getcwd()
        os.chdir(root / S1)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind("daq.sock")
                [candidate], _ = discover(moser(root))
        finally:
            os.chdir(cwd)
        assert where(candidate.findings) == [("DISCOVER.SPECIAL_FILE", f"{S1}/daq.sock")]
        assert "is a socket" in candidate.findings[0].message

    def test_a_device_is_named_as_a_device(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        try:  # a copy of /dev/null's device, where a recording's file belongs
            os.mknod(root / S1 / "probe_1" / "npx.imec.lf.bin", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device file needs CAP_MKNOD (root)")
        [candidate], _ = run_with_deadline(lambda: discover(moser(root)), 10)
        assert where(candidate.findings) == [("DISCOVER.SPECIAL_FILE", f"{S1}/probe_1/npx.imec.lf.bin")]
        assert "is a character device" in candidate.findings[0].message
