"""`DEV_BTP=true python3 dev.py run`: the mock SAP is reached as on SAP BTP, through mock_btp's Destination service
and Connectivity proxy; the executive's inbox by principal propagation, the work orders as the technical user."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from app.dev_idp import mint_token
from devenv.redis_server import free_port
from runtime.settings import Settings
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dev_btp_reads_sap_through_the_destination_service_and_the_connectivity_proxy(
    tmp_path: Path, dev_idp_key_file: str
) -> None:
    port, mock_port, events_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SAP_URL", "DATABASE_URL", "VCAP_SERVICES")}
    env.update(PORT=str(port), MOCK_SAP_PORT=str(mock_port), EVENTS_PORT=str(events_port), APPROUTER_PORT="0")
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", DEV_IDP_KEY_FILE=dev_idp_key_file, DEV_BTP="true")
    log = tmp_path / "run.log"
    with open(log, "wb") as sink:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "devenv.run"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def banner() -> str | None:
            assert launcher.poll() is None, log.read_text()[-3000:]
            match = re.search(r"through the Destination service (\S+) and the proxy", log.read_text())
            return match.group(1) if match else None

        btp_url = poll(banner, 180, "the run's banner", interval=0.5)
        settings = Settings(dev_idp_key_file=dev_idp_key_file)
        executive = mint_token(settings, "EXEC_ANNA", ["Executive"], {})
        supervisor = mint_token(
            settings, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
        )
        inbox = requests.get(f"{base}/api/v1/approvals", headers={"Authorization": f"Bearer {executive}"}, timeout=30)
        assert inbox.status_code == 200 and inbox.json()["items"], inbox.text
        orders = requests.get(
            f"{base}/api/v1/work-orders", headers={"Authorization": f"Bearer {supervisor}"}, timeout=30
        )
        assert orders.status_code == 200 and orders.json()["items"], orders.text

        stats = requests.get(f"{btp_url}/mock-admin/stats", timeout=10).json()
        assert stats["destination_lookups"].get("S4HANA", 0) >= 1, stats
        assert stats["destination_lookups"].get("S4HANA_USER", 0) >= 1, stats
        assert stats["proxy_requests"] >= 2, stats  # both went through the Cloud Connector's stand-in
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert "run: all processes stopped" in log.read_text()
