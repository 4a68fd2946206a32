"""Tests of mass_ingest.readers.spikeglx on synthetic files and on real SpikeGLX .meta files.

The real files come from SpikeInterface/probeinterface (tests/data/spikeglx/, MIT licence; see
SOURCES.md in the corpus). They stay outside this repository and are found through the
MASS_INGEST_CORPUS environment variable; without it the corpus tests are skipped.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from mass_ingest import spikeglx_writer
from mass_ingest.findings import Finding, Severity
from mass_ingest.readers.spikeglx import SpikeGLXMeta, parse_meta_text, probe_label, read_meta

CORPUS_ENV = "MASS_INGEST_CORPUS"
SKIP_REASON = (f"set {CORPUS_ENV} to ../shared/corpus (a folder holding spikeglx/*.meta) "
               "to run the tests on real SpikeGLX files")


def _spikeglx_dir() -> Path | None:
    root = os.environ.get(CORPUS_ENV)
    folder = Path(root) / "spikeglx" if root else None
    return folder if folder is not None and folder.is_dir() else None


_CORPUS_DIR = _spikeglx_dir()
_CORPUS_FILES = sorted(p.name for p in _CORPUS_DIR.glob("*.meta")) if _CORPUS_DIR else []

# The lab label each corpus file must get (probe per SOURCES.md, label per the lab's table).
EXPECTED_LABELS = {
    "phase3a.imec.ap.meta": "neuropixels 1.0 - 3A",
    "Noise_g0_t0.imec0.ap.meta": "neuropixels 1.0 - 3B",
    "allan-longcol_g0_t0.imec0.ap.meta": "neuropixels 1.0 - 3B",
    "doppio-checkerboard_t0.imec0.ap.meta": "neuropixels 1.0 - 3B",
    "catgt.meta": "neuropixels 1.0 - 3B",
    "NP1_saved_only_subset_of_channels.meta": "neuropixels 1.0 - 3B",
    "non_human_primate_short_linear_probe_type_0.meta": "neuropixels 1.0 - NHP short",
    "non_human_primate_long_staggered.imec0.ap.meta": "neuropixels 1.0 - NHP long",
    "NP-Ultra.meta": "neuropixels ultra",
    "NP1110_2x192_bank4_g0_t0.imec0.ap.meta": "neuropixels ultra - switchable",
    "NP1110_bank0_g0_t0.imec0.ap.meta": "neuropixels ultra - switchable",
    "NP1110_botrow80_g0_t0.imec0.ap.meta": "neuropixels ultra - switchable",
    "NP1110_vstripe_g0_t0.imec0.ap.meta": "neuropixels ultra - switchable",
    "p2_g0_t0.imec0.ap.meta": "neuropixels 2.0 - SS",
    "NP2_4_shanks.imec0.ap.meta": "neuropixels 2.0 - MS",
    "NP2_4_shanks_save_different_electrodes.imec0.ap.meta": "neuropixels 2.0 - MS",
    "NP2_2013_all_channels.imec0.ap.meta": "neuropixels 2.0 - MS",
    "NP2_2013_subset_channels.imec0.ap.meta": "neuropixels 2.0 - MS",
    "NP2020_sample_g0_t0.imec0.ap.meta": "neuropixels 2.0 - quad base",
}


@pytest.fixture(scope="module")
def corpus() -> Path:
    """The corpus's spikeglx/ folder; skips the test when it is not configured."""
    if _CORPUS_DIR is None:
        pytest.skip(SKIP_REASON)
    return _CORPUS_DIR


def read_corpus(corpus: Path, name: str) -> tuple[SpikeGLXMeta | None, list[Finding]]:
    return read_meta(corpus / name, share="corpus", rel_path=f"spikeglx/{name}")


# A small valid file (values from NP2_4_shanks.imec0.ap.meta); tests change one key at a time.
BASE = {
    "imDatPrb_pn": "NP2010", "imDatPrb_type": "24", "imDatPrb_sn": "19122510362", "nSavedChans": "385",
    "imSampRate": "30000", "fileSizeBytes": "23598960", "fileTimeSecs": "1.0216",
    "fileCreateTime": "2021-09-20T14:13:34", "appVersion": "20201103", "typeThis": "imec",
}
BASE_META = SpikeGLXMeta(
    serial="19122510362", part_number="NP2010", type_code=24, probe_type="neuropixels 2.0 - MS",
    n_saved_chans=385, sample_rate=30000.0, file_size_bytes=23598960, file_time_secs=1.0216,
    file_create_time=datetime(2021, 9, 20, 14, 13, 34), app_version="20201103", stream="imec")


