"""The Connectivity proxy stand-in: proxy authentication, Cloud Connector routing, forwarding, principal propagation."""

from __future__ import annotations

import gzip
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from runtime.settings import DEV_SAP_PASSWORD, DEV_SAP_USER
from tests.conftest import MockSap

from .conftest import (
    BARRIER_PARTIES,
    CONNECTIVITY_CLIENT,
    DESTINATION_CLIENT,
    DOWN_HOST,
    ECHO_HOST,
    ORDERS_PATH,
    OTHER_LOCATION,
    OTHER_LOCATION_HOST,
    PP_HOST,
    SAP_HOST,
    TASKS_PATH,
    Btp,
    verified_claims,
)

TECH = (DEV_SAP_USER, DEV_SAP_PASSWORD)
NO_CONNECTOR = "There is no SAP Cloud Connector (SCC) connected to your subaccount with location id"


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    body["headers"] = dict(body["headers"])
    return dict(body)


def sap_users(sap: MockSap) -> list[str]:
    return [entry["user"] for entry in requests.get(f"{sap.url}/mock-admin/requests", timeout=10).json()["requests"]]


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic Y29ubjpjb25uLXNlY3JldA==", "Bearer not-a-jwt", "Bearer {destination_token}"],
    ids=["none", "basic", "garbage", "other-client"],
)
def test_proxy_without_a_valid_connectivity_token_is_407(btp: Btp, authorization: str | None):
    session = btp.proxy_session()
    del session.headers["Proxy-Authorization"]
    headers = {}
    if authorization is not None:
        token = btp.token(DESTINATION_CLIENT)
        headers["Proxy-Authorization"] = authorization.format(destination_token=token)
    response = session.get(f"http://{ECHO_HOST}/", headers=headers, timeout=10)
    assert response.status_code == 407
    assert response.headers["Proxy-Authenticate"] == 'Bearer realm="connectivity"'
    assert "Proxy-Authorization" in response.text
    assert btp.server.admin("stats")["proxy_requests"] == 1


def test_proxy_refuses_a_revoked_connectivity_token(btp: Btp):
    session = btp.proxy_session()
    assert session.get(f"http://{ECHO_HOST}/", timeout=10).status_code == 200
    btp.server.admin("revoke-tokens", "POST")
    response = session.get(f"http://{ECHO_HOST}/", timeout=10)
    assert response.status_code == 407
    assert "revoked" in response.text


def test_unknown_location_id_is_503(btp: Btp):
    response = btp.proxy_session(**{"SAP-Connectivity-SCC-Location_ID": "nowhere"}).get(
        f"http://{SAP_HOST}{ORDERS_PATH}", timeout=10
    )
    assert response.status_code == 503
    assert (
        response.text == "There is no SAP Cloud Connector (SCC) connected to your subaccount with location id nowhere"
    )


def test_unmapped_host_is_403(btp: Btp):
    response = btp.proxy_session().get(f"http://s4-unknown:44300{ORDERS_PATH}", timeout=10)
    assert response.status_code == 403
    assert response.text == "access denied to system s4-unknown:44300: not exposed by the Cloud Connector"


def test_location_id_selects_the_cloud_connector(btp: Btp, mock_sap: MockSap):
    url = f"http://{OTHER_LOCATION_HOST}{ORDERS_PATH}"
    assert btp.proxy_session().get(url, auth=TECH, timeout=10).status_code == 403
    response = btp.proxy_session(**{"SAP-Connectivity-SCC-Location_ID": OTHER_LOCATION}).get(url, auth=TECH, timeout=10)
    assert response.status_code == 200, response.text


def test_unreachable_backend_is_502(btp: Btp):
    response = btp.proxy_session().get(f"http://{DOWN_HOST}/", timeout=30)
    assert response.status_code == 502
    assert response.text == f"Cloud Connector could not reach {DOWN_HOST}"


