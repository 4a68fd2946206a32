"""Secrets never leave the environment (issue 13, item 6): one redaction point, every URL form, and the real
command line, whose output and every file under its homes (Prefect's database included) must not hold the secret.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mass_ingest.errors import DatabaseError
from mass_ingest.redaction import redact, redact_exception
from mass_ingest.settings import Environment, database_password, database_target
from tests.e2e import cli, demo_campaign

SECRET = "Xq7-s3cr3t!pw"


@pytest.mark.parametrize("text", [
    f"postgresql+psycopg://ingest:{SECRET}@db.lab:5432/pipeline",   # a scheme the tool does not know
    f"postgresql://ingest:{SECRET}@db.lab/pipeline",
    f"mysql://root:{SECRET}@127.0.0.1:3306",
    f"mysql+pymysql://root:{SECRET}@127.0.0.1",
    f"https://user:{SECRET}@prefect.lab/api",
    f"redis://:{SECRET}@cache:6379/0",                                 # a password without a user
    f"cannot connect (dsn='host=db user=ingest password={SECRET} dbname=x')",
    f"PWD: '{SECRET}'",
    f"error near postgresql://ingest:{SECRET}@db.lab/pipeline?sslmode=require, giving up",
    f"postgresql://ingest:{SECRET}/Ab+c=@db.lab/pipeline",           # pasted unencoded: a '/' (base64-made)
    f"postgresql://ingest:{SECRET}@x@db.lab/pipeline",                # ... or an '@'
    f"MASS_INGEST_DATABASE='odd://a:{SECRET}@h:notaport' is not a URL",
    f"invalid dsn: host=db user=ingest password='{SECRET} with spaces' dbname=x",
    f"connect(host=db;Pwd={SECRET};Database=x)",
    f"db is postgresql://ingest:my {SECRET} pass@db.lab/pipeline",   # pasted with spaces
    f"postgresql://ingest:{SECRET} x@y z@db.lab/pipeline",           # spaces and an '@'
])
def test_every_url_and_dsn_form_is_redacted(text: str) -> None:
    cleaned = redact(text)
    assert SECRET not in cleaned and "***" in cleaned


def test_the_password_settings_are_redacted_wherever_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_INGEST_DATABASE_PASSWORD", SECRET)
    assert redact(f"the value was {SECRET} and, encoded, Xq7-s3cr3t%21pw") == \
        "the value was *** and, encoded, ***"


def test_a_credential_typed_into_a_decisions_note_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from mass_ingest.db.decisions import Decision

    monkeypatch.setenv("MASS_INGEST_DATABASE_PASSWORD", SECRET)
    decision = Decision(approved=True, approver="Ada", source="cli",
                        note=f"fine; db is postgresql://ingest:{SECRET}@db.lab/pipeline, pw {SECRET}")
    assert decision.note == "fine; db is postgresql://ingest:***@db.lab/pipeline, pw ***"
    # A masked URL keeps the rest of the line: the pattern for passwords with spaces leaves it alone.
    assert redact("postgresql://ingest:***@db.lab/x, or mail ada@lab.org") == \
        "postgresql://ingest:***@db.lab/x, or mail ada@lab.org"
    assert redact("https://lab.org/page: see it, mail ada@lab.org") == "https://lab.org/page: see it, mail ada@lab.org"
    assert Decision.model_validate_json(decision.model_dump_json()).note == decision.note


def test_the_settings_hand_out_the_password_but_never_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_INGEST_DATABASE_PASSWORD", "s3cr3t-Pa55")
    environment = Environment()
    assert database_password() == "s3cr3t-Pa55"
    assert "s3cr3t" not in repr(environment) and "s3cr3t" not in str(environment.model_dump())


@pytest.mark.parametrize("url", [f"postgresql+psycopg://ingest:{SECRET}@db.lab/x", f"postgresql://ingest:{SECRET}@db/x",
                                 f"mysql://root:{SECRET}@h:3306", f"odd://a:{SECRET}@h:notaport",
                                 f"postgresql://ingest:{SECRET}/x@db.lab/x"])
def test_a_url_with_a_password_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("MASS_INGEST_DATABASE", url)
    with pytest.raises(DatabaseError) as raised:
        database_target()
    assert SECRET not in str(raised.value) and "must not contain a password" in str(raised.value)


def test_the_tools_errors_and_every_log_record_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    assert SECRET not in str(DatabaseError(f"cannot reach mysql://root:{SECRET}@h"))
    with caplog.at_level(logging.INFO):
        logging.getLogger("mass_ingest.somewhere").info("connecting to %s", f"mysql://root:{SECRET}@h")
        try:
            raise RuntimeError(f"bad dsn password={SECRET}")
        except RuntimeError:
            logging.getLogger("anything").exception("failed")
    assert SECRET not in caplog.text and "mysql://root:***@h" in caplog.text


def test_an_exception_is_redacted_in_place_with_those_it_was_raised_from() -> None:
    try:
        try:
            raise OSError(111, f"refused by mysql://root:{SECRET}@h", f"https://u:{SECRET}@proxy/socket")
        except OSError as cause:
            raise ConnectionError(f"dsn password={SECRET}", 3) from cause
    except ConnectionError as raised:
        exc = raised
    assert redact_exception(exc) is exc and isinstance(exc, ConnectionError) and exc.args[1] == 3
    assert SECRET not in str(exc) and SECRET not in str(exc.__cause__) and "mysql://root:***@h" in str(exc.__cause__)


def test_an_uncaught_exception_is_printed_redacted() -> None:
    code = ("import mass_ingest\n"
            f"raise RuntimeError('dsn postgresql://u:{SECRET}@h/d')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "RuntimeError: dsn postgresql://u:***@h/d" in result.stderr
    assert SECRET not in result.stderr


def _readings(data: bytes) -> list[bytes]:
    """A file's bytes, and every base64 text in it decoded: Prefect stores pickled results (an exception
    included) base64-encoded, in JSON with escaped line breaks, where a plain search would miss them."""
    found = [data]
    for run in re.findall(rb"[A-Za-z0-9+/=\\\n]{40,}", data):
        cleaned = run.replace(b"\\n", b"").replace(b"\n", b"")
        try:
            found.append(base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4)))
        except ValueError:
            pass
    return found


def files_holding(folder: Path, text: str) -> list[str]:
    needle = text.encode()
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if any(needle in reading for reading in _readings(path.read_bytes())):
                    found.append(str(path))
            except OSError:
                pass
    return found


def homes() -> list[Path]:
    return [Path(os.environ["MASS_INGEST_HOME"]), Path(os.environ["PREFECT_HOME"])]


def stored_somewhere(text: str, timeout: float = 60) -> list[str]:
    """The files under the homes holding ``text``, once one does: the server writes events and logs a moment
    after the run, and a search before that would find nothing, whatever the run leaked."""
    deadline = time.monotonic() + timeout
    while not (found := [f for home in homes() for f in files_holding(home, text)]) and time.monotonic() < deadline:
        time.sleep(1)
    return found


def test_the_file_search_reads_prefects_base64_results() -> None:
    stored = base64.b64encode(f"pickled RuntimeError('{SECRET}')".encode()).decode()
    text = ('{"result":"' + "\\n".join(stored[i:i + 40] for i in range(0, len(stored), 40)) + '"}').encode()
    assert any(SECRET.encode() in reading for reading in _readings(text))


@pytest.mark.parametrize("order", ["mass_ingest first", "prefect first"])
def test_prefects_engines_are_patched_whichever_is_imported_first(order: str) -> None:
    imports = ["import mass_ingest", "from prefect import flow_engine, task_engine"]
    code = "\n".join((imports if order == "mass_ingest first" else imports[::-1]) + [
        "names = ('exception_to_failed_state', 'exception_to_failed_state_sync', 'exception_to_crashed_state',"
        " 'exception_to_crashed_state_sync')",
        "found = [getattr(m, n) for m in (task_engine, flow_engine) for n in names if hasattr(m, n)]",
        "assert len(found) == 6 and all(getattr(f, 'redacts', False) for f in found), found"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
class TestTheCommandLine:
    def test_a_password_in_the_url_is_refused_and_written_nowhere(self, tmp_path: Path) -> None:
        campaign = demo_campaign(tmp_path / "campaign")
        result = cli("run", str(campaign.profile_path), "--approve", "--json",
                     env={"MASS_INGEST_DATABASE": f"postgresql+psycopg://ingest:{SECRET}@127.0.0.1:9/db"})
        assert result.returncode != 0
        assert "must not contain a password" in result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
        # The flow's first task refused it: the refusal is on record in Prefect's database, the secret nowhere.
        assert stored_somewhere("must not contain a password")
        assert [f for home in homes() for f in files_holding(home, SECRET)] == []

    def test_a_failed_connection_with_the_password_setting_leaks_it_nowhere(self, tmp_path: Path) -> None:
        # The flow starts, fails to reach the server (nothing listens on port 9), and Prefect records the failure.
        campaign = demo_campaign(tmp_path / "campaign")
        result = cli("run", str(campaign.profile_path), "--approve", "--json",
                     env={"MASS_INGEST_DATABASE": "postgresql://ingest@127.0.0.1:9/db",
                          "MASS_INGEST_DATABASE_PASSWORD": SECRET})
        assert result.returncode != 0
        assert "cannot connect to postgresql://ingest@127.0.0.1:9" in result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
        # The failure is on record in Prefect's database (so the search below reads what the run stored) ...
        assert stored_somewhere("cannot connect to postgresql://ingest@127.0.0.1:9")
        # ... and the password in no file under the homes.
        assert [f for home in homes() for f in files_holding(home, SECRET)] == []


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
class TestPrefectsRecords:
    def test_an_exception_a_task_raises_with_a_password_reaches_prefect_redacted(self) -> None:
        # Not the tool's own error (those redact themselves): a library's, whose text Prefect would put in the
        # task's and the flow's Failed states (stored by the server, sent in events) and pickle into its result
        # storage, none of which passes through logging.
        from prefect import flow, task
        from prefect.logging.handlers import APILogWorker

        from mass_ingest.prefect_api import flow_run_or_none, task_runs_of

        @task(persist_result=True)
        def reach_the_database() -> None:
            raise RuntimeError(f"cannot reach postgresql+psycopg://ingest:{SECRET}@db.lab/pipeline")

        @flow(name="secret-in-an-exception", persist_result=True)
        def leaky() -> None:
            reach_the_database()

        state = leaky(return_state=True)
        APILogWorker.drain_all(timeout=10)  # its logs sent now, while the server runs (at exit it is gone)
        assert state.is_failed()
        shown = "cannot reach postgresql+psycopg://ingest:***@db.lab/pipeline"
        run = flow_run_or_none(state.state_details.flow_run_id)
        [task_run] = task_runs_of(run.id)
        assert shown in run.state.message and shown in task_run.state.message
        assert SECRET not in run.state.message + task_run.state.message
        assert stored_somewhere(shown)  # the server wrote the states (and the pickled exception is stored)
        assert [f for home in homes() for f in files_holding(home, SECRET)] == []
