"""Protocol edges of SAP Gateway: sap-client, unknown services, media types, error bodies, sap-message."""

from __future__ import annotations

import json
import re

import requests

from .conftest import PRODCONF, PRODORD, TASKS, Sap, assert_sap_error

ORDERS = "A_ProductionOrder_2"


def logon_client(sap: Sap) -> str:
    """The SAP client of the logon, read from the anti-XSRF cookie `sap-XSRF_<SID>_<client>`."""
    sap.fetch_csrf(PRODORD)
    names = [c.name for c in sap.session.cookies if c.name.startswith("sap-XSRF_")]
    assert names, "the CSRF fetch sets the sap-XSRF_<SID>_<client> cookie"
    match = re.fullmatch(r"sap-XSRF_([A-Z0-9]{3})_(\d{3})", names[0])
    assert match, f"anti-XSRF cookie name {names[0]!r} is not sap-XSRF_<SID>_<client>"
    return match.group(2)


def test_sap_client_parameter_selects_the_logon_client(tech: Sap):
    client = logon_client(tech)
    plain = tech.read(PRODORD, ORDERS, {"$top": "3", "$orderby": "ManufacturingOrder"})
    explicit = tech.read(PRODORD, ORDERS, {"$top": "3", "$orderby": "ManufacturingOrder", "sap-client": client})
    assert [o["ManufacturingOrder"] for o in explicit["results"]] == [o["ManufacturingOrder"] for o in plain["results"]]
    metadata = tech.session.get(tech.url(PRODORD, "$metadata", {"sap-client": client}), timeout=30)
    assert metadata.status_code == 200


def test_unknown_sap_client_is_refused(tech: Sap):
    client = logon_client(tech)
    other = "999" if client != "999" else "998"
    response = tech.get(PRODORD, ORDERS, {"$top": "1", "sap-client": other})
    assert 400 <= response.status_code < 500, response.status_code


def test_sap_client_works_for_writes_with_csrf(tech: Sap):
    client = logon_client(tech)
    order = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    token = tech.session.get(
        tech.url(PRODORD, "", {"sap-client": client}), headers={"X-CSRF-Token": "Fetch"}, timeout=30
    ).headers["x-csrf-token"]
    response = tech.session.post(
        tech.url(
            PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{order['ManufacturingOrder']}'", "sap-client": client}
        ),
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_unknown_service_is_404_with_gateway_error(tech: Sap):
    response = tech.session.get(
        f"{tech.root}/sap/opu/odata/sap/API_NO_SUCH_SRV/", headers={"Accept": "application/json"}, timeout=30
    )
    error = assert_sap_error(response, 404)
    assert error["code"].startswith("/IWFND/")


def test_create_with_non_json_body_is_415(tech: Sap):
    response = tech.write(
        "POST",
        PRODCONF,
        "ProdnOrdConf2",
        body="OrderID=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


def test_create_with_broken_json_is_400(tech: Sap):
    response = tech.write(
        "POST", PRODCONF, "ProdnOrdConf2", body="{not json", headers={"Content-Type": "application/json"}
    )
    assert_sap_error(response, 400)


def test_create_with_unknown_property_is_400(tech: Sap):
    response = tech.write("POST", PRODCONF, "ProdnOrdConf2", body={"NoSuchProperty": "1"})
    assert_sap_error(response, 400)


def test_create_on_non_creatable_set_is_refused(tech: Sap):
    response = tech.write("POST", PRODORD, "A_ProductionOrderOperation_2", body={"ManufacturingOrder": "1"})
    assert 400 <= response.status_code < 600
    assert_sap_error(response)


def test_error_body_is_json_by_default_and_has_a_unique_transaction_id(tech: Sap):
    ids = set()
    for _ in range(3):
        response = tech.session.get(tech.url(PRODORD, "A_NoSuchEntitySet"), timeout=30)
        ids.add(assert_sap_error(response, 404)["innererror"]["transactionid"])
    assert len(ids) == 3


def test_sap_message_header_when_present_is_gateway_json(tech: Sap):
    """Any `sap-message` header the mock sends must parse as Gateway's message JSON."""
    order = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    key = order["ManufacturingOrder"]
    responses = [
        tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{key}'"),
        tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{key}'"),  # already released
    ]
    for response in responses:
        header = response.headers.get("sap-message")
        if header is None:
            continue
        message = json.loads(header)
        assert {"code", "message", "severity"} <= message.keys()
        assert message["severity"] in ("info", "success", "warning", "error")
        assert isinstance(message.get("details", []), list)


def test_service_roots_answer_for_every_service(tech: Sap, sap):
    for service, user in ((PRODORD, None), (PRODCONF, None), (TASKS, "EXEC_ANNA")):
        helper = sap(user) if user else tech
        response = helper.get(service)
        assert response.status_code == 200, service
        assert isinstance(response.json()["d"]["EntitySets"], list)
    assert requests.get(tech.url(PRODORD), timeout=30).status_code == 401


def test_taskprocessing_answers_under_the_path_variants_clients_use(sap):
    anna = sap("EXEC_ANNA")
    expected = {t["InstanceID"] for t in anna.results(TASKS, "TaskCollection")}
    for variant in ("TASKPROCESSING;v=2", "TASKPROCESSING;v=2;mo", "TASKPROCESSING;mo;v=2"):
        response = anna.session.get(
            f"{anna.root}/sap/opu/odata/IWPGW/{variant}/TaskCollection",
            headers={"Accept": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, variant
        assert {t["InstanceID"] for t in response.json()["d"]["results"]} == expected, variant


def test_without_accept_or_format_gateway_does_not_answer_json(tech: Sap):
    """SAP Gateway's default representation of a feed is Atom XML: only `Accept: application/json` or
    `$format=json` give JSON. A client that forgets both must not pass here and break on S/4HANA."""
    response = tech.session.get(tech.url(PRODORD, ORDERS, {"$top": "1"}), headers={"Accept": "*/*"}, timeout=30)
    content_type = response.headers.get("Content-Type", "")
    assert response.status_code in (200, 406), response.status_code
    assert "json" not in content_type, f"JSON without asking for it ({content_type})"
