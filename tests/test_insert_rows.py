"""A chunk's rows built column by column in polars are the rows the session-by-session builder made.

:mod:`mass_ingest.session_rows` explodes the frame's list columns (probes, outputs, projects) instead of
turning each session's lists into Python objects; every table must get the same rows, values and key order
as the session-by-session builder insertion used before (kept here as the oracle, :func:`session_parts`), on
sessions with every kind of part and none, new ones and known ones with new parts (late data).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from mass_ingest.candidates import Output, ProbeRecording, candidates_to_frame
from mass_ingest.probe_association import ProbeIndex
from mass_ingest.db.session_parts import (experimenter_rows, inferred_start_rows, probe_file_rows,
                                          system_recording_rows)
from mass_ingest.session_rows import TABLES, InsertOptions, new_session_rows, output_rows, tasks_of, update_rows
from tests.test_insert import MAPPED, SN1, SN2, T1, candidate, subjects_and_probes  # noqa: F401 - a fixture
from tests.test_session_parts import ephys_with_tracking, imaging

pytestmark = [pytest.mark.backends, pytest.mark.usefixtures("clean_database")]


def session_parts(row: dict, key: dict, ingest_id: str, probes: ProbeIndex, options: InsertOptions,
                  new_parts: list[str] | None, rows: dict[str, list[dict]]) -> None:
    """The oracle: one session's rows per part table, added to ``rows``; with ``new_parts``, only those."""
    new_probes = {p.split(" ", 1)[1] for p in new_parts or [] if p.startswith("probe ")}
    new_outputs = {p.split(" ", 2)[2] for p in new_parts or [] if p.startswith("output ")}
    for probe in row["probes"]:
        name = probe["folder"] or "."
        if new_parts is not None and name not in new_probes:
            continue
        recording = {**key, "recording": name}
        rows["Recording"].append({**recording, "meta_file": probe["meta_file"],
                                  **{k: probe[k] for k in ("serial", "probe_type", "part_number", "n_saved_chans",
                                                           "sample_rate", "file_size_bytes", "file_time_secs",
                                                           "file_create_time")}})
        rows["ProbeFiles"] += probe_file_rows(recording, probe)
        if new_parts is not None:
            rows["AddedRecording"].append({**recording, "ingest_id": ingest_id})
        found = probes.associate(key["subject"], name, probe["serial"], options.probe_association)
        if found.probe:
            rows["ProbeAssociation"].append({**recording, "probe": found.probe, "decided_by": found.decided_by,
                                             "ingest_id": ingest_id})
    outputs = row["outputs"] if new_parts is None else [o for o in row["outputs"] if o["path"] in new_outputs]
    if outputs:
        made, clusterings = output_rows(outputs, key, ingest_id)
        rows["Output"] += made
        rows["Clustering"] += clusterings
    if new_parts is None:
        if row["recordings"]:
            rows["SystemRecording"] += system_recording_rows(row["recordings"], key, ingest_id)
        rows["InferredStart"] += inferred_start_rows(row, key)
        rows["Experimenter"] += experimenter_rows(row, key)
        if row["task_hints"]:
            lengths = [p["file_time_secs"] for p in row["probes"] if p["file_time_secs"] is not None]
            rows["Task"] += tasks_of(row["task_hints"], lengths, key, ingest_id)
        rows["Membership"] += [{**key, "project": p} for p in row["projects"]]


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
        session_parts(row, key, ingest_id, probes, options, None, rows)
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
    built = new_session_rows(frame, "Europe/Oslo", "run-1", probes, options)
    expected = session_by_session(frame, "Europe/Oslo", "run-1", probes, options)
    for name in TABLES:
        # repr: the same keys in the same order, the same values and types (NaN included)
        assert [repr(list(r.items())) for r in built[name]] == [repr(list(r.items())) for r in expected[name]], name
    assert {r["stop_s"] for r in built["Task"]} >= {None, 300.5, 600.0}  # ends: the next task, the recording, none
    assert all(built[name] for name in ("Recording", "ProbeFiles", "ProbeAssociation", "Output", "Clustering",
                                        "SystemRecording", "InferredStart", "Experimenter", "Task", "Membership"))
    # An empty index associates nothing, and an empty chunk makes no rows.
    assert new_session_rows(frame, "Europe/Oslo", "run-1", ProbeIndex(), options)["ProbeAssociation"] == []
    assert all(rows == [] for rows in new_session_rows(frame.clear(), "Europe/Oslo", "run-1", probes,
                                                        options).values())


