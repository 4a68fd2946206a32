"""Progress reports from many threads at once (discovery's listing pool reports once a folder)."""

from __future__ import annotations

import threading

from mass_ingest import progress


def test_reports_from_many_threads_show_the_end_once_and_forget_the_work(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    total, threads = 4000, 8
    done = iter(range(1, total))  # the last one after the threads, as a stage ends
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                n = next(done, None)
            if n is None:
                return
            progress.report("test-many-threads", n, total, "listing", unit="folders", artifact=False)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    progress.report("test-many-threads", total, total, "listing", unit="folders", artifact=False)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("listing: ")
    assert [line for line in lines if line.endswith("(done)")] == ["listing: 4,000 of 4,000 folders (done)"]
    assert "test-many-threads" not in progress._STATES
    # Reports closer than _SKIP_WITHIN_S are dropped: far fewer lines than reports.
    assert len(lines) < total // 10


def test_a_short_piece_of_work_shows_only_its_end(capsys, monkeypatch):
    # A listing that ends within seconds printed "1 folders listed" (its first count) and never its last.
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    for n in range(1, 500):
        progress.report("test-short", n, None, "share N", unit="folders listed", artifact=False)
    for n in range(1, 11):
        progress.report("test-short", n, 10, "share N", unit="session folders read", artifact=False)
    assert capsys.readouterr().err.splitlines() == ["share N: 10 of 10 session folders read (done)"]


def test_a_long_piece_of_work_shows_a_line_now_and_then(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    for n in range(1, 11):
        now[0] += 3.0  # a chunk every 3 s: a line once 10 s have passed since the work began or the last line
        progress.report("test-long", n, 10, "insertion", unit="chunks", artifact=False)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["insertion: 5 of 10 chunks", "insertion: 9 of 10 chunks", "insertion: 10 of 10 chunks (done)"]