def test_basic_read_reaches_mock_sap_through_the_proxy(btp: Btp, mock_sap: MockSap):
    session = btp.proxy_session()
    response = session.get(f"http://{SAP_HOST}{ORDERS_PATH}", auth=TECH, timeout=30)
    assert response.status_code == 200, response.text
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert "Transfer-Encoding" not in response.headers
    assert len(response.json()["d"]["results"]) == 1
    head = session.head(f"http://{SAP_HOST}{ORDERS_PATH}", auth=TECH, timeout=30)  # same kept-alive connection
    assert head.status_code == 200
    assert head.content == b""
    assert sap_users(mock_sap)[-2:] == [DEV_SAP_USER, DEV_SAP_USER]
    assert btp.server.admin("stats")["proxy_requests"] == 2


def test_wrong_basic_password_comes_back_from_sap_unchanged(btp: Btp, mock_sap: MockSap):
    response = btp.proxy_session().get(f"http://{SAP_HOST}{ORDERS_PATH}", auth=(DEV_SAP_USER, "wrong"), timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_post_with_a_fetched_csrf_token_passes_the_session_cookies_through(btp: Btp, mock_sap: MockSap):
    session = btp.proxy_session()
    session.auth = TECH
    root = f"http://{SAP_HOST}/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
    query = "$filter=OrderIsReleased eq ''&$top=1&$format=json"
    order = session.get(f"{root}/A_ProductionOrder_2?{query}", timeout=30).json()["d"]["results"][0]
    fetch = session.head(f"{root}/", headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    token = fetch.headers["x-csrf-token"]
    assert any(cookie.name.startswith("sap-XSRF_") for cookie in session.cookies), fetch.headers
    release = f"{root}/ReleaseOrder?ManufacturingOrder='{order['ManufacturingOrder']}'"
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    without_cookies = btp.proxy_session().post(release, headers=headers, auth=TECH, timeout=30)
    assert without_cookies.status_code == 403  # the token is bound to the session the cookies carry
    assert without_cookies.headers["x-csrf-token"].lower() == "required"
    response = session.post(release, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    released = session.get(f"{root}/A_ProductionOrder_2('{order['ManufacturingOrder']}')?$format=json", timeout=30)
    assert released.json()["d"]["OrderIsReleased"] == "X"


def test_principal_propagation_reaches_sap_as_the_user(btp: Btp):
    requests.delete(f"{btp.pp_sap.url}/mock-admin/requests", timeout=10).raise_for_status()
    session = btp.proxy_session(**{"SAP-Connectivity-Authentication": f"Bearer {btp.user_token('EXEC_ANNA')}"})
    # The request's own credentials are replaced by the user's.
    response = session.get(f"http://{PP_HOST}{TASKS_PATH}", auth=TECH, timeout=30)
    assert response.status_code == 200, response.text
    assert "results" in response.json()["d"]
    assert sap_users(btp.pp_sap) == ["EXEC_ANNA"]


def test_principal_propagation_bearer_is_a_short_lived_stand_in_token(btp: Btp):
    user_token = btp.user_token("EXEC_BEN")
    session = btp.proxy_session(**{"SAP-Connectivity-Authentication": f"Bearer {user_token}"})
    headers = echoed(session.get(f"http://{ECHO_HOST}/", timeout=10))["headers"]
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer" and token != user_token
    claims = verified_claims(btp, token)
    assert claims["user_name"] == "EXEC_BEN"
    assert claims["exp"] - claims["iat"] <= 300


@pytest.mark.parametrize("value", ["Bearer not-a-jwt", "Bearer {expired}", "Basic ZXhlYzpwYXNz"])
def test_invalid_user_token_is_401_and_nothing_is_forwarded(btp: Btp, value: str):
    requests.delete(f"{btp.pp_sap.url}/mock-admin/requests", timeout=10).raise_for_status()
    value = value.format(expired=btp.user_token("EXEC_ANNA", lifetime=-60))
    session = btp.proxy_session(**{"SAP-Connectivity-Authentication": value})
    response = session.get(f"http://{PP_HOST}{TASKS_PATH}", auth=TECH, timeout=30)
    assert response.status_code == 401
    assert response.text.startswith("principal propagation failed: ")
    assert sap_users(btp.pp_sap) == []


def test_headers_are_forwarded_except_hop_by_hop_and_proxy_ones(btp: Btp):
    session = btp.proxy_session(**{"SAP-Connectivity-SCC-Location_ID": ""})
    headers = {
        "Cookie": "SAP_SESSIONID_S4H_100=abc",
        "X-CSRF-Token": "tok",
        "If-Match": 'W/"20240101"',
        "Authorization": "Basic dTpw",
        "Proxy-Connection": "keep-alive",
        "Connection": "keep-alive, X-Private",
        "X-Private": "hop",
    }
    url = f"http://{ECHO_HOST}/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/Decision?SAP__Origin='X'&x=%20y"
    response = session.request("MERGE", url, headers=headers, data=b'{"a": 1}', timeout=10)
    body = echoed(response)
    assert body["method"] == "MERGE"
    assert body["path"] == "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/Decision?SAP__Origin='X'&x=%20y"
    assert body["body"] == '{"a": 1}'
    forwarded = body["headers"]
    for name in ("cookie", "x-csrf-token", "if-match", "authorization"):
        assert forwarded[name] == headers[{h.lower(): h for h in headers}[name]], name
    for name in ("proxy-authorization", "proxy-connection", "x-private", "sap-connectivity-scc-location_id"):
        assert name not in forwarded, name
    assert forwarded["host"] == btp.echo_url.removeprefix("http://")  # the Cloud Connector calls the internal host
    assert response.raw.headers.getlist("Set-Cookie") == ["SAP_SESSIONID_S4H_100=abc; path=/", "sap-usercontext=x"]


def test_chunked_request_bodies_are_forwarded_with_a_length(btp: Btp):
    def chunks():
        yield b"first,"
        yield b"second"

    body = echoed(btp.proxy_session().post(f"http://{ECHO_HOST}/upload", data=chunks(), timeout=10))
    assert body["body"] == "first,second"
    assert body["headers"]["content-length"] == "12"
    assert "transfer-encoding" not in body["headers"]


def test_redirects_204_and_compressed_bodies_come_back_unchanged(btp: Btp):
    session = btp.proxy_session()
    redirect = session.get(f"http://{ECHO_HOST}/redirect", allow_redirects=False, timeout=10)
    assert (redirect.status_code, redirect.headers["Location"]) == (302, "/elsewhere")
    assert session.delete(f"http://{ECHO_HOST}/no-content", timeout=10).status_code == 204
    zipped = session.get(f"http://{ECHO_HOST}/gzip", stream=True, timeout=10)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(raw)
    assert gzip.decompress(raw) == b"zipped" * 100


def test_absolute_form_request_line_over_a_raw_socket(btp: Btp):
    """Exactly what an HTTP/1.1 client sends to a forward proxy, two requests on one connection."""
    host, port = btp.server.proxy_url.removeprefix("http://").split(":")
    token = btp.token(CONNECTIVITY_CLIENT)
    request = (
        f"GET http://{ECHO_HOST}/first HTTP/1.1\r\nHost: {ECHO_HOST}\r\nProxy-Authorization: Bearer {token}\r\n\r\n"
        f"HEAD http://{ECHO_HOST}/second HTTP/1.1\r\nHost: {ECHO_HOST}\r\nProxy-Authorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    first, _, rest = received.partition(b"\r\n\r\n")
    length = int(
        next(line for line in first.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
    )
    assert first.startswith(b"HTTP/1.1 200")
    assert b'"path": "/first"' in rest[:length]
    second = rest[length:]
    assert second.startswith(b"HTTP/1.1 200")
    assert second.endswith(b"\r\n\r\n")  # HEAD: headers only


def test_concurrent_requests_are_forwarded_at_the_same_time(btp: Btp):
    token = btp.token(CONNECTIVITY_CLIENT)

    def call(_: int) -> int:
        return btp.proxy_session(token).get(f"http://{ECHO_HOST}/barrier", timeout=30).status_code

    with ThreadPoolExecutor(BARRIER_PARTIES) as pool:
        assert list(pool.map(call, range(BARRIER_PARTIES))) == [200] * BARRIER_PARTIES
