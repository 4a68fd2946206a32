"""The Prefect UI in a real headless Chromium: start an ingest from the deployment's run form, read the
approval summary at the pause, approve leaving one session out, and check what the database holds.

Needs Debian's ``chromium`` (``.ci/run`` installs it where it can) and Playwright's Python package;
Playwright's own browser downloads are never used. Screenshots land in the test's temporary folder, or in
MASS_INGEST_SCREENSHOTS.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from mass_ingest.db import schema
from mass_ingest.db.decisions import stored_decision
from mass_ingest.db.subjects import import_subjects_csv
from tests.deployment import wait_for_final_state
from tests.e2e import demo_campaign, wait_for_paused_run
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.ui, pytest.mark.usefixtures("deployments", "clean_database")]

expect = None  # playwright.sync_api.expect, set by the page fixture once Playwright is known to be there
CHROMIUM = os.environ.get("MASS_INGEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(tmp_path):
    """A page of headless Debian Chromium driven by Playwright (skipped, with the reason, without them)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed "
                                   "(pip install -c constraints.txt -e '.[test]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver (or set MASS_INGEST_CHROMIUM)")
    global expect
    expect = sync_api.expect
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def wait_for_badge(page, state: str, timeout: float = 180) -> None:
    """Reload the flow-run page until its state badge says ``state``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.locator(".state-badge", has_text=state).count():
            return
        page.wait_for_timeout(1000)
        page.reload()
    raise AssertionError(f"the run page never showed {state!r}; it shows: {page.inner_text('body')[:2000]}")


def test_an_ingest_started_and_approved_in_the_prefect_ui_inserts_exactly_the_approved_sessions(
        page, tmp_path, prefect_server):
    ui = prefect_server.removesuffix("/api")
    shots = Path(os.environ.get("MASS_INGEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    campaign = demo_campaign(tmp_path / "demo", poll_s=1)
    import_subjects_csv(campaign.subjects_csv)

    # 1. The deployment's page, its Run menu, the custom run form: name the generated share's profile.
    page.goto(f"{ui}/deployments")
    page.get_by_role("link", name="mass-ingest", exact=True).first.click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run").click()
    form = page.locator(".schema-form-property", has_text="profile_path").first
    expect(form).to_contain_text("The profile YAML")  # the flow's docstring, shown as the field's help
    form.locator("textarea").fill(str(campaign.profile_path))
    form.locator("textarea").press("Tab")  # leave the field first, so the form holds the value before Submit
    fields = page.locator(".schema-form-property").all_inner_texts()
    for internal in ("approval", "root", "input_file"):  # the CLI's parameters are not the form's
        assert not any(text.splitlines()[0].strip() == internal for text in fields if text.strip()), fields
    page.get_by_role("button", name="Submit").click()
    # The UI says so once the run is created (a form it rejects shows no such notice); the page's URL is no
    # signal: the UI navigates in-page, and waiting for its URL timed out with the run already scheduled.
    expect(page.get_by_text("scheduled to start").first).to_be_visible(timeout=60_000)

    # 2. The run the form started, once the worker has brought it to the approval pause.
    run = wait_for_paused_run(campaign.profile_path, timeout=180)
    page.goto(f"{ui}/runs/flow-run/{run.id}")
    wait_for_badge(page, "Paused")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    summary = " ".join(dialog.inner_text().split())  # a long cell of the summary is broken into lines
    assert "Approve ingest of profile demo-ephys" in summary
    assert "5 to insert (5 ready to insert), 2 quarantined" in summary
    assert "m9/2024-06-03_10-12-44" in summary and "subject 'm9' is not known" in summary

    # 3. The form assumes nothing: Submit untouched is refused, and the run still waits (nothing decided).
    dialog.get_by_role("button", name="Submit").click()
    choice = dialog.locator(".schema-form-property", has_text="Decision").first
    expect(choice).to_contain_text("required")
    unchosen_png = shots / "submitted-without-choosing.png"
    page.screenshot(path=str(unchosen_png))
    assert stored_decision(schema.IngestRun.to_dicts()[0]["ingest_id"]) is None
    assert dialog.get_by_text("Decided in").count() == 0  # where it was decided is not the person's to type

    # 4. Choose approve, leave 102_1 out, sign.
    # The classic UI draws the choice as prefect-design's PSelect: a click on the box itself opens its list and
    # closes it again at once (3.8.8; the page's log-level select does the same), so a person opens it from
    # the arrows at its right, as here, or with the keyboard. The field's description says so.
    expect(choice).to_contain_text("arrows")
    choice.locator(".p-select-button__icon").click()
    page.get_by_role("option", name="approve", exact=True).click()
    expect(choice.locator(".p-select-button__value")).to_have_text("approve")
    dialog.get_by_role("button", name="Add item").click()
    dialog.locator(".schema-form-property", has_text="Sessions to leave out").last.locator("textarea").fill("102_1/*")
    dialog.locator(".schema-form-property", has_text="Approved by").last.locator("textarea").fill("Ada Lovelace")
    note = dialog.locator(".schema-form-property", has_text="Note").last.locator("textarea")
    note.fill("102_1: histology first")
    note.press("Tab")  # leave the field first, so the form holds the value before Submit (as with the profile above)
    paused_png = shots / "paused-approval-form.png"
    page.screenshot(path=str(paused_png))
    dialog.get_by_role("button", name="Submit").click()
    try:  # the run resumes once the dialog takes the form
        expect(dialog).to_be_hidden(timeout=30_000)
    except AssertionError:
        # On a slow host the form re-validated after the first click (its earlier "required" marks were still shown)
        # and the run stayed paused: click again, as a person would; a resume taken twice is refused by Prefect.
        dialog.get_by_role("button", name="Submit").click()

    # 5. The finished run, with its counts artifact.
    finished = wait_for_final_state(run.id)
    wait_for_badge(page, "Completed")
    page.locator(".p-tab", has_text="Artifacts").click()
    # The outcome is a task run's artifact, listed below the flow run's own; the UI scrolls an inner pane and
    # loads that list when it comes into view, so a tall window shows both.
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.get_by_text("Task runs", exact=True).last.scroll_into_view_if_needed()
    page.get_by_text("ingest-counts").first.wait_for()
    page.wait_for_load_state("networkidle")
    finished_png = shots / "finished-run.png"
    page.screenshot(path=str(finished_png), full_page=True)
    print(f"screenshots: {unchosen_png} {paused_png} {finished_png}")

    assert finished.state.is_completed(), str(finished.state)
    assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}
    [ingest] = schema.IngestRun.to_dicts()
    assert (ingest["status"], ingest["approver"], ingest["approval_source"], ingest["note"],
            ingest["excluded"]["sessions"], ingest["counts"]["inserted"], ingest["counts"]["left_out"]) == \
        ("completed", "Ada Lovelace", "ui", "102_1: histology first", ["102_1/*"], 4, 1)
