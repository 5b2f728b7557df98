"""manifest.yml on the local Cloud Foundry launcher: the API's instances come up over PostgreSQL, Redis, XSUAA and
SAP BTP's Destination service, a supervisor's confirmation reaches SAP, and a stop is Cloud Foundry's (SIGTERM, no
instance left for SIGKILL after 10 s)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from devenv.cf import STOP_GRACE
from store import TERMINAL
from tests.e2e.cf_env import assert_stopped_on_sigterm, local_cf, needs_postgres
from tests.e2e.writeback_env import poll


@pytest.mark.slow
@needs_postgres
def test_the_api_runs_from_its_manifest_confirms_through_the_destination_service_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    args = ["--apps", "sap-extension-api", "--scale", "web=1,worker=1", "--env", "VERIFY_RESPONSE_DUMP=1"]
    with local_cf(tmp_path, *args) as cf:
        state = cf.state()
        assert {(p, len(i["instances"])) for p, i in state["apps"]["sap-extension-api"]["processes"].items()} >= {
            ("web", 1),
            ("worker", 1),
        }
        services = state["services"]
        web = cf.instance("web", 0)
        attributes = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
        headers = {"Authorization": f"Bearer {cf.token('SUP_ASSY1010', ['Supervisor'], attributes)}"}

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

        code = cf.stop(timeout=STOP_GRACE + 60)  # the instances' grace, then the backing services
    assert_stopped_on_sigterm(cf, code)
