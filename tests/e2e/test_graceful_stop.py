"""SIGTERM, as Cloud Foundry sends it on a deploy or `cf scale`: the web instance finishes what is in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from app.dev_idp import mint_token
from devenv.redis_server import die_with_parent, free_port
from runtime.settings import Settings
from tests.conftest import MockSap

ROOT = Path(__file__).resolve().parents[2]
CF_KILLS_AFTER = 10.0  # seconds from SIGTERM to SIGKILL on Cloud Foundry
SAP_TAKES_MS = 3000


def _start_gunicorn(tmp_path: Path, sap: MockSap, redis_url: str, key_file: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SAP_URL", "DATABASE_URL", "JWKS_URL")},
        "APP_ENV": "development",
        "SAP_URL": sap.url,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DEV_IDP_KEY_FILE": key_file,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "LOG_FORMAT": "json",
    }
    subprocess.run([sys.executable, "-m", "store", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [*command, "--no-control-socket", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
        try:
            if requests.get(f"{url}/health/live", timeout=5).status_code == 200:
                return process, url
        except requests.RequestException:  # not listening yet
            pass
        assert time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish_and_the_instance_ends_within_cloud_foundry_s_10_s(
    tmp_path: Path, mock_sap: MockSap, redis_url: str, dev_idp_key_file: str
) -> None:
    process, url = _start_gunicorn(tmp_path, mock_sap, redis_url, dev_idp_key_file)
    try:
        token = mint_token(Settings(dev_idp_key_file=dev_idp_key_file), "pm", ["PlantManager"], {"Plant": ["1010"]})
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{url}/api/v1/production-orders?limit=1", headers=headers, timeout=30).status_code == 200
        slow = {"service": "API_PRODUCTION_ORDER_2_SRV", "latency_ms": SAP_TAKES_MS}
        requests.post(f"{mock_sap.url}/mock-admin/faults", json=slow, timeout=10).raise_for_status()
        answers: list[requests.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(
                requests.get(f"{url}/api/v1/production-orders?limit=2", headers=headers, timeout=30)
            )
        )
        in_flight.start()
        time.sleep(1.0)  # the request is waiting for SAP
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        in_flight.join(timeout=30)
        process.wait(timeout=CF_KILLS_AFTER + 5)
        took = time.monotonic() - stopped_at
        assert answers and answers[0].status_code == 200, answers and answers[0].text
        assert len(answers[0].json()["items"]) == 2
        assert took < CF_KILLS_AFTER, f"gunicorn took {took:.1f}s to stop: Cloud Foundry would have killed it"
        with pytest.raises(requests.ConnectionError):  # it took nothing new once asked to stop
            requests.get(f"{url}/health/live", timeout=5)
    finally:
        requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()
