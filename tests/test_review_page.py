"""The approval page a lab manager reads, at campaign size: a real run of about 500 sessions (defects, unknown
subjects, recordings still arriving, a copy on the backup share, the test animal) paused for approval on a real
Prefect server; its artifacts read back from the API, and its page in both UIs the server ships, in headless
Debian Chromium (screenshots in the test's temporary folder, or MASS_INGEST_SCREENSHOTS).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from mass_ingest.demo import make_campaign
from tests.deployment import wait_for_final_state
from tests.e2e import cli, start_cli, wait_for_paused_run
from tests.test_ui import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.slow]

SESSIONS = 500


def _artifacts(flow_run_id) -> dict[str, list[SimpleNamespace]]:
    """Artifact key -> the run's artifacts of that key (newest first), as the server's API gives them."""
    request = urllib.request.Request(
        f"{os.environ['PREFECT_API_URL']}/artifacts/filter", headers={"Content-Type": "application/json"},
        data=json.dumps({"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "sort": "CREATED_DESC",
                         "limit": 200}).encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        found = json.load(response)
    by_key: dict[str, list] = {}
    for artifact in found:
        by_key.setdefault(artifact["key"], []).append(SimpleNamespace(**artifact))
    return by_key


def _rows(artifact) -> list[dict]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


@pytest.fixture(scope="module")
def paused(tmp_path_factory, prefect_server, database):
    """The campaign, the CLI's run process, and its flow run paused for approval."""
    from mass_ingest.db import schema
    from mass_ingest.db.subjects import import_subjects_csv

    for table in (schema.IngestRun, schema.Subject, schema.Probe, schema.Project):
        table.delete()
    base = tmp_path_factory.mktemp("campaign")
    campaign = make_campaign(base / "lab", sessions=SESSIONS)
    profile = campaign.profile_path.read_text().replace("timeout_s: 3600", "timeout_s: 3600\n  poll_s: 1")
    campaign.profile_path.write_text(profile)
    import_subjects_csv(campaign.subjects_csv)
    process = start_cli("run", str(campaign.profile_path))
    run = wait_for_paused_run(campaign.profile_path, process, timeout=900)
    yield campaign, process, run
    if process.poll() is None:
        process.kill()