def meta_text(**changes: str | None) -> str:
    """BASE as .meta text with CRLF endings, as SpikeGLX writes; a None value drops the key."""
    return spikeglx_writer.meta_text({**BASE, **changes}, newline="\r\n")


def read_text(tmp_path: Path, content: str | bytes) -> tuple[SpikeGLXMeta | None, list[Finding]]:
    path = tmp_path / "rec_g0_t0.imec0.ap.meta"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_meta(path, share="lab", rel_path="mouse1/rec_g0_t0.imec0.ap.meta")


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


class TestParseMetaText:
    def test_value_containing_equals_is_kept_whole(self) -> None:
        text = "catGTCmdline0=<CatGT -dir=/data -run=77 -g=0 -prb_fld>\n"
        assert parse_meta_text(text) == ({"catGTCmdline0": "<CatGT -dir=/data -run=77 -g=0 -prb_fld>"}, [])

    def test_leading_tilde_is_stripped_from_keys(self) -> None:
        assert parse_meta_text("~imroTbl=(24,384)(0 0 0 0 0)\r\n") == ({"imroTbl": "(24,384)(0 0 0 0 0)"}, [])

    def test_blank_lines_are_skipped_and_whitespace_stripped(self) -> None:
        assert parse_meta_text("\r\n  nSavedChans = 385 \r\n\r\n") == ({"nSavedChans": "385"}, [])

    def test_lines_without_equals_are_numbered_from_one_counting_blank_lines(self) -> None:
        assert parse_meta_text("a=1\n\nnot a pair\nb=2\nalso not\n") == ({"a": "1", "b": "2"}, [3, 5])

    def test_ascii_files_are_read_as_bytes_to_the_same_keys_values_and_line_numbers(self) -> None:
        """read_meta's ASCII path (keys compared as bytes) against the general one (every line decoded), on
        lines built from the awkward parts: str.strip()'s ASCII spaces (\x1c-\x1f too), '~', '=' in values,
        repeated keys, blank and malformed lines, wanted names inside other keys and values."""
        import random

        from mass_ingest.readers.spikeglx import _KEYS, _parse_meta_bytes

        rng = random.Random(15)
        spaces = [" ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", ""]
        names = [*sorted(_KEYS), "imroTbl", "fileCreateTimeX", "xnSavedChans", "nSaved Chans", "~", ""]
        for _ in range(3000):
            lines = []
            for _ in range(rng.randint(0, 8)):
                pad = lambda: "".join(rng.choice(spaces) for _ in range(rng.randint(0, 2)))  # noqa: E731
                kind = rng.random()
                if kind < 0.15:
                    lines.append(pad())  # blank, or only spaces
                elif kind < 0.25:
                    lines.append(pad() + rng.choice(names) + pad())  # no '='
                else:
                    key = pad() + rng.choice(["", "~", "~~"]) + rng.choice(names) + pad()
                    lines.append(f"{key}={pad()}{rng.choice(['385', 'a=b', '', rng.choice(names)])}{pad()}")
            data = "\n".join(lines).encode("ascii") + rng.choice([b"", b"\n"])
            everything, malformed = _parse_meta_bytes(data, "utf-8")
            expected = ({k: v for k, v in everything.items() if k in _KEYS}, malformed)
            assert _parse_meta_bytes(data, "utf-8", _KEYS) == expected, data
            assert _parse_meta_bytes(data, "latin-1", _KEYS) == expected, data

    def test_files_as_spikeglx_writes_them_with_one_odd_line_read_as_the_general_parser_reads_them(self) -> None:
        """read_meta's ASCII path against the general parser on whole .meta files as SpikeGLX writes them (a
        channel table, '=' in values), most given one odd line: a repeated key, CRLF, spaces or \x1c around a key
        or '=', a wanted key written ~key (beside the bare one or alone), a blank, space-only or malformed line, a
        non-ASCII value or key (utf-8 and latin-1)."""
        import random

        from mass_ingest.readers.spikeglx import _KEYS, _parse_meta_bytes

        rng = random.Random(16)
        table = "~imroTbl=" + "".join(f"({i} 0 0 500 250 1)" for i in range(384))
        clean = [f"{k}={v}" for k, v in BASE.items()] + ["imDatPrb_pn=NP2010", "typeThis=imec", "userNotes=",
                                                        "catGTCmdline0=<CatGT -dir=/d -run=7>", table]
        odd = [lambda k, v: f"{k}={v}\n{k}=9{v}", lambda k, v: f"{k}={v}\r", lambda k, v: f" {k}={v}",
               lambda k, v: f"{k} = {v} ", lambda k, v: f"\x1c{k}\x1f={v}", lambda k, v: f"~{k}={v}7",
               lambda k, v: f"{k}={v}\n~{k}=x", lambda k, v: f"~{k}={v}\n{k}=y", lambda k, v: f"{k}={v}\n",
               lambda k, v: f"{k}={v}\n  ", lambda k, v: f"{k}{v}", lambda k, v: f"{k}=\u00e9{v}",
               lambda k, v: f"{k}\u00b5={v}", lambda k, v: f"~~{k}={v}", lambda k, v: f"{k}x={v}"]
        untouched = 0
        for _ in range(2000):
            lines = rng.sample(clean, len(clean))
            untouched += 1
            if rng.random() < 0.7:
                untouched -= 1
                index = rng.randrange(len(lines))
                key, _, value = lines[index].partition("=")
                lines[index] = rng.choice(odd)(rng.choice([key, *sorted(_KEYS)]), value)
            text = "\n".join(lines) + rng.choice(["", "\n"])
            for codec in ("utf-8", "latin-1"):
                data = text.encode(codec)
                everything, malformed = _parse_meta_bytes(data, codec)
                expected = ({k: v for k, v in everything.items() if k in _KEYS}, malformed)
                assert _parse_meta_bytes(data, codec, _KEYS) == expected, data
        assert untouched > 400  # clean files were drawn too, not only odd ones


