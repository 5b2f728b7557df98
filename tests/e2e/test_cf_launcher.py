"""manifest.yml on the local Cloud Foundry launcher: the API's instances come up over PostgreSQL, Redis, XSUAA and
SAP BTP's Destination service, a supervisor's confirmation reaches SAP, and a stop is Cloud Foundry's (SIGTERM, no
instance left for SIGKILL after 10 s)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from app.dev_idp import mint_token
from devenv.cf import STOP_GRACE, xsuaa_settings
from devenv.cf_instance import group_alive
from devenv.postgres_server import postgres_bin_dir
from store import TERMINAL
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")


def _state(path: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet
        return None
    return state


def _instances(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for app in state["apps"].values() for p in app["processes"].values() for i in p["instances"]]


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES_URL and postgres_bin_dir() is None, reason="needs PostgreSQL (or TEST_POSTGRES_URL)")
def test_the_api_runs_from_its_manifest_confirms_through_the_destination_service_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    state_file, log = tmp_path / "state.json", tmp_path / "cf.log"
    command = [sys.executable, "-m", "devenv.cf", "--apps", "sap-extension-api", "--scale", "web=1,worker=1"]
    command += ["--state", str(state_file), "--env", "VERIFY_RESPONSE_DUMP=1"]
    command += ["--postgres-url", POSTGRES_URL] if POSTGRES_URL else []
    with open(log, "wb") as sink:
        launcher = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    state: dict[str, Any] | None = None
    try:

        def running() -> dict[str, Any] | None:
            assert launcher.poll() is None, (
                f"the launcher exited with {launcher.returncode}:\n{log.read_text()[-3000:]}"
            )
            current = _state(state_file)
            return current if current and current["state"] == "running" else None

        state = poll(running, 240, "every instance running", interval=0.5)
        assert {(p, len(i["instances"])) for p, i in state["apps"]["sap-extension-api"]["processes"].items()} >= {
            ("web", 1),
            ("worker", 1),
        }
        services = state["services"]
        web = state["apps"]["sap-extension-api"]["processes"]["web"]["instances"][0]
        attributes = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
        token = mint_token(xsuaa_settings(services), "SUP_ASSY1010", ["Supervisor"], attributes)
        headers = {"Authorization": f"Bearer {token}"}

        listed = requests.get(f"{web['url']}/api/v1/work-orders?limit=50", headers=headers, timeout=30)
        assert listed.status_code == 200, listed.text
        work = next(i for i in listed.json()["items"] if Decimal(i["quantity_to_go"]["value"]) >= 1)
        posted = requests.post(
            f"{web['url']}/api/v1/work-orders/{work['id']}/confirmations",
            json={"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert posted.status_code == 202, posted.text

        def ended() -> dict[str, Any] | None:
            answer = requests.get(f"{web['url']}{posted.headers['Location']}", headers=headers, timeout=10)
            body: dict[str, Any] = answer.json()
            return body if body["status"] in TERMINAL else None

        finished = poll(ended, 90, "the confirmation to end", interval=0.3)
        assert finished["status"] == "succeeded", finished
        # SAP was reached as on SAP BTP: the technical destination, read from the Destination service.
        stats = requests.get(f"{services['btp_url']}/mock-admin/stats", timeout=10).json()
        assert stats["destination_lookups"].get("S4HANA", 0) >= 1, stats

        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=STOP_GRACE + 60)  # the instances' grace, then the backing services
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for instance in _instances(_state(state_file) or state or {"apps": {}}):
            if instance["pid"] and group_alive(instance["pid"]):
                os.killpg(instance["pid"], signal.SIGKILL)
    output = log.read_text()
    assert code == 0, output[-3000:]
    final = _state(state_file)
    assert final is not None and final["state"] == "stopped"
    stopped = _instances(final)
    assert stopped and all(i["state"] == "stopped" and not i["killed"] for i in stopped), stopped
    assert "killed with SIGKILL" not in output
    assert not [i["pid"] for i in stopped if group_alive(i["pid"])]
    (took,) = re.findall(r"^cf: \d+ instances stopped on SIGTERM in ([\d.]+)s", output, re.MULTILINE)
    assert float(took) < STOP_GRACE
