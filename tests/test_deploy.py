"""prefect.yaml as a lab uses it: a server on 127.0.0.1, a work pool, `prefect deploy --all`, a worker,
and a run of the deployment approved through the API (the README's "Deployments" commands)."""

from __future__ import annotations

from datetime import datetime

import pytest

from mass_ingest.db import schema
from mass_ingest.db.subjects import import_subjects_csv
from tests.deployment import wait_for_final_state
from tests.e2e import demo_campaign, wait_for_paused_run
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("deployments", "clean_database")]


def read_deployment(name: str):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(name)


class TestDeployments:
    def test_the_run_form_describes_every_parameter_of_both_deployments(self):
        manual, nightly = read_deployment("mass-ingest/mass-ingest"), read_deployment("rescan/rescan")
        fields = manual.parameter_openapi_schema["properties"]
        # Only what a person should set: no `approval` (which would skip the pause), `root` or `input_file`.
        assert list(fields) == ["profile_path", "shares", "dry_run", "approval_timeout_s"]
        assert all(field.get("description") for field in fields.values())
        assert fields["dry_run"]["description"].startswith("Stop after the expectations")
        assert manual.parameters == {"profile_path": "profiles/moser-ephys.yaml", "dry_run": False}
        assert manual.schedules == [] and manual.work_pool_name == "mass-ingest"
        [schedule] = nightly.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == \
            ("0 2 * * *", "Europe/Oslo", True)
        assert all(f.get("description") for f in nightly.parameter_openapi_schema["properties"].values())

    def test_a_worker_runs_the_deployment_which_pauses_and_inserts_what_was_approved(self, tmp_path, deployments):
        from prefect.deployments import run_deployment
        from prefect.flow_runs import resume_flow_run

        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        started = run_deployment("mass-ingest/mass-ingest", parameters={"profile_path": str(campaign.profile_path)},
                                 timeout=0)
        paused = wait_for_paused_run(campaign.profile_path, timeout=180)
        assert paused.id == started.id
        resume_flow_run(paused.id, run_input={"decision": "approve", "exclude": ["102_1/*"], "approver": "Ada Lovelace"})
        finished = wait_for_final_state(started.id)
        assert finished.state.is_completed(), f"{finished.state}; worker log: {deployments}"
        assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}
        [run] = schema.IngestRun.to_dicts()
        assert (run["status"], run["approver"], run["approval_source"], run["counts"]["inserted"]) == \
            ("completed", "Ada Lovelace", "ui", 4)
        assert [r["flow_run_id"] for r in schema.IngestRun.FlowRun.to_dicts()] == [str(started.id)]