class TestProbeLabel:
    @pytest.mark.parametrize(("part_number", "label"), [
        *[(pn, "neuropixels 1.0 - 3B") for pn in
          ["PRB_1_4_0480_1", "PRB_1_4_0480_1_C", "PRB_1_2_0480_2", "NP1000", "NP1001"]],
        *[(pn, "neuropixels 1.0 - NHP") for pn in ["NP1010", "NP1011", "NP1012", "NP1013"]],
        *[(pn, "neuropixels 1.0 - NHP short") for pn in ["NP1015", "NP1016"]],
        *[(pn, "neuropixels 1.0 - NHP long") for pn in
          ["NP1020", "NP1021", "NP1022", "NP1030", "NP1031", "NP1032"]],
        *[(pn, "neuropixels ultra") for pn in ["NP1100", "NP1120", "NP1121", "NP1122", "NP1123"]],
        ("NP1110", "neuropixels ultra - switchable"),
        *[(pn, "neuropixels 2.0 - SS") for pn in
          ["PRB2_1_2_0640_0", "PRB2_1_4_0480_1", "NP2000", "NP2003", "NP2004"]],
        *[(pn, "neuropixels 2.0 - MS") for pn in ["PRB2_4_2_0640_0", "NP2010", "NP2013", "NP2014"]],
        *[(pn, "neuropixels 2.0 - quad base") for pn in ["NP2020", "NP2021"]],
    ])
    def test_part_number_alone_gives_the_lab_label(self, part_number: str, label: str) -> None:
        assert probe_label(part_number, None) == label

    @pytest.mark.parametrize(("type_code", "label"), [
        (0, "neuropixels 1.0 - 3B"), (21, "neuropixels 2.0 - SS"), (24, "neuropixels 2.0 - MS"),
        (1030, "neuropixels 1.0 - NHP long"), (1100, "neuropixels ultra"),
        (1110, "neuropixels ultra - switchable"), (2013, "neuropixels 2.0 - MS"),
        (2020, "neuropixels 2.0 - quad base"),
    ])
    def test_type_code_is_the_fallback_when_part_number_is_missing_or_unknown(
            self, type_code: int, label: str) -> None:
        assert probe_label(None, type_code) == label
        assert probe_label("NP9999", type_code) == label

    def test_part_number_wins_over_a_conflicting_type_code(self) -> None:
        assert probe_label("NP1030", 21) == "neuropixels 1.0 - NHP long"
        # The NHP short probe reports type 0 (see the corpus file of that name), like a 3B.
        assert probe_label("NP1015", 0) == "neuropixels 1.0 - NHP short"

    def test_unknown_part_and_type_give_none(self) -> None:
        assert probe_label("NP9999", 9999) is None
        assert probe_label(None, None) is None


