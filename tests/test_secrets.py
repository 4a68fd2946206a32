"""Secrets never leave the environment (issue 13, item 6): one redaction point, every URL form, and the real
command line, whose output and every file under its homes (Prefect's database included) must not hold the secret.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mass_ingest.errors import DatabaseError
from mass_ingest.redaction import redact
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
])
def test_every_url_and_dsn_form_is_redacted(text: str) -> None:
    cleaned = redact(text)
    assert SECRET not in cleaned and "***" in cleaned


def test_the_password_settings_are_redacted_wherever_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_INGEST_DATABASE_PASSWORD", SECRET)
    assert redact(f"the value was {SECRET} and, encoded, Xq7-s3cr3t%21pw") == \
        "the value was *** and, encoded, ***"


def test_the_settings_hand_out_the_password_but_never_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_INGEST_DATABASE_PASSWORD", "s3cr3t-Pa55")
    environment = Environment()
    assert database_password() == "s3cr3t-Pa55"
    assert "s3cr3t" not in repr(environment) and "s3cr3t" not in str(environment.model_dump())


@pytest.mark.parametrize("url", [f"postgresql+psycopg://ingest:{SECRET}@db.lab/x", f"postgresql://ingest:{SECRET}@db/x",
                                 f"mysql://root:{SECRET}@h:3306", f"odd://a:{SECRET}@h:notaport"])
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


def test_an_uncaught_exception_is_printed_redacted() -> None:
    code = ("import mass_ingest\n"
            f"raise RuntimeError('dsn postgresql://u:{SECRET}@h/d')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "RuntimeError: dsn postgresql://u:***@h/d" in result.stderr
    assert SECRET not in result.stderr


def files_holding(folder: Path, secret: str) -> list[str]:
    needle = secret.encode()
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


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
        homes = [Path(os.environ["MASS_INGEST_HOME"]), Path(os.environ["PREFECT_HOME"])]
        assert [f for home in homes for f in files_holding(home, SECRET)] == []

    def test_a_failed_connection_with_the_password_setting_leaks_it_nowhere(self, tmp_path: Path) -> None:
        # The flow starts, fails to reach the server (nothing listens on port 9), and Prefect records the failure.
        campaign = demo_campaign(tmp_path / "campaign")
        result = cli("run", str(campaign.profile_path), "--approve", "--json",
                     env={"MASS_INGEST_DATABASE": "postgresql://ingest@127.0.0.1:9/db",
                          "MASS_INGEST_DATABASE_PASSWORD": SECRET})
        assert result.returncode != 0
        assert "cannot connect to postgresql://ingest@127.0.0.1:9" in result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
        homes = [Path(os.environ["MASS_INGEST_HOME"]), Path(os.environ["PREFECT_HOME"])]
        assert [f for home in homes for f in files_holding(home, SECRET)] == []
