"""A chunk's rows built column by column in polars are the rows the session-by-session builder makes.

``tasks.insert._new_session_rows`` explodes the frame's list columns (probes, outputs, projects) instead of
turning each session's lists into Python objects; every table must get the same rows, values and key order
as :func:`tasks.insert._parts` gives session by session, on sessions with every kind of part and none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from mass_ingest.candidates import Output, ProbeRecording, candidates_to_frame
from mass_ingest.probe_association import ProbeIndex
from tasks.insert import TABLES, InsertOptions, _new_session_rows, _parts
from tests.test_insert import MAPPED, SN1, SN2, T1, candidate, subjects_and_probes  # noqa: F401 - a fixture
from tests.test_session_parts import ephys_with_tracking, imaging

pytestmark = [pytest.mark.backends, pytest.mark.usefixtures("clean_database")]


def session_by_session(frame: pl.DataFrame, timezone: str, ingest_id: str, probes: ProbeIndex,
                       options: InsertOptions) -> dict[str, list[dict]]:
    """The rows as insertion built them before: a Python row per session, its parts one by one."""
    rows = {name: [] for name in TABLES}
    for row in frame.iter_rows(named=True):
        key = {"subject": row["subject"], "session_start": row["session_start"]}
        rows["Session"].append({**key, "timezone": timezone, "modality": row["modality"], "ingest_id": ingest_id})
        rows["Directory"].append({**key, "share": row["share"], "rel_path": row["rel_path"],
                                  "location": row["location"], "session_group": row["group"],
                                  "location_hash": row["candidate_id"]})
        _parts(row, key, ingest_id, probes, options, into=rows)
    return rows


def every_kind_of_session() -> list:
    found = [imaging(), imaging("23457", T1 + timedelta(days=40)), ephys_with_tracking()]
    found[-1].session_start = T1 + timedelta(days=50)
    found[-1].rel_path = found[-1].location = "recordings/25843/tracking"
    for day in range(1, 9):
        c = candidate(T1 + timedelta(days=day), probes={"probe_1": SN1, "probe_2": SN2, "": None} if day % 2 else {},
                      outputs=[("kilosort", "probe_1/ks", True), ("curation", "probe_1/ks/cur", True),
                               ("kilosort", "probe_2/ks", day % 3 == 0), ("dlc", "dlc1", True, ["a.pickle", "b.h5"])]
                      if day % 3 else [],
                      tasks=[("sleep", 0, "SLEEP"), ("open field", 300.5, "")] if day % 4 in (0, 1) else [],
                      projects=["grid-cells", "speed"][: day % 3])
        if day % 2:
            c.probes[0].bin_size = 10                      # a .bin beside the .meta, by its name
            c.probes[1].bin_file = "probe_2/other.ap.bin"  # a .bin named by discovery
            c.probes[1].file_create_time = datetime(2024, 1, 2, 3, 4, 5)
            c.probes[1].sample_rate = float("nan")
        c.outputs = [o.model_copy(update={"recording": "probe_1"}) if o.kind == "curation" else o for o in c.outputs]
        c.experimenter = "Ada" if day == 5 else ("" if day == 6 else None)
        c.start_inferred, c.start_source = day == 7, "the .meta of probe_1" if day == 7 else ""
        found.append(c)
    found[-1].outputs.append(Output(kind="suite2p", path="s2p", files=[], preferred=True))
    found[-2].probes.append(ProbeRecording(folder="probe_3", meta_file="x.meta", serial="unknown"))
    return found


@pytest.mark.parametrize("mapping", [{}, {"25843": {"probe_2": MAPPED, "": MAPPED}}])
def test_the_rows_of_every_table_are_those_built_session_by_session(mapping: dict) -> None:
    frame = candidates_to_frame(every_kind_of_session())  # the candidate columns insertion reads
    options = InsertOptions(probe_association=mapping)
    probes = ProbeIndex.fetch(set(frame["subject"]))
    built = _new_session_rows(frame, "Europe/Oslo", "run-1", probes, options)
    expected = session_by_session(frame, "Europe/Oslo", "run-1", probes, options)
    for name in TABLES:
        # repr: the same keys in the same order, the same values and types (NaN included)
        assert [repr(list(r.items())) for r in built[name]] == [repr(list(r.items())) for r in expected[name]], name
    assert {r["stop_s"] for r in built["Task"]} >= {None, 300.5, 600.0}  # ends: the next task, the recording, none
    assert all(built[name] for name in ("Recording", "ProbeFiles", "ProbeAssociation", "Output", "Clustering",
                                        "SystemRecording", "InferredStart", "Experimenter", "Task", "Membership"))
    # An empty index associates nothing, and an empty chunk makes no rows.
    assert _new_session_rows(frame, "Europe/Oslo", "run-1", ProbeIndex(), options)["ProbeAssociation"] == []
    assert all(rows == [] for rows in _new_session_rows(frame.clear(), "Europe/Oslo", "run-1", probes,
                                                        options).values())