class TestReadMeta:
    def test_valid_file_gives_the_whole_record_and_no_findings(self, tmp_path: Path) -> None:
        assert read_text(tmp_path, meta_text()) == (BASE_META, [])

    def test_zero_byte_file_gives_exactly_one_empty_finding(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, b"")
        assert meta is None
        assert codes(findings) == ["META.EMPTY"]
        only = findings[0]
        assert (only.severity, only.stage, only.share, only.path) == (
            Severity.ERROR, "discover", "lab", "mouse1/rec_g0_t0.imec0.ap.meta")

    def test_file_of_zero_bytes_left_by_a_crash_counts_as_empty(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, b"\x00" * 4096)
        assert (meta, codes(findings)) == (None, ["META.EMPTY"])

    def test_unreadable_path_gives_unreadable_and_no_meta(self, tmp_path: Path) -> None:
        folder = tmp_path / "a_folder.meta"  # reading a directory raises an OSError
        folder.mkdir()
        meta, findings = read_meta(folder, share="lab", rel_path="a_folder.meta")
        assert (meta, codes(findings)) == (None, ["META.UNREADABLE"])

    @pytest.mark.parametrize("serial", ["0", ""])
    def test_serial_zero_or_blank_is_none_with_no_serial(self, tmp_path: Path, serial: str) -> None:
        meta, findings = read_text(tmp_path, meta_text(imDatPrb_sn=serial))
        assert meta == BASE_META.model_copy(update={"serial": None})
        assert codes(findings) == ["META.NO_SERIAL"]
        assert findings[0].severity == Severity.WARNING

    def test_line_without_equals_is_malformed_naming_the_line_and_meta_is_kept(self, tmp_path: Path) -> None:
        text = meta_text()
        lines = text.split("\r\n")
        lines.insert(2, "this line was cut sho")  # becomes line 3
        meta, findings = read_text(tmp_path, "\r\n".join(lines))
        assert meta == BASE_META
        assert codes(findings) == ["META.MALFORMED"]
        assert "Line(s) 3 " in findings[0].message

    def test_part_number_wins_over_conflicting_type_code(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, meta_text(imDatPrb_pn="NP1030", imDatPrb_type="21"))
        assert meta == BASE_META.model_copy(update={
            "part_number": "NP1030", "type_code": 21, "probe_type": "neuropixels 1.0 - NHP long"})
        assert findings == []

    @pytest.mark.parametrize("value", ["30k", "nan", "inf", "3_0000", "0", "-30000", ""])
    def test_bad_number_gives_bad_value_and_leaves_only_that_field_none(self, tmp_path: Path, value: str) -> None:
        meta, findings = read_text(tmp_path, meta_text(imSampRate=value))
        assert meta == BASE_META.model_copy(update={"sample_rate": None})
        assert codes(findings) == ["META.BAD_VALUE"]
        assert "imSampRate" in findings[0].message

    def test_bad_create_time_gives_bad_value(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, meta_text(fileCreateTime="20/09/2021 14:13"))
        assert meta == BASE_META.model_copy(update={"file_create_time": None})
        assert codes(findings) == ["META.BAD_VALUE"]

    def test_bad_original_create_time_does_not_fall_back_to_catgt_time(self, tmp_path: Path) -> None:
        # CatGT's fileCreateTime is when CatGT ran, so using it would silently date the session wrongly.
        meta, findings = read_text(tmp_path, meta_text(fileCreateTime_original="garbled"))
        assert meta == BASE_META.model_copy(update={"file_create_time": None})
        assert codes(findings) == ["META.BAD_VALUE"]

    def test_unknown_probe_gives_unknown_probe(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, meta_text(imDatPrb_pn="NP9999", imDatPrb_type="9999"))
        assert meta == BASE_META.model_copy(update={"part_number": "NP9999", "type_code": 9999, "probe_type": None})
        assert codes(findings) == ["META.UNKNOWN_PROBE"]
        assert "'NP9999'" in findings[0].message

    def test_latin1_bytes_decode(self, tmp_path: Path) -> None:
        content = meta_text(userNotes="souris n°3, café").encode("latin-1")
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")  # the point of the test: this is not UTF-8
        assert read_text(tmp_path, content) == (BASE_META, [])

    def test_utf8_byte_order_mark_does_not_join_the_first_key(self, tmp_path: Path) -> None:
        assert read_text(tmp_path, b"\xef\xbb\xbf" + meta_text().encode()) == (BASE_META, [])


