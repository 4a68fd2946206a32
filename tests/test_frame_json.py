"""`discover --json` straight from the frame: the same objects the models' JSON gives, without the models."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

from mass_ingest.candidates import ProbeRecording, SessionCandidate, candidates_to_frame, frame_to_candidates
from mass_ingest.demo import make_demo_campaign
from mass_ingest.findings import finding
from mass_ingest.frame_json import candidate_rows, write_document
from mass_ingest.profile import load_profile
from tasks.discover import discover_share
from tests.test_discover import MOSER
from tests.test_discover_parallel import IMAGING, messy_ephys_share, messy_imaging_share


def through_models(frames) -> list[dict]:
    return [{"session_id": c.session_id, **c.model_dump(mode="json")} for f in frames for c in frame_to_candidates(f)]


def streamed(frames, head: dict | None = None) -> dict:
    out = io.StringIO()
    write_document(out, {"profile": "p", "shares": [{"share": "N"}]} if head is None else head, "candidates",
                   [candidate_rows(f) for f in frames])
    return json.loads(out.getvalue())


def test_discovered_frames_read_as_the_models_write_them(tmp_path: Path) -> None:
    demo = load_profile(make_demo_campaign(tmp_path / "demo").profile_path)
    messy_ephys_share(tmp_path / "N", tmp_path / "elsewhere")
    messy_imaging_share(tmp_path / "I")
    frames = [discover_share(demo, s.name)[0] for s in demo.shares]
    frames.append(discover_share(load_profile(MOSER).with_root(str(tmp_path / "N")), "N")[0])
    frames.append(discover_share(load_profile(IMAGING).with_root(str(tmp_path / "I")), "I")[0])
    document = streamed(frames)
    assert document["profile"] == "p" and document["shares"] == [{"share": "N"}]
    assert document["candidates"] == through_models(frames)
    assert len(document["candidates"]) > 90
    assert any(c["findings"] for c in document["candidates"]) and any(c["probes"] for c in document["candidates"])


def test_times_with_microseconds_nulls_and_empty_parts() -> None:
    odd = SessionCandidate(
        share="N", rel_path="s", location="/n/s", subject="m\"1\n", session_start=datetime(2024, 1, 2, 3, 4, 5, 60),
        probes=[ProbeRecording(folder="p", meta_file="p/x.meta", file_create_time=datetime(2024, 1, 2, 3, 4, 5, 123456)),
                ProbeRecording(folder="q", meta_file="q/x.meta")],
        findings=[finding("DISCOVER.BAD_DATE", stage="discover", share="N", path="s", message="ünïcode \t tab")])
    bare = SessionCandidate(share="N", rel_path="t", location="/n/t", subject="m2")
    frames = [candidates_to_frame([odd, bare]), candidates_to_frame([])]
    assert streamed(frames)["candidates"] == through_models(frames)
    assert streamed([candidates_to_frame([])], head={}) == {"candidates": []}


def test_discover_command_streams_the_same_candidates_without_importing_prefect(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    campaign = make_demo_campaign(tmp_path / "demo")
    code = ("import runpy, sys\n"
            "sys.argv = ['mass-ingest', 'discover', sys.argv[1], '--json']\n"
            "try:\n    runpy.run_module('mass_ingest.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'great_expectations', 'datajoint'})\n"
            "print('imported:', heavy, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, str(campaign.profile_path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "MASS_INGEST_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "imported: []" in done.stderr
    document = json.loads(done.stdout)
    profile = load_profile(campaign.profile_path)
    assert [s["share"] for s in document["shares"]] == [s.name for s in profile.shares]
    assert document["candidates"] == through_models([discover_share(profile, s.name)[0] for s in profile.shares])


def test_a_document_on_standard_output_is_written_as_polars_bytes_the_same(monkeypatch) -> None:
    """On a UTF-8 standard output the rows go to its byte stream as polars wrote them: the same document,
    non-ASCII text and escaped newlines included, as through the text layer."""
    import sys

    import polars as pl

    frame = pl.DataFrame({"name": ["Ødegård", "a\nb", "plain"], "n": [1, 2, None]})
    parts = [frame, frame.clear(), frame.head(1)]
    as_text = io.StringIO()
    write_document(as_text, {"profile": "p", "shares": []}, "candidates", parts)
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    monkeypatch.setattr(sys, "stdout", stdout)
    write_document(stdout, {"profile": "p", "shares": []}, "candidates", parts)
    stdout.flush()
    assert raw.getvalue().decode("utf-8") == as_text.getvalue()
    assert json.loads(as_text.getvalue())["candidates"][1] == {"name": "a\nb", "n": 2}
