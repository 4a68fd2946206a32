"""The profile: loading, round trips, one broken key at a time, YAML pitfalls, hashing and match rules."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from mass_ingest.demo import make_demo_campaign
from mass_ingest.errors import ProfileError
from mass_ingest.profile import Approval, Layout, MatchRule, Profile, Project, Share, load_profile

REPO = Path(__file__).resolve().parent.parent
MOSER = REPO / "profiles" / "moser-ephys.yaml"
LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"

# The smallest valid profile; each broken-key case changes one thing in a copy of it.
BASE = {
    "name": "lab",
    "timezone": "Europe/Oslo",
    "shares": [{"name": "N", "root": "/mnt/N", "layouts": [{"template": LAYOUT}]}],
}


def write_yaml(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def profile_error(path: Path) -> str:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return str(info.value)


def changed(**top: object) -> dict:
    data = copy.deepcopy(BASE)
    data.update(top)
    return data


def with_share(**share: object) -> dict:
    data = copy.deepcopy(BASE)
    data["shares"][0].update(share)
    return data


def with_template(template: str) -> dict:
    return with_share(layouts=[{"template": template}])


class TestLoadProfile:
    """load_profile on the profiles that ship with the tool."""

    def test_moser_profile_loads_as_written(self) -> None:
        assert load_profile(MOSER) == Profile(
            name="moser-ephys",
            description="Neuropixels recordings (SpikeGLX) of the Moser lab ephys campaign.",
            timezone="Europe/Oslo",
            shares=[Share(name="N", root="/mnt/N", aliases=["N:/", "//kavli-fs/N"],
                          layouts=[Layout(template=LAYOUT, modality="ephys")], access_timeout_s=20)],
            exclude=MatchRule(subjects=["00000"], paths=["*_old/*", "*/test*"]),
            projects=[Project(name="grid-cells", description="Grid cell recordings in MEC",
                              subjects=["25843", "26018"])],
            approval=Approval(timeout_s=86400),
            not_before=datetime(2015, 1, 1),
        )

    def test_demo_profile_loads_with_both_shares_and_the_pilot_window(self, tmp_path: Path) -> None:
        demo = make_demo_campaign(tmp_path / "demo")
        profile = load_profile(demo.profile_path)
        assert (profile.name, [s.name for s in profile.shares], [Path(s.root) for s in profile.shares]) == (
            "demo-ephys", ["N", "backup"], [demo.shares["N"], demo.shares["backup"]])
        assert profile.projects[1] == Project(
            name="pilot", description="Everything recorded in March 2024, while the rig was being tuned",
            start_after=datetime(2024, 3, 1), start_before=datetime(2024, 4, 1))

    @pytest.mark.parametrize("source", ["moser", "demo"])
    def test_dump_to_yaml_and_load_again_gives_an_equal_profile(self, tmp_path: Path, source: str) -> None:
        path = MOSER if source == "moser" else make_demo_campaign(tmp_path / "demo").profile_path
        profile = load_profile(path)
        again = load_profile(write_yaml(tmp_path, "again.yaml", profile.model_dump(mode="json")))
        assert again == profile
        assert again.content_hash() == profile.content_hash()

    def test_minimal_profile_gets_the_documented_defaults(self, tmp_path: Path) -> None:
        assert load_profile(write_yaml(tmp_path, "min.yaml", BASE)) == Profile(
            name="lab", description="", timezone="Europe/Oslo",
            shares=[Share(name="N", root="/mnt/N", aliases=[], layouts=[Layout(template=LAYOUT, modality="ephys")],
                          access_timeout_s=10.0)],
            exclude=MatchRule(), projects=[], approval=Approval(timeout_s=3600), not_before=datetime(2000, 1, 1))

    def test_root_with_trailing_slash_is_stored_without_it(self, tmp_path: Path) -> None:
        profile = load_profile(write_yaml(tmp_path, "slash.yaml", with_share(root="/mnt/N/")))
        assert profile.shares[0].root == "/mnt/N"


# (case, profile data, the key the message must name, a fragment of the fix it must give)
BROKEN_KEYS = [
    # `share:` instead of `shares:`: the typo is unknown and the real key is then missing.
    ("typo-share", {k: v for k, v in changed(share=BASE["shares"]).items() if k != "shares"},
     "share", "remove it or check its spelling"),
    ("unknown-nested", with_share(layout=LAYOUT), "shares[0].layout", "remove it or check its spelling"),
    ("missing-timezone", {k: v for k, v in BASE.items() if k != "timezone"}, "timezone", "add it"),
    ("bad-timezone", changed(timezone="Europe/Olso"), "timezone", "write one like 'Europe/Oslo'"),
    ("relative-root", with_share(root="mnt/N"), "shares[0].root", "write where this worker mounts the share"),
    ("windows-root", with_share(root="N:\\"), "shares[0].root", "put Windows spellings under aliases"),
    ("unknown-field", with_template("recordings/{animal}/{session_time:%Y-%m-%d}"),
     "shares[0].layouts[0].template", "use ['session_date', 'session_time', 'subject']"),
    ("no-subject", with_template("recordings/{session_time:%Y-%m-%d_%H-%M-%S}"),
     "shares[0].layouts[0].template", "has no {subject} field"),
    ("no-date", with_template("recordings/{subject}"),
     "shares[0].layouts[0].template", "has no {session_time:...} or {session_date:...} field"),
    ("date-without-format", with_template("recordings/{subject}/{session_time}"),
     "shares[0].layouts[0].template", "needs a strftime format, e.g. {session_time:%Y-%m-%d_%H-%M-%S}"),
    ("empty-level", with_template("recordings//{subject}/{session_date:%Y%m%d}"),
     "shares[0].layouts[0].template", "has an empty folder level"),
    ("no-layouts", with_share(layouts=[]), "shares[0].layouts", "at least 1 item"),
    ("bad-modality", with_share(layouts=[{"template": LAYOUT, "modality": "histology"}]),
     "shares[0].layouts[0].modality", "'ephys'"),
    ("unknown-system", with_share(layouts=[{"template": LAYOUT, "systems": ["spikeglx", "openephys"]}]),
     "shares[0].layouts[0].systems", "unknown recording system(s) ['openephys']; choose from"),
    ("bad-share-name", with_share(name="N drive"), "shares[0].name", "should match pattern"),
    ("zero-timeout", changed(approval={"timeout_s": 0}), "approval.timeout_s", "greater than 0"),
    ("unknown-exclude-key", changed(exclude={"subject": ["00000"]}), "exclude.subject", "check its spelling"),
]


class TestBrokenProfile:
    """One key broken at a time: ProfileError names the file, the dotted key and the fix."""

    @pytest.mark.parametrize(("case", "data", "key", "fix"), BROKEN_KEYS, ids=[c[0] for c in BROKEN_KEYS])
    def test_error_names_file_key_and_fix(self, tmp_path: Path, case: str, data: dict, key: str, fix: str) -> None:
        message = profile_error(write_yaml(tmp_path, f"{case}.yaml", data))
        assert re.search(rf"profile {case}\.yaml line \d+: {re.escape(key)} ", message), message
        assert fix in message

    def test_typo_share_reports_the_unknown_key_and_the_missing_one_on_separate_lines(self, tmp_path: Path) -> None:
        data = {"name": "lab", "timezone": "Europe/Oslo", "share": BASE["shares"]}
        assert profile_error(write_yaml(tmp_path, "typo.yaml", data)).splitlines() == [
            "profile typo.yaml line 1: shares Field required (add it)",
            "profile typo.yaml line 3: share is not a key the profile knows (remove it or check its spelling)",
        ]

    def test_duplicate_share_names_are_refused_naming_the_name(self, tmp_path: Path) -> None:
        data = copy.deepcopy(BASE)
        data["shares"].append({**data["shares"][0], "root": "/mnt/M"})
        message = profile_error(write_yaml(tmp_path, "dupes.yaml", data))
        assert message.startswith("profile dupes.yaml line 3: ")
        assert "share names must be unique; ['N'] appear more than once" in message

    def test_duplicate_share_names_error_names_the_shares_key(self, tmp_path: Path) -> None:
        data = copy.deepcopy(BASE)
        data["shares"].append({**data["shares"][0], "root": "/mnt/M"})
        assert "profile dupes.yaml line 3: shares" in profile_error(write_yaml(tmp_path, "dupes.yaml", data))

    def test_invalid_yaml_names_the_file_the_line_and_says_fix_the_syntax(self, tmp_path: Path) -> None:
        message = profile_error(write_text(tmp_path, "syntax.yaml", "name: lab\nshares: [unclosed\ntimezone: x\n"))
        assert message.startswith("profile syntax.yaml: not valid YAML")
        assert "line 3" in message and "fix the syntax at the line shown" in message

    @pytest.mark.parametrize(("case", "text"), [("list", "- name: lab\n- timezone: Europe/Oslo\n"),
                                                ("scalar", "moser-ephys\n"), ("empty", "")])
    def test_top_level_that_is_not_a_mapping_is_refused(self, tmp_path: Path, case: str, text: str) -> None:
        assert profile_error(write_text(tmp_path, f"{case}.yaml", text)) == (
            f"profile {case}.yaml: the top level must be a mapping with keys such as name, timezone and shares")

    def test_missing_file_names_the_path_and_where_profiles_live(self, tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        assert profile_error(missing) == f"profile {missing}: no such file (profiles live in profiles/*.yaml)"

    def test_file_that_is_not_utf8_cannot_be_read(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.yaml"
        path.write_bytes(b"name: lab\ndescription: \xe6\xf8\xe5\n")
        assert profile_error(path).startswith(f"profile {path}: cannot be read")


class TestYamlPitfalls:
    """YAML 1.1 reads `no` as false and `102_1` as 1021; subject ids must stay the text written."""

    def test_unquoted_ids_are_read_exactly_as_written(self, tmp_path: Path) -> None:
        text = yaml.safe_dump(BASE, sort_keys=False) + "exclude:\n  subjects: [no, 102_1, 1e5, 0x1F, 00000, yes]\n"
        profile = load_profile(write_text(tmp_path, "unquoted.yaml", text))
        assert profile.exclude.subjects == ["no", "102_1", "1e5", "0x1F", "00000", "yes"]

    def test_unquoted_project_subjects_are_read_as_written(self, tmp_path: Path) -> None:
        text = yaml.safe_dump(BASE, sort_keys=False) + "projects:\n  - name: p\n    subjects: [25843, '26018']\n"
        assert load_profile(write_text(tmp_path, "project.yaml", text)).projects[0].subjects == ["25843", "26018"]

    def test_numbers_and_dates_written_plainly_still_become_numbers_and_dates(self, tmp_path: Path) -> None:
        text = (yaml.safe_dump(BASE, sort_keys=False)
                + "approval:\n  timeout_s: 600\n  poll_s: 2\nnot_before: 2015-01-01T00:00:00\n")
        profile = load_profile(write_text(tmp_path, "typed.yaml", text))
        assert (profile.approval.timeout_s, profile.approval.poll_s, profile.not_before) == \
            (600, 2, datetime(2015, 1, 1))

    def test_a_non_string_id_given_to_the_model_is_refused_with_a_hint_to_quote_it(self) -> None:
        with pytest.raises(ValidationError, match="subject ids must be strings, but False was read as bool"):
            MatchRule(subjects=[False])

    def test_quoted_ids_stay_the_strings_written(self, tmp_path: Path) -> None:
        text = (yaml.safe_dump(BASE, sort_keys=False)
                + "exclude:\n  subjects: ['no', '102_1', 'f4fab316a8743038', \"00000\", f4fab316a8743039]\n")
        profile = load_profile(write_text(tmp_path, "quoted.yaml", text))
        assert profile.exclude.subjects == ["no", "102_1", "f4fab316a8743038", "00000", "f4fab316a8743039"]


class TestContentHash:
    """content_hash: of the validated model, not of the file text."""

    def test_same_file_loaded_twice_has_the_same_hash(self) -> None:
        first, second = load_profile(MOSER).content_hash(), load_profile(MOSER).content_hash()
        assert first == second and len(first) == 16 and int(first, 16) >= 0

    def test_comments_and_key_order_do_not_change_the_hash(self, tmp_path: Path) -> None:
        reordered = {k: BASE[k] for k in reversed(list(BASE))}
        text = "# a comment\n" + yaml.safe_dump(reordered, sort_keys=False)
        assert load_profile(write_text(tmp_path, "b.yaml", text)).content_hash() == \
            load_profile(write_yaml(tmp_path, "a.yaml", BASE)).content_hash()

    @pytest.mark.parametrize("data", [changed(timezone="Europe/Berlin"), with_share(root="/mnt/M"),
                                      changed(exclude={"subjects": ["00000"]}), changed(description="x")],
                             ids=["timezone", "root", "exclude", "description"])
    def test_changing_one_field_changes_the_hash(self, tmp_path: Path, data: dict) -> None:
        assert load_profile(write_yaml(tmp_path, "changed.yaml", data)).content_hash() != \
            load_profile(write_yaml(tmp_path, "base.yaml", BASE)).content_hash()


class TestWithRoot:
    """with_root: the same profile with one share's root replaced (the --root option)."""

    def test_only_share_gets_the_resolved_root_and_the_original_is_unchanged(self, tmp_path: Path) -> None:
        profile = load_profile(MOSER)
        moved = profile.with_root(str(tmp_path / "x" / ".." / "N"))
        assert moved == profile.model_copy(update={"shares": [profile.shares[0].model_copy(
            update={"root": str(tmp_path / "N")})]})
        assert profile.shares[0].root == "/mnt/N"
        assert moved.content_hash() != profile.content_hash()

    def test_named_share_of_several_is_the_only_one_moved(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        moved = profile.with_root(str(tmp_path / "elsewhere"), "backup")
        assert [s.root for s in moved.shares] == [profile.shares[0].root, str(tmp_path / "elsewhere")]

    def test_several_shares_without_a_name_is_a_profile_error_listing_them(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        with pytest.raises(ProfileError) as info:
            profile.with_root(str(tmp_path))
        assert str(info.value) == ("profile demo-ephys has 2 shares (N, backup) and --root replaces the root of "
                                   "one of them: add --share N or --share backup")

    def test_unknown_share_name_is_a_profile_error(self, tmp_path: Path) -> None:
        with pytest.raises(ProfileError, match="no share named 'X'; its shares are N$"):
            load_profile(MOSER).with_root(str(tmp_path), "X")


class TestSelected:
    """selected: the shares a run works on and the root it replaces (--share, --root; the flows' `shares`)."""

    def test_no_selection_is_the_profile_itself(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        assert profile.selected() == profile and profile.selected([], None) == profile

    def test_named_shares_only_in_the_profiles_order(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        assert [s.name for s in profile.selected(["backup"]).shares] == ["backup"]
        assert profile.selected(["backup", "N", "backup"]) == profile

    def test_root_replaces_the_root_of_the_one_named_share(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        moved = profile.selected(["backup"], str(tmp_path / "copy"))
        assert [(s.name, s.root) for s in moved.shares] == [("backup", str(tmp_path / "copy"))]

    def test_root_with_two_named_shares_says_to_name_one(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        with pytest.raises(ProfileError) as info:
            profile.selected(["N", "backup"], str(tmp_path))
        assert str(info.value) == ("profile demo-ephys: --root replaces the root of one share, but --share names 2 "
                                   "(N, backup); give one --share with --root")

    def test_unknown_share_names_the_profiles_shares(self, tmp_path: Path) -> None:
        profile = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
        with pytest.raises(ProfileError) as info:
            profile.selected(["N", "Q"])
        assert str(info.value) == "profile demo-ephys: no share named 'Q'; its shares are N, backup"


T0 = datetime(2024, 3, 5, 10, 30, 58)
ID0 = "25843/2024-03-05_10-30-58"
REL0 = "recordings/25843/2024-03-05_10-30-58"
MARCH = {"start_after": datetime(2024, 3, 1), "start_before": datetime(2024, 4, 1)}
WINDOW = " between 2024-03-01 00:00:00 and 2024-04-01 00:00:00"


class TestMatchRule:
    """MatchRule.match: any of subjects / sessions / paths, narrowed by the time window; says which part matched."""

    def test_listed_subject_matches_and_names_the_subject(self) -> None:
        assert MatchRule(subjects=["00000", "25843"]).match("25843", ID0, REL0, T0) == "subjects: '25843'"

    def test_unlisted_subject_does_not_match(self) -> None:
        assert MatchRule(subjects=["00000"]).match("25843", ID0, REL0, T0) is None

    def test_subject_match_is_exact_text_not_a_number(self) -> None:
        assert MatchRule(subjects=["1021"]).match("102_1", "102_1/x", "recordings/102_1/x", T0) is None

    def test_session_glob_matches_and_names_the_pattern(self) -> None:
        assert MatchRule(sessions=["26018/*", "25843/2024-03-*"]).match("25843", ID0, REL0, T0) == \
            "sessions: '25843/2024-03-*'"

    def test_path_glob_matches_and_names_the_pattern(self) -> None:
        rel = "recordings_old/25843/2024-03-05_10-30-58"
        assert MatchRule(paths=["*_old/*"]).match("25843", ID0, rel, T0) == "paths: '*_old/*'"

    def test_path_glob_is_case_sensitive(self) -> None:
        assert MatchRule(paths=["*_old/*"]).match("25843", ID0, "recordings_OLD/25843/x", T0) is None

    def test_any_part_suffices_and_the_first_matching_part_is_named(self) -> None:
        rule = MatchRule(subjects=["00000"], sessions=["nope/*"], paths=["recordings/*"])
        assert rule.match("25843", ID0, REL0, T0) == "paths: 'recordings/*'"
        assert MatchRule(subjects=["25843"], paths=["recordings/*"]).match("25843", ID0, REL0, T0) == \
            "subjects: '25843'"

    @pytest.mark.parametrize(("start", "expected"), [
        (datetime(2024, 3, 1), "start" + WINDOW),  # start_after is inclusive
        (T0, "start" + WINDOW),
        (datetime(2024, 3, 31, 23, 59, 59), "start" + WINDOW),
        (datetime(2024, 4, 1), None),  # start_before is exclusive
        (datetime(2024, 2, 29, 23, 59, 59), None),
        (None, None),  # an unknown start is never inside a window
    ])
    def test_time_window_alone_decides(self, start: datetime | None, expected: str | None) -> None:
        assert MatchRule(**MARCH).match("25843", ID0, REL0, start) == expected

    def test_open_ended_window_shows_dots_for_the_missing_end(self) -> None:
        assert MatchRule(start_after=datetime(2024, 3, 1)).match("25843", ID0, REL0, T0) == \
            "start between 2024-03-01 00:00:00 and ..."

    def test_time_window_narrows_a_subject_rule(self) -> None:
        rule = MatchRule(subjects=["25843"], **MARCH)
        assert rule.match("25843", ID0, REL0, T0) == "subjects: '25843'" + WINDOW
        assert rule.match("25843", ID0, REL0, datetime(2024, 4, 9)) is None
        assert rule.match("25843", ID0, REL0, None) is None
        assert rule.match("26018", "26018/x", "recordings/26018/x", T0) is None

    def test_empty_rule_matches_nothing(self) -> None:
        assert MatchRule().match("25843", ID0, REL0, T0) is None

    def test_window_with_a_time_zone_is_refused_at_load_or_matched(self, tmp_path: Path) -> None:
        text = yaml.safe_dump(BASE, sort_keys=False) + "exclude:\n  start_after: 2024-03-01T00:00:00+01:00\n"
        try:
            profile = load_profile(write_text(tmp_path, "aware.yaml", text))
        except ProfileError as exc:
            assert "exclude.start_after" in str(exc)
            return
        assert profile.exclude.match("25843", ID0, REL0, T0) is not None