@pytest.mark.corpus
class TestCorpus:
    """Real files from SpikeInterface/probeinterface tests/data/spikeglx/ (MIT)."""

    def test_label_table_covers_exactly_the_corpus(self, corpus: Path) -> None:
        assert sorted(EXPECTED_LABELS) == _CORPUS_FILES

    @pytest.mark.parametrize("name", _CORPUS_FILES or ["(corpus not configured)"])
    def test_every_file_reads_cleanly(self, corpus: Path, name: str) -> None:
        meta, findings = read_corpus(corpus, name)
        assert [f for f in findings if f.severity >= Severity.ERROR] == []
        assert meta is not None
        assert meta.probe_type is not None
        assert meta.probe_type == EXPECTED_LABELS.get(name, meta.probe_type)
        assert meta.sample_rate is not None and meta.sample_rate > 0
        assert meta.n_saved_chans is not None and meta.n_saved_chans > 0
        assert meta.file_size_bytes is not None and meta.file_size_bytes > 0

    def test_phase3a_serial_comes_from_improbesn_and_gets_the_3a_label(self, corpus: Path) -> None:
        # phase3a.imec.ap.meta, supplied by SpikeInterface/probeinterface: no imDatPrb_* keys at all.
        assert read_corpus(corpus, "phase3a.imec.ap.meta") == (SpikeGLXMeta(
            serial="262720641", part_number=None, type_code=None, probe_type="neuropixels 1.0 - 3A",
            n_saved_chans=385, sample_rate=30000.0, file_size_bytes=4483321920, file_time_secs=194.0832,
            file_create_time=datetime(2018, 10, 18, 0, 54, 51), app_version="20180525", stream="imec"), [])

    def test_nhp_long_staggered_np1030_is_not_a_2_0_probe(self, corpus: Path) -> None:
        # non_human_primate_long_staggered.imec0.ap.meta, SpikeInterface/probeinterface: type 1030 is the
        # 45 mm NHP 1.0 probe, although 1030 looks like a 2.0-era code.
        assert read_corpus(corpus, "non_human_primate_long_staggered.imec0.ap.meta") == (SpikeGLXMeta(
            serial="19445524222", part_number="NP1030", type_code=1030, probe_type="neuropixels 1.0 - NHP long",
            n_saved_chans=385, sample_rate=30000.0, file_size_bytes=10582341000, file_time_secs=458.11,
            file_create_time=datetime(2023, 3, 13, 14, 19, 21), app_version="20230120", stream="imec"), [])

    def test_nhp_short_reports_type_0_but_is_labelled_by_part_number(self, corpus: Path) -> None:
        # non_human_primate_short_linear_probe_type_0.meta, SpikeInterface/probeinterface.
        meta, findings = read_corpus(corpus, "non_human_primate_short_linear_probe_type_0.meta")
        assert (meta.part_number, meta.type_code, meta.probe_type, findings) == (
            "NP1015", 0, "neuropixels 1.0 - NHP short", [])

    def test_np_ultra(self, corpus: Path) -> None:
        # NP-Ultra.meta, SpikeInterface/probeinterface.
        assert read_corpus(corpus, "NP-Ultra.meta") == (SpikeGLXMeta(
            serial="20088315201", part_number="NP1100", type_code=1100, probe_type="neuropixels ultra",
            n_saved_chans=385, sample_rate=30000.0, file_size_bytes=104697424370,
            file_time_secs=4532.3560333333335, file_create_time=datetime(2021, 11, 30, 16, 10, 26),
            app_version="20201024", stream="imec"), [])

    def test_np2_four_shanks_is_multi_shank(self, corpus: Path) -> None:
        # NP2_4_shanks.imec0.ap.meta, SpikeInterface/probeinterface: part NP2010, type 24.
        assert read_corpus(corpus, "NP2_4_shanks.imec0.ap.meta") == (BASE_META, [])

    def test_p2_is_single_shank(self, corpus: Path) -> None:
        # p2_g0_t0.imec0.ap.meta, SpikeInterface/probeinterface: early 2.0 part number, type 21.
        assert read_corpus(corpus, "p2_g0_t0.imec0.ap.meta") == (SpikeGLXMeta(
            serial="19011116954", part_number="PRB2_1_2_0640_0", type_code=21, probe_type="neuropixels 2.0 - SS",
            n_saved_chans=385, sample_rate=30000.0, file_size_bytes=45205648180,
            file_time_secs=1956.9544666666666, file_create_time=datetime(2019, 9, 27, 16, 4, 32),
            app_version="20190911", stream="imec"), [])

    def test_np2013_files_share_one_serial(self, corpus: Path) -> None:
        # NP2_2013_*.imec0.ap.meta, SpikeInterface/probeinterface: two recordings of one probe.
        metas = [read_corpus(corpus, f"NP2_2013_{kind}_channels.imec0.ap.meta")[0] for kind in ("all", "subset")]
        assert [(m.serial, m.part_number, m.type_code, m.probe_type, m.n_saved_chans) for m in metas] == [
            ("12345601012", "NP2013", 2013, "neuropixels 2.0 - MS", 385),
            ("12345601012", "NP2013", 2013, "neuropixels 2.0 - MS", 121)]

    def test_catgt_meta_prefers_file_create_time_original(self, corpus: Path) -> None:
        # catgt.meta, SpikeInterface/probeinterface: CatGT set fileCreateTime=2023-06-05T17:20:39 (its own
        # run) and kept the recording's start in fileCreateTime_original=2023-04-27T15:21:38.
        assert read_corpus(corpus, "catgt.meta") == (SpikeGLXMeta(
            serial="19454409771", part_number="PRB_1_4_0480_1_C", type_code=0, probe_type="neuropixels 1.0 - 3B",
            n_saved_chans=385, sample_rate=30000.149579831934, file_size_bytes=98624725430,
            file_time_secs=4269.447345892785, file_create_time=datetime(2023, 4, 27, 15, 21, 38),
            app_version="20230120", stream="imec"), [])

    def test_np2020_is_quad_base(self, corpus: Path) -> None:
        # NP2020_sample_g0_t0.imec0.ap.meta, SpikeInterface/probeinterface: 4 x 384 channels + 4 sync = 1540.
        assert read_corpus(corpus, "NP2020_sample_g0_t0.imec0.ap.meta") == (SpikeGLXMeta(
            serial="22053118151", part_number="NP2020", type_code=2020, probe_type="neuropixels 2.0 - quad base",
            n_saved_chans=1540, sample_rate=30000.0, file_size_bytes=858091080, file_time_secs=9.2867,
            file_create_time=datetime(2026, 5, 6, 22, 5, 9), app_version="20260115", stream="imec"), [])

    def test_np1110_files_share_one_serial(self, corpus: Path) -> None:
        # NP1110_*_g0_t0.imec0.ap.meta, SpikeInterface/probeinterface: four recordings of one switchable probe.
        metas = [read_corpus(corpus, name)[0] for name in _CORPUS_FILES if name.startswith("NP1110_")]
        assert {(m.serial, m.part_number, m.type_code, m.probe_type) for m in metas} == {
            ("21144116901", "NP1110", 1110, "neuropixels ultra - switchable")}
        assert len(metas) == 4


