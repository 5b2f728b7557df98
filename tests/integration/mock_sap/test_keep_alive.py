"""`python -m mock_sap` keeps connections alive like a real Gateway, and faults still cut them without an answer."""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import PRODORD, SERVICE_PATHS, TECH_PASSWORD, TECH_USER

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = f"{SERVICE_PATHS[PRODORD]}A_ProductionOrder_2"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{TECH_USER}:{TECH_PASSWORD}".encode()).decode()}
JSON = {**AUTH, "Accept": "application/json"}


@pytest.fixture
def connection(mock_sap: MockSap) -> Iterator[http.client.HTTPConnection]:
    """One raw HTTP/1.1 connection to the reset mock (http.client never reconnects behind our back)."""
    address = urlsplit(mock_sap.url)
    assert address.hostname and address.port
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    conn.auto_open = 0  # a closed connection must fail loudly instead of being reopened
    conn.connect()
    yield conn
    conn.close()


def get(conn: http.client.HTTPConnection, target: str) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("GET", target, headers=JSON)
    response = conn.getresponse()
    return response, response.read()


def local_port(conn: http.client.HTTPConnection) -> int:
    assert conn.sock is not None, "the connection was closed"
    port: int = conn.sock.getsockname()[1]
    return port


def test_two_odata_gets_travel_on_one_connection(connection: http.client.HTTPConnection):
    port = local_port(connection)
    first, body = get(connection, f"{ORDERS}?$top=1&$format=json")
    assert first.status == 200, body
    assert first.version == 11
    assert first.getheader("Connection", "").lower() != "close"
    assert json.loads(body)["d"]["results"]
    assert local_port(connection) == port

    key = json.loads(body)["d"]["results"][0]["ManufacturingOrder"]
    second, body = get(connection, f"{ORDERS}('{key}')")
    assert second.status == 200, body
    assert second.getheader("Connection", "").lower() != "close"
    assert json.loads(body)["d"]["ManufacturingOrder"] == key
    assert local_port(connection) == port, "the second GET opened a new TCP connection"


def test_errors_keep_the_connection_too(connection: http.client.HTTPConnection):
    port = local_port(connection)
    missing, _ = get(connection, f"{ORDERS}('0')")
    assert missing.status == 404
    assert missing.getheader("Connection", "").lower() != "close"
    again, _ = get(connection, f"{ORDERS}?$top=1")
    assert again.status == 200
    assert local_port(connection) == port


def test_drop_fault_ends_a_kept_alive_connection_without_an_answer(
    mock_sap: MockSap, connection: http.client.HTTPConnection
):
    warm, _ = get(connection, f"{ORDERS}?$top=1")  # the connection is now a kept-alive one
    assert warm.status == 200
    fault = {"service": PRODORD, "drop": True, "methods": ["GET"]}
    requests.post(f"{mock_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    try:
        started = time.monotonic()
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            get(connection, f"{ORDERS}?$top=1")
        assert time.monotonic() - started < 5, "the drop took as long as a timeout"
    finally:
        requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def test_hang_fault_ends_without_an_answer_once_faults_are_cleared(
    mock_sap: MockSap, connection: http.client.HTTPConnection
):
    fault = {"service": PRODORD, "hang": True, "methods": ["GET"]}
    requests.post(f"{mock_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    try:
        connection.request("GET", f"{ORDERS}?$top=1", headers=JSON)
        time.sleep(0.3)  # the request is held by the mock now
        # Another client is not starved meanwhile.
        health = requests.get(f"{mock_sap.url}/mock-admin/health", timeout=5)
        assert health.status_code == 200
    finally:
        requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