def test_the_paused_runs_artifacts_hold_the_pictures_every_session_to_insert_quality_failures_and_progress(paused):
    campaign, _, run = paused
    expected = campaign.expected
    artifacts = _artifacts(run.id)

    summary = artifacts["approval-summary"][0].data
    readable = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,...", summary)
    print(readable)  # shown with -s, and in the failure's captured output
    pictures = re.findall(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", summary)
    assert len(pictures) >= 3  # counts, over time, and the per-subject timeline (one page of <= 50 subjects)
    assert all(base64.b64decode(p).startswith(b"\x89PNG\r\n\x1a\n") for p in pictures)
    assert "file://" not in summary
    assert f"**{expected['inserted']:,} to insert**" in summary
    assert re.search(r"\| the subject is not in the<br>database \| \d+ \| `m(9|17)/", summary)

    insert = [row for part in ("review-insert", "review-insert-2") for a in artifacts.get(part, [])[:1]
              for row in _rows(a)]
    assert len(insert) == expected["inserted"] == len({r["session"] for r in insert})
    assert {r["what"] for r in insert} == {"new session"}
    quarantined = _rows(artifacts["review-quarantined"][0])  # one row per failed check
    assert len({r["session"] for r in quarantined}) == expected["quarantined"]
    assert all(r["why"] and r["found"] and r["expected"] and r["check"] and r["where"] for r in quarantined)
    assert all(len(line) <= 36 or " " not in line for r in quarantined for c in ("why", "found", "expected")
               for line in r[c].splitlines())  # short lines, so the columns fit
    assert len(_rows(artifacts["review-pending"][0])) == expected["pending"]
    assert [r["kind"] for r in _rows(artifacts["review-duplicates"][0])] == ["copy in this batch"]
    for key in ("review-insert", "review-quarantined", "review-subjects"):
        assert f"../../artifacts/artifact/{artifacts[key][0].id}" in summary  # linked from the summary

    # Every quality failure names its session and the value found.
    failures = _rows(artifacts["quality-failures"][0])
    unknown = [f for f in failures if f["expectation"] == "subject_known"]
    assert unknown and all(re.fullmatch(r"subject 'm(9|17)'", f["found"]) for f in unknown)
    assert all(f["session"].startswith(("m9/", "m17/")) for f in unknown)
    assert all(f["found"] and f["expected"] for f in failures)
    assert "file://" not in artifacts["quality-report"][0].data

    progress = {key: a[0] for key, a in artifacts.items() if a[0].type == "progress"}
    assert {"discover-n-0", "discover-backup-0"} <= set(progress)
    assert all(float(progress[k].data) == 100.0 for k in ("discover-n-0", "discover-backup-0"))
    assert "session folders read" in progress["discover-n-0"].description


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _images_loaded(page, scope, at_least: int) -> list[int]:
    """Natural widths of the images in ``scope`` once ``at_least`` of them have loaded (0: not loaded)."""
    widths: list[int] = []
    for _ in range(60):
        widths = scope.locator("img[src^='data:image/png']").evaluate_all(
            "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        if len(widths) >= at_least and all(widths):
            break
        page.wait_for_timeout(500)
    return widths


@pytest.mark.ui
def test_the_approval_page_shows_the_pictures_the_grouped_reasons_and_complete_tables_in_both_uis(
        paused, page, prefect_server, tmp_path):
    campaign, _, run = paused
    ui = prefect_server.removesuffix("/api")
    shots = Path(os.environ.get("MASS_INGEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    artifacts = _artifacts(run.id)
    inserted = campaign.expected["inserted"]
    for version, prefix in (("v1", ""), ("v2", "/v2")):
        # The approval form, opened from the paused run's page.
        page.goto(f"{ui}{prefix}/runs/flow-run/{run.id}")
        page.get_by_text("Paused").first.wait_for()
        if version == "v1":
            page.get_by_role("button", name="Resume").click()
        else:
            page.get_by_role("button", name="Open menu").click()
            page.get_by_role("menuitem", name="Resume").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Why sessions are quarantined").wait_for()
        page.wait_for_load_state("networkidle")
        text = " ".join(dialog.inner_text().split())  # a long cell is broken into lines
        assert f"{inserted:,} to insert" in text and "the subject is not in the database" in text
        widths = _images_loaded(page, dialog, 1)
        assert widths and all(widths), widths
        page.screenshot(path=str(shots / f"{version}-approval-form.png"))
        # The form's summary scrolls in a box of its own (a small one in v1): the picture, then the reasons.
        dialog.locator("img").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{version}-approval-form-picture.png"))
        dialog.get_by_text("Why sessions are quarantined").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{version}-approval-form-reasons.png"))

        # The whole review page: pictures, grouped reasons, links to the complete lists. The UIs scroll an
        # inner pane, so a tall window shows it whole.
        page.set_viewport_size({"width": 1400, "height": 4200})
        page.goto(f"{ui}{prefix}/artifacts/artifact/{artifacts['approval-summary'][0].id}")
        page.get_by_text("Why sessions are quarantined").first.wait_for()
        widths = _images_loaded(page, page, 3)
        assert len(widths) >= 3 and all(widths), widths
        page.screenshot(path=str(shots / f"{version}-review-page.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})

        # A complete list: every session to insert, searchable.
        page.goto(f"{ui}{prefix}/artifacts/artifact/{artifacts['review-insert'][0].id}")
        search = page.get_by_placeholder(re.compile("Search"))
        search.wait_for()
        if version == "v1":
            assert page.get_by_text(f"{inserted} Items").count() == 1
        else:
            assert page.get_by_text(re.compile(rf"Page 1 of {-(-inserted // 10)}")).count() == 1
        page.screenshot(path=str(shots / f"{version}-insert-table.png"))
        # The quarantined list, searched for one session: its rows only, every column in view.
        rows = _rows(artifacts["review-quarantined"][0])
        quarantined = next(r["session"] for r in rows if sum(o["session"] == r["session"] for o in rows) > 1)
        page.goto(f"{ui}{prefix}/artifacts/artifact/{artifacts['review-quarantined'][0].id}")
        page.locator("td").first.wait_for()  # filled before the rows load, the search box is emptied again
        page.get_by_placeholder(re.compile("Search")).fill(quarantined)
        shown = page.locator("tbody tr")
        for _ in range(120):  # the UI filters after a debounce; at a load of 5 on 2 CPUs 10 s were too few
            if shown.count() == sum(r["session"] == quarantined for r in rows):
                break
            page.wait_for_timeout(250)
        assert shown.count() == sum(r["session"] == quarantined for r in rows), shown.all_inner_texts()
        page.screenshot(path=str(shots / f"{version}-quarantined-table.png"))
        table = page.locator("table").first.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
        print(f"{version} quarantined table: {table[0]} px wide in a {table[1]} px box")
    print(f"screenshots: {shots}")


def test_approving_inserts_the_listed_sessions_and_shows_insertion_progress(paused):
    campaign, process, run = paused
    approved = cli("approve", str(run.id), "--approver", "Lab Manager")
    assert approved.returncode == 0, approved.stderr
    process.wait(600)
    finished = wait_for_final_state(run.id)
    assert finished.state.is_completed(), str(finished.state)
    insert = _artifacts(run.id)["insert"][0]
    assert insert.type == "progress" and float(insert.data) == 100.0
    assert f"{campaign.expected['inserted']:,} of {campaign.expected['inserted']:,}" in insert.description


def test_discover_ends_with_totals_shows_problems_first_and_reports_progress_on_stderr(tmp_path):
    campaign = make_campaign(tmp_path / "lab", sessions=120, subjects=10)
    listed = cli("discover", str(campaign.profile_path))
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "showing the first 50 of 121 rows (problems first)" in out
    # Totals: 120 sessions on N plus the copy on backup; the test animal's are excluded.
    totals = re.search(r"121 sessions: (.*) on 2 share\(s\)", out)
    assert totals and "excluded" in totals.group(1), out[-2000:]
    first = out.index("EPHYS.BIN_WITHOUT_META") if "EPHYS.BIN_WITHOUT_META" in out else -1
    assert 0 <= first < out.index("showing the first")  # a session with findings is among those shown
    # Not a terminal: progress as plain lines on stderr, so stdout stays a clean answer.
    assert re.search(r"share N: 1\d\d of 1\d\d session folders read \(done\)", listed.stderr), listed.stderr[-2000:]
    assert "session folders read" not in out
    every = cli("discover", str(campaign.profile_path), "--all")
    assert "showing the first" not in every.stdout and every.stdout.count("/2024-") >= 121