class TestWrittenMeta:
    """The demo's, the benchmarks' and the tests' .meta files come from one writer; the reader reads them back."""

    @pytest.mark.parametrize("kind", sorted(spikeglx_writer.PROBE_KINDS))
    def test_an_acquisition_meta_reads_back_as_its_probe(self, tmp_path: Path, kind: str) -> None:
        text = spikeglx_writer.acquisition_meta(subject="s1", session="2024-01-01_10-00-00", probe=1, stream="ap",
                                                serial="18408403232", created=datetime(2024, 1, 1, 10, 0, 9),
                                                n_samples=60000, first_sample=7, kind=kind)
        meta, findings = read_text(tmp_path, text)
        assert findings == []
        assert (meta.serial, meta.probe_type, meta.n_saved_chans, meta.sample_rate, meta.file_size_bytes,
                meta.file_time_secs, meta.file_create_time) == (
            "18408403232", spikeglx_writer.PROBE_KINDS[kind].label, 385, 30000.0, 60000 * 770, 2.0,
            datetime(2024, 1, 1, 10, 0, 9))

    def test_a_probe_meta_reads_back_with_the_size_it_announces(self, tmp_path: Path) -> None:
        meta, findings = read_text(tmp_path, spikeglx_writer.probe_meta("18301", 3080, datetime(2024, 1, 1, 10)))
        assert findings == []
        assert (meta.serial, meta.probe_type, meta.file_size_bytes, meta.file_time_secs) == (
            "18301", "neuropixels 1.0 - 3B", 3080, 0.000133333333)  # four samples, to 9 significant digits
