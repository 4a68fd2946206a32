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
