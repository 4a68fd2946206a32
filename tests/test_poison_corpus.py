"""No input can poison an ingest (issue 13, "done when"): one `run --approve` over a share holding every odd
folder the issue names, beside good sessions, completes; every good session goes in, each bad one is
quarantined with its named finding, no probe is stored twice, and a second run completes inserting 0.

The real command line in a child process, on real files (tests/poison_corpus.py), the embedded database
and the session's Prefect server. Set MASS_INGEST_POISON_TABLE=path.md to also write the outcome table.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from mass_ingest.db import schema
from mass_ingest.subjects import import_subjects_csv
from tests.e2e import cli, json_out
from tests.poison_corpus import build
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]


def test_one_run_inserts_every_good_session_and_quarantines_each_bad_one_with_its_finding(tmp_path: Path) -> None:
    campaign, cases = build(tmp_path / "campaign")
    import_subjects_csv(campaign.subjects_csv)

    first = cli("run", str(campaign.profile_path), "--approve", "--json", timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    counts = json_out(first.stdout)

    good = {(c.rel_path.split("/")[1], datetime.strptime(c.rel_path.rsplit("/", 1)[1], "%Y-%m-%d_%H-%M-%S"))
            for c in cases if c.inserted}
    assert sessions_in_db() == GOOD_SESSIONS | good
    assert counts["inserted"] == counts["inserted_by_this_run"] == len(GOOD_SESSIONS | good)

    quarantine = {r["rel_path"]: r for r in (schema.Quarantine & {"ingest_id": counts["ingest_id"]}).to_dicts()}
    directories = {r["rel_path"]: r for r in schema.Session.Directory.to_dicts()}
    rows = []
    for case in cases:
        if case.inserted:
            assert case.rel_path in directories and case.rel_path not in quarantine, case.name
            key = {k: directories[case.rel_path][k] for k in ("subject", "session_start")}
            recordings = (schema.Session.Recording & key).to_dicts()
            assert [r["recording"] for r in recordings] == ["probe_1"], (case.name, recordings)  # stored once
            outcome = "inserted, probe stored once"
        else:
            stored = [r for p, r in quarantine.items() if p == case.rel_path or p.startswith(case.rel_path[:900])]
            assert stored and case.rel_path not in directories, (case.name, sorted(quarantine))
            reasons = " | ".join(stored[0]["reasons"])
            for words in case.words:
                assert words in reasons, (case.name, reasons)
            outcome = "quarantined"
        rows.append(f"| {case.name} | {case.code} | {outcome} |")
    # The 200-character subject's session id is longer than the list's column: kept, shortened, said so.
    [long_one] = [r for r in quarantine.values() if r["rel_path"].startswith("recordings/sss")]
    assert long_one["session_id"].endswith("…") and any(r.startswith("QUARANTINE: session_id has")
                                                         for r in long_one["reasons"])
    # No probe stored twice anywhere: each (serial, session) once.
    recordings = schema.Session.Recording.to_dicts()
    assert len({(r["subject"], r["session_start"], r["meta_file"]) for r in recordings}) == len(recordings)

    second = cli("run", str(campaign.profile_path), "--approve", "--json", timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert json_out(second.stdout)["inserted"] == 0
    assert sessions_in_db() == GOOD_SESSIONS | good

    table = "| case | finding code | outcome |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    if os.environ.get("MASS_INGEST_POISON_TABLE"):
        Path(os.environ["MASS_INGEST_POISON_TABLE"]).write_text(table)
    print("\n" + table)
