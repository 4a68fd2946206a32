"""Every query of the follow-up, undo, dedup and report stages stays linear at 100,000 sessions.

The pipeline is filled with 100,000 sessions (through the bulk writer insertion uses), the
statistics are refreshed, and the SQL each stage sends is recorded and EXPLAINed on the real
database: on PostgreSQL no plan may hold a ``SubPlan`` (DataJoint's antijoin ``A - B`` compiles
to ``NOT IN (subquery)``, which PostgreSQL runs as one scan of B per row of A once B outgrows
``work_mem``; the follow-up stage ran for more than 15 minutes on it), on MySQL/MariaDB no
subquery may scan a table in full per row of the outer query. No query may carry a list of keys
that grows with the ingest (a 100,000-term OR). The same check run on ``A - B`` itself fails,
so the check can see the problem it guards against.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.backends

N = 100_000
A, B = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
LONGEST_QUERY = 20_000  # characters: more means a list of keys, not a join


def _fill() -> None:
    """N sessions of ingest A, one recording each; ingest B (later) added recordings and outputs to 1 %."""
    from mass_ingest.db import schema
    from mass_ingest.db.bulk import write_rows

    subjects = [f"s{i:04d}" for i in range(N // 20)]
    t0 = datetime(2020, 1, 1)
    write_rows({
        "IngestRun": [{"ingest_id": i, "profile_name": "linear", "profile_hash": "0" * 16, "status": "completed",
                       "started_at": t0 + timedelta(days=d)} for d, i in enumerate((A, B))],
        "Subject": [{"subject": s} for s in subjects],
        "Probe": [{"probe": f"{i}_{s}_1", "serial": str(i)} for i, s in enumerate(subjects)],
        "ProbeInsertion": [{"subject": s, "probe": f"{i}_{s}_1"} for i, s in enumerate(subjects)],
    })
    keys = [{"subject": subjects[i % len(subjects)], "session_start": t0 + timedelta(hours=i)} for i in range(N)]
    chunk = 20_000
    for start in range(0, N, chunk):
        rows = range(start, min(N, start + chunk))
        write_rows({
            "Session": [{**keys[i], "timezone": "Europe/Oslo", "modality": "ephys", "ingest_id": A} for i in rows],
            "Session.Directory": [{**keys[i], "share": "N", "rel_path": f"r/{i}", "location": f"/mnt/n/r/{i}",
                                   "location_hash": f"{i:016x}"} for i in rows],
            "Session.Recording": [{**keys[i], "recording": "probe_1", "meta_file": "probe_1/x.ap.meta",
                                   "serial": str(i % len(subjects))} for i in rows],
            # 99 % have their probe; the rest are the follow-up's probe rows.
            "Session.ProbeAssociation": [{**keys[i], "recording": "probe_1", "decided_by": "serial",
                                          "probe": f"{i % len(subjects)}_{keys[i]['subject']}_1", "ingest_id": A}
                                         for i in rows if i % 100],
            # Every session has a task; 1 % still to be confirmed, with no arena entered.
            "Session.Task": [{**keys[i], "task_order": 1, "task": "sleep", "start_s": 0, "confirmed": i % 100 != 1,
                              "arena": "" if i % 100 == 1 else "box", "ingest_id": A} for i in rows],
        })
    late = range(0, N, 100)
    write_rows({
        "Session.Recording": [{**keys[i], "recording": "probe_2", "meta_file": "probe_2/x.ap.meta"} for i in late],
        "Session.AddedRecording": [{**keys[i], "recording": "probe_2", "ingest_id": B} for i in late],
        "Session.Output": [{**keys[i], "output_path": "probe_1/ks", "output_name": "", "kind": "kilosort",
                            "files": ["spike_times.npy"], "preferred": True, "ingest_id": B} for i in late],
        "Session.Clustering": [{**keys[i], "output_path": "probe_1/ks", "output_name": "", "recording": "probe_1"}
                               for i in late],
    })


def _analyze(connection) -> None:
    """Fresh statistics, as autovacuum (PostgreSQL) or the next query (MySQL) would have them after a while."""
    from mass_ingest.db import schema

    tables = [t.full_table_name for t in (schema.Session, schema.Session.Directory, schema.Session.Recording,
                                           schema.Session.ProbeAssociation, schema.Session.AddedRecording,
                                           schema.Session.Output, schema.Session.Clustering, schema.Session.Task,
                                           schema.Session.PreviousLocation, schema.IngestRun)]
    if connection.adapter.backend == "mysql":
        connection.query(f"ANALYZE TABLE {', '.join(tables)}")
    else:
        for table in tables:
            connection.query(f"ANALYZE {table}")


def _problems(connection, sql: str, args) -> list[str]:
    """Why the plan of ``sql`` is not linear, if it is not."""
    if len(sql) > LONGEST_QUERY:
        return [f"a query of {len(sql):,} characters (a list of keys?): {sql[:300]}"]
    if connection.adapter.backend == "mysql":
        plan = connection.query(f"EXPLAIN {sql}", args=args, as_dict=True).fetchall()
        return [f"{row['select_type']} scans {row['table']} in full ({row['rows']} rows) per outer row: {sql[:300]}"
                for row in plan if row["select_type"] in ("DEPENDENT SUBQUERY", "UNCACHEABLE SUBQUERY")
                and row["type"] == "ALL" and int(row["rows"] or 0) > 1000]
    plan = "\n".join(r[0] for r in connection.query(f"EXPLAIN {sql}", args=args).fetchall())
    return [f"SubPlan in the plan of {sql[:300]}:\n{plan}"] if "SubPlan" in plan else []


@pytest.fixture(scope="module")
def filled(database):
    from mass_ingest.db import schema

    for table in (schema.IngestRun, schema.Subject, schema.Probe, schema.Project):
        table.delete()
    _fill()
    _analyze(schema.Session.connection)
    yield schema.Session.connection
    for table in (schema.IngestRun, schema.Subject, schema.Probe):
        table.delete()


@pytest.fixture
def recorded(filled, monkeypatch):
    """Every SELECT sent while the test runs, with its arguments."""
    queries: list[tuple[str, tuple]] = []
    inner = filled.query

    def query(sql, args=(), **kwargs):
        if sql.lstrip().upper().startswith("SELECT"):
            queries.append((sql, args))
        return inner(sql, args, **kwargs)

    monkeypatch.setattr(filled, "query", query)
    return queries


def _assert_linear(connection, queries) -> None:
    assert queries, "no query was recorded"
    problems = [p for sql, args in queries for p in _problems(connection, sql, args)]
    assert not problems, "\n\n".join(problems)


def test_the_check_sees_datajoints_antijoin(filled) -> None:
    from mass_ingest.db import schema

    if filled.adapter.backend == "mysql":
        pytest.skip("MySQL and MariaDB plan NOT IN as an anti-join or a materialised lookup")
    antijoin = schema.Session.Recording - schema.Session.ProbeAssociation
    assert _problems(filled, antijoin.make_sql(), ()), "the check would not see NOT IN (subquery)"


def test_followup_queries_are_linear(filled, recorded) -> None:
    from mass_ingest.db.followup import followup_frame

    frames = [followup_frame(ingest_id=A), followup_frame(ingest_id=B), followup_frame(subject="s0001"),
              followup_frame()]
    _assert_linear(filled, recorded)
    by_need = frames[0].group_by("need").len().sort("need").rows()
    # What was filled: 1 % of A's recordings without a probe, 1 % of its sessions with a task to confirm
    # and its arena to enter;
    # B's recordings (probe_2, on A's sessions: A's follow-up lists them too) have no probe, and its
    # clusterings no curator.
    assert by_need == [("arena", N // 100), ("probe association", 2 * N // 100), ("task", N // 100)]
    assert frames[1].group_by("need").len().sort("need").rows() == [("clustering", N // 100),
                                                                     ("probe association", N // 100)]
    assert frames[3].height == 5 * N // 100


def test_report_and_dedup_queries_are_linear(filled, recorded) -> None:
    from mass_ingest.db.runs import list_runs
    from mass_ingest.db.sessions import fetch_existing_sessions, sessions_changed_by, sessions_inserted_by

    assert sessions_inserted_by(A) == N
    assert sessions_changed_by(B) == {"updated": N // 100, "moves_recorded": 0}
    assert sessions_changed_by(A) == {"updated": 0, "moves_recorded": 0}
    assert fetch_existing_sessions().height == N
    assert {r["ingest_id"]: r["sessions"] for r in list_runs()} == {A: N, B: 0}
    _assert_linear(filled, recorded)


def test_undo_queries_are_linear(filled, recorded) -> None:
    from mass_ingest.db import schema
    from mass_ingest.db.undo import _name, plan_undo

    first, later = plan_undo(A), plan_undo(B)
    _assert_linear(filled, recorded)
    assert any(f"later ingest(s) {B}" in b for b in first.blockers)
    assert later.blockers == []
    assert later.deleted[".".join(_name(schema.Session.AddedRecording.full_table_name))] == N // 100


def test_status_and_history_queries_are_linear(filled, recorded) -> None:
    from mass_ingest.db import schema
    from mass_ingest.db.history import folder_history
    from mass_ingest.db.status import status_report

    # Ingest A quarantined 1,000 folders of its own (ingest B added late data to them since: not quarantined
    # now) and 1,000 folders never inserted; B left 500 more pending.
    since = [i for i in range(0, N, 100)]
    quarantined = [{"ingest_id": A, "candidate_id": f"{i:016x}", "share": "N", "rel_path": f"r/{i}",
                    "session_id": f"s/{i}", "reasons": ["late probe_2 failed"]} for i in since]
    quarantined += [{"ingest_id": A, "candidate_id": f"q{i:015x}", "share": "N", "rel_path": f"q/{i}",
                     "session_id": f"q/{i}", "reasons": ["subject 'q' is not known", "0 probe folders"]}
                    for i in range(1000)]
    schema.Quarantine.insert(quarantined)
    schema.Quarantine.Codes.insert([{"ingest_id": A, "candidate_id": r["candidate_id"],
                                     "codes": ["QUALITY.SUBJECT_KNOWN", ""][:len(r["reasons"])]} for r in quarantined])
    schema.Pending.insert([{"ingest_id": B, "candidate_id": f"p{i:015x}", "share": "N", "rel_path": f"p/{i}",
                            "session_id": f"p/{i}", "reasons": ["still copying"]} for i in range(500)])
    try:
        started = time.perf_counter()
        [linear] = status_report(["linear"])
        took = time.perf_counter() - started
        [late] = folder_history(["N:r/100"])
        [never] = folder_history(["q/7"])
        print(f"status of {N:,} sessions, 2,000 quarantined, 500 pending: {took:.1f} s; two histories "
              f"{time.perf_counter() - started - took:.1f} s")
    finally:
        (schema.Quarantine & {"ingest_id": A}).delete(prompt=False)
        (schema.Pending & {"ingest_id": B}).delete_quick()
    _assert_linear(filled, recorded)
    assert (len(linear.quarantined), len(linear.pending)) == (1000, 500)
    assert {(g.code, g.sessions) for g in linear.reasons} == {("QUALITY.SUBJECT_KNOWN", 1000), ("", 1000)}
    assert [e.what for e in late.events] == ["quarantined", "inserted", "added"]
    assert [(e.what, e.codes) for e in never.events] == [("quarantined", ["QUALITY.SUBJECT_KNOWN"])]
