"""A change from the HTTP request through a real worker process to SAP: one correlation id, no secret logged."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from runtime.settings import Settings
from tests.conftest import MockSap, local_settings, migrated_app
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]
FLOW_REDIS_DB = 7
SAP_PASSWORDS = ("tech-pass-1", "user-pass-1")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")
CONFIRMATIONS = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"


@pytest.fixture
def flow_settings(redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    return local_settings(
        redis_url, trusting_sap, tmp_path, dev_idp_key_file, redis_db=FLOW_REDIS_DB, log_level="INFO", log_format="json"
    )


@pytest.fixture
def api(flow_settings: Settings) -> FlaskClient:
    app = migrated_app(flow_settings)
    app.extensions["redis"].flushdb()
    return app.test_client()


@pytest.fixture
def worker_log(flow_settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """A real `python -m workers` whose JSON log lines go to a file the test reads."""
    log_file = tmp_path / "worker.log"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "REDIS_URL": flow_settings.redis_url,
        "DATABASE_URL": flow_settings.database_url,
        "SAP_URL": flow_settings.sap_url,
        "DEV_IDP_KEY_FILE": flow_settings.dev_idp_key_file,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "RECONCILE_INTERVAL": "0.5",
        "RECONCILE_ACCEPTED_AFTER": "2",
    }
    with log_file.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers"], cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
        try:
            yield log_file
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def events(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def wait_until_finished(api: FlaskClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(location, headers=headers).json
        return body if body["status"] not in ("accepted", "running") else None

    return poll(finished, 60, f"{location} to finish")


@pytest.mark.slow
def test_confirm_and_approve_end_to_end(
    api: FlaskClient,
    worker_log: Path,
    flow_settings: Settings,
    trusting_sap: MockSap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    supervisor_token = mint_token(
        flow_settings, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
    )
    executive_token = mint_token(flow_settings, "EXEC_ANNA", ["Executive"], {})
    supervisor = {"Authorization": f"Bearer {supervisor_token}"}
    executive = {"Authorization": f"Bearer {executive_token}"}

    # Supervisor confirms 1 piece; the request id chosen here must reach SAP with the job.
    work = next(
        item
        for item in api.get("/api/v1/work-orders?limit=50", headers=supervisor).json["items"]
        if float(item["quantity_to_go"]["value"]) >= 1
    )
    correlation = f"flow-{uuid.uuid4().hex[:12]}"
    posted = api.post(
        f"/api/v1/work-orders/{work['id']}/confirmations",
        json={"yield_quantity": "1", "unit": work["planned_quantity"]["unit"], "text": "e2e"},
        headers={**supervisor, "Idempotency-Key": str(uuid.uuid4()), "X-Request-ID": correlation},
    )
    assert posted.status_code == 202, posted.json
    confirmed = wait_until_finished(api, posted.headers["Location"], supervisor)
    assert confirmed["status"] == "succeeded", confirmed
    assert confirmed["attempts"] == 1

    in_sap = requests.get(
        f"{trusting_sap.url}{CONFIRMATIONS}",
        params={"$filter": f"ExternalSystemConfirmation eq guid'{posted.json['id']}'", "$format": "json"},
        auth=("EXT_API_TECH", "tech-pass-1"),
        timeout=30,
    ).json()["d"]["results"]
    assert len(in_sap) == 1
    assert in_sap[0]["OrderID"] == work["order_id"]

    # Executive approves a requisition release: the worker acts as EXEC_ANNA in SAP's inbox.
    approval = api.get("/api/v1/approvals?limit=1", headers=executive).json["items"][0]
    decided = api.post(
        f"/api/v1/approvals/{approval['id']}/decision",
        json={"decision": "approve", "comment": "ok"},
        headers={**executive, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert decided.status_code == 202, decided.json
    assert wait_until_finished(api, decided.headers["Location"], executive)["status"] == "succeeded"
    assert approval["id"] not in {item["id"] for item in api.get("/api/v1/approvals", headers=executive).json["items"]}

    # One correlation id: request log (web) -> job log (worker) -> SAP call log (worker).
    web_events = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    worker_text = worker_log.read_text()
    worker_events = events(worker_text)
    assert any(e.get("event") == "request" and e.get("request_id") == correlation for e in web_events)
    job = [
        e for e in worker_events if e.get("command_id") == posted.json["id"] and e.get("event") == "writeback_succeeded"
    ]
    assert job and job[0]["request_id"] == correlation
    sap_posts = [
        e
        for e in worker_events
        if e.get("event") == "sap_call" and e.get("method") == "POST" and e.get("request_id") == correlation
    ]
    assert sap_posts and "ProdnOrdConf2" in sap_posts[0]["path"]

    # No secret used in this test appears in any captured log line.
    everything = worker_text + "\n".join(json.dumps(e, default=str) for e in web_events) + caplog.text
    for secret in (supervisor_token, executive_token, *SAP_PASSWORDS):
        assert secret not in everything
    assert not JWT.search(everything), "a JWT (user token or user assertion) reached the logs"
    assert not re.search(r"(?i)basic\s+[A-Za-z0-9+/=]{12,}", everything)
