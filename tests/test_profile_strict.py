"""The profile loader refuses ambiguity (issue 13, item 5): each refusal names the file, the line and the fix.

Every case is a real file written to tmp_path and read by load_profile, as the command line reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mass_ingest.errors import ProfileError
from mass_ingest.profile import load_profile

GOOD = """\
name: lab
timezone: Europe/Oslo
shares:
  - name: N
    root: /mnt/N
    layouts:
      - template: "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
exclude:
  subjects: ['00000']
"""


def refused(tmp_path: Path, text: str, name: str = "lab.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return str(info.value)


def with_template(template: str) -> str:
    return GOOD.replace("recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", template)


class TestDuplicateKeys:
    def test_exclude_written_twice_is_refused_naming_both_lines(self, tmp_path: Path) -> None:
        message = refused(tmp_path, GOOD + "projects: []\nexclude:\n  subjects: ['99999']\n")
        assert message.startswith("profile lab.yaml line 11: key 'exclude' appears twice in the top level "
                                  "(lines 8 and 11)")
        assert "merge the two into one" in message

    def test_a_nested_duplicate_is_refused_with_its_place(self, tmp_path: Path) -> None:
        message = refused(tmp_path, GOOD.replace("    root: /mnt/N\n", "    root: /mnt/N\n    root: /mnt/M\n"))
        assert message.startswith("profile lab.yaml line 6: key 'root' appears twice in shares.0 (lines 5 and 6)")
        assert message.endswith("merge the two into one")

    def test_a_duplicate_inside_a_flow_mapping_is_refused_too(self, tmp_path: Path) -> None:
        message = refused(tmp_path, GOOD + "approval: {timeout_s: 60, timeout_s: 90}\n")
        assert message.startswith("profile lab.yaml line 10: key 'timeout_s' appears twice in approval (line 10)")
        assert message.endswith("merge the two into one")

    def test_a_merge_key_overridden_on_purpose_is_not_a_duplicate(self, tmp_path: Path) -> None:
        text = GOOD + "approval: &a {timeout_s: 60, poll_s: 5}\nquality:\n  settle_s: 1\n"
        path = tmp_path / "lab.yaml"
        path.write_text(text.replace("approval: &a", "x_unused: &a").replace("quality:", "approval:\n  <<: *a\n"
                                                                               "  timeout_s: 90\nquality:"))
        # x_unused is an unknown key: refused by the model, not by the reader, and with its own line.
        with pytest.raises(ProfileError, match=r"line 10: x_unused is not a key the profile knows"):
            load_profile(path)


class TestTemplatesThatCannotMatch:
    @pytest.mark.parametrize(("case", "template", "says"), [
        ("dotdot", "../recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", "'..' can never match"),
        ("dot", "recordings/./{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", "'.' can never match"),
        ("absolute", "/mnt/N/recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", "is an absolute path"),
        ("windows", "N:\\\\recordings\\\\{subject}\\\\{session_time:%Y-%m-%d_%H-%M-%S}", "is an absolute path"),
        ("directive", "recordings/{subject}/{session_time:%Y-%m-%d_%H-%Q}", "%Q is not a strftime directive"),
        ("lone-percent", "recordings/{subject}/{session_time:%Y-%m-%d_%}", "a lone '%' at the end"),
        ("open-brace", "recordings/{subject/{session_time:%Y-%m-%d_%H-%M-%S}", "unbalanced braces"),
        ("close-brace", "recordings/subject}/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", "unbalanced braces"),
    ])
    def test_refused_with_line_and_fix(self, tmp_path: Path, case: str, template: str, says: str) -> None:
        message = refused(tmp_path, with_template(template), f"{case}.yaml")
        assert message.startswith(f"profile {case}.yaml line 7: shares[0].layouts[0].template "), message
        assert says in message
        fixes = {"write the path from the root down", "put where the share is mounted under root",
                 "use %Y %m %d %H %M %S", "each field is written {name} or {name:format}"}
        assert [fix for fix in fixes if fix in message], message


class TestLimits:
    def test_a_20000_deep_list_is_refused_without_a_recursion_error(self, tmp_path: Path) -> None:
        message = refused(tmp_path, GOOD + "description: " + "[" * 20000 + "]" * 20000 + "\n")
        assert message.startswith("profile lab.yaml line 10: nests deeper than 32 levels")

    def test_a_20000_deep_block_list_is_refused_too(self, tmp_path: Path) -> None:
        deep = "".join(" " * (2 * i) + "-\n" for i in range(40)) + " " * 80 + "x\n"
        message = refused(tmp_path, GOOD + "description:\n" + deep)
        assert "nests deeper than 32 levels" in message and "line " in message

    def test_alias_bomb_is_refused(self, tmp_path: Path) -> None:
        lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 15)]
        message = refused(tmp_path, GOOD + "\n".join(lines) + "\n")
        assert "more than 100 aliases" in message

    def test_a_file_over_a_megabyte_is_refused(self, tmp_path: Path) -> None:
        message = refused(tmp_path, GOOD + "description: '" + "x" * 1_100_000 + "'\n")
        assert message.startswith(f"profile {tmp_path / 'lab.yaml'}: is 1,100,2") and "it may have" in message

    def test_a_fifo_is_refused_without_being_opened(self, tmp_path: Path) -> None:
        path = tmp_path / "fifo.yaml"
        os.mkfifo(path)
        with pytest.raises(ProfileError, match="is not a regular file \\(a FIFO\\)"):
            load_profile(path)

    def test_the_good_profile_still_loads(self, tmp_path: Path) -> None:
        path = tmp_path / "lab.yaml"
        path.write_text(GOOD)
        assert load_profile(path).exclude.subjects == ["00000"]