def with_new_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """The sessions as known ones with late data: each names some of its probes and outputs as new (one names a
    probe folder it does not have, one names nothing)."""
    named = []
    for i, row in enumerate(frame.iter_rows(named=True)):
        probes = [f"probe {p['folder'] or '.'}" for p in row["probes"]][i % 2:]
        outputs = [f"output {o['kind']} {o['path']}" for o in row["outputs"]][: 1 + i % 3]
        named.append([] if i == 3 else probes + outputs + (["probe probe_9"] if i == 4 else []))
    return frame.with_columns(pl.Series("new_parts", named, dtype=pl.List(pl.String)))


def everything_of(frame: pl.DataFrame, probes: ProbeIndex, options: InsertOptions) -> dict[str, list[dict]]:
    return update_rows(frame, "run-2", probes, options)


@pytest.mark.parametrize("mapping", [{}, {"25843": {"probe_2": MAPPED, "": MAPPED}}])
def test_the_new_parts_of_known_sessions_are_those_built_session_by_session(mapping: dict) -> None:
    frame = with_new_parts(candidates_to_frame(every_kind_of_session()))
    options = InsertOptions(probe_association=mapping)
    probes = ProbeIndex.fetch(set(frame["subject"]))
    sessions = list(zip(frame["subject"], frame["session_start"]))
    gone = sessions[2]  # undone since dedup: nothing is added to it
    stored = set(sessions) - {gone}
    # A probe and an output of a session stored meanwhile (by another run): left out.
    first = next(r for r in frame.iter_rows(named=True)
                 if "probe probe_2" in r["new_parts"] and any(p.startswith("output ") for p in r["new_parts"]))
    stored.add((first["subject"], first["session_start"], "probe_2"))
    output = next(p for p in first["new_parts"] if p.startswith("output "))
    stored_outputs = {(first["subject"], first["session_start"], output.split(" ", 2)[2])}

    expected = {name: [] for name in TABLES}
    for row in frame.iter_rows(named=True):
        key = {"subject": row["subject"], "session_start": row["session_start"]}
        if (row["subject"], row["session_start"]) == gone:
            continue
        parts = {name: [] for name in TABLES}
        session_parts(row, key, "run-2", probes, options, row["new_parts"], parts)
        fresh = {r["recording"] for r in parts["Recording"]
                 if (r["subject"], r["session_start"], r["recording"]) not in stored}
        for name in TABLES:
            expected[name] += [r for r in parts[name]
                               if (name not in ("Recording", "ProbeFiles", "AddedRecording", "ProbeAssociation")
                                   or r["recording"] in fresh)
                               and (name not in ("Output", "Clustering")
                                    or (r["subject"], r["session_start"], r["output_path"]) not in stored_outputs)]
    built = update_rows(frame, "run-2", probes, options, stored, stored_outputs)
    for name in TABLES:
        assert [repr(list(r.items())) for r in built[name]] == [repr(list(r.items())) for r in expected[name]], name
    assert built["Recording"] and built["AddedRecording"] and built["Output"] and built["Clustering"]
    assert len(built["AddedRecording"]) == len(built["Recording"])
    left_out = [r for r in everything_of(frame, probes, options)["Recording"] if r["subject"] == first["subject"]
                and r["session_start"] == first["session_start"] and r["recording"] == "probe_2"]
    assert left_out and not [r for r in built["Recording"] if r in left_out]  # the one stored meanwhile
    assert all(r["subject"] != gone[0] or r["session_start"] != gone[1] for rs in built.values() for r in rs)
    assert not any(built[name] for name in ("Session", "Directory", "SystemRecording", "Task", "Membership"))
    # Without what is stored (the schema check before the transaction), every named part is made.
    everything = everything_of(frame, probes, options)
    assert len(everything["Recording"]) > len(built["Recording"])
    assert len(everything["Output"]) > len(built["Output"])
