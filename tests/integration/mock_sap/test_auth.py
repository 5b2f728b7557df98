"""Authentication: HTTP Basic (technical and named users), bearer JWT from a trusted issuer, 401 otherwise."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from .conftest import EXECUTIVES, PRODORD, SERVICE_PATHS, TASKS, TECH_USER, Sap, new_session

if TYPE_CHECKING:
    from tests.conftest import MockSap

ISSUER = "https://tenant.authentication.example.com/oauth/token"


@dataclass
class Jwks:
    url: str
    key: RSAKey
    requests: list[str]


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    """A tiny JWKS endpoint on a local thread, serving the public half of a fresh RSA key."""
    key = RSAKey.generate_key(2048, parameters={"kid": "mock-sap-test-key", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [key.as_dict(private=False)]}).encode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Jwks(f"http://127.0.0.1:{server.server_address[1]}/token_keys", key, seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def trusting_mock(jwks: Jwks, mock_sap_factory: Callable[..., MockSap]) -> MockSap:
    return mock_sap_factory("--trusted-issuer", ISSUER, "--trusted-jwks-url", jwks.url)


def token(key: Any, alg: str = "RS256", kid: str | None = "mock-sap-test-key", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "iat": now, "exp": now + 600, "user_name": "exec_anna", "origin": "idp", **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, payload, key)


def bearer_get(server: MockSap, service: str, path: str, bearer: str) -> requests.Response:
    return requests.get(
        f"{server.url}{SERVICE_PATHS[service]}{path}",
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
        timeout=30,
    )


def task_ids(response: requests.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {t["InstanceID"] for t in response.json()["d"]["results"]}


# --- Basic -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", list(SERVICE_PATHS))
def test_anonymous_is_401_with_basic_challenge(mock_sap: MockSap, service: str):
    response = requests.get(f"{mock_sap.url}{SERVICE_PATHS[service]}", timeout=30)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("basic")


@pytest.mark.parametrize(
    ("user", "password"),
    [(TECH_USER, "wrong"), ("EXEC_ANNA", "tech-pass-1"), ("NOBODY", "user-pass-1"), ("", "")],
)
def test_wrong_credentials_are_401(sap: Callable[..., Sap], user: str, password: str):
    helper = sap(user, password)
    assert helper.get(PRODORD, "A_ProductionOrder_2", {"$top": "1"}).status_code == 401


@pytest.mark.parametrize("user", [TECH_USER, *EXECUTIVES])
def test_known_users_can_log_on(sap: Callable[..., Sap], user: str):
    assert sap(user).get(PRODORD, "A_ProductionOrder_2", {"$top": "1"}).status_code == 200


def test_401_covers_metadata_csrf_fetch_writes_and_batch(mock_sap: MockSap):
    anonymous = new_session(None)
    root = f"{mock_sap.url}{SERVICE_PATHS[PRODORD]}"
    assert anonymous.get(root + "$metadata", timeout=30).status_code == 401
    fetch = anonymous.head(root, headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert fetch.status_code == 401
    assert not fetch.headers.get("x-csrf-token") or fetch.headers["x-csrf-token"].lower() == "required"
    assert anonymous.post(root + "ReleaseOrder?ManufacturingOrder='1'", timeout=30).status_code == 401
    batch = anonymous.post(
        root + "$batch", data="--b--", headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=30
    )
    assert batch.status_code == 401


# --- Bearer ----------------------------------------------------------------------------------------


def test_bearer_from_trusted_issuer_maps_user_name_to_sap_user(trusting_mock: MockSap, jwks: Jwks):
    trusting_mock.reset()
    basic = new_session("EXEC_ANNA")
    json_feed = {"Accept": "application/json"}  # without it Gateway answers Atom XML
    expected = task_ids(
        basic.get(f"{trusting_mock.url}{SERVICE_PATHS[TASKS]}TaskCollection", headers=json_feed, timeout=30)
    )
    assert expected, "EXEC_ANNA has open tasks"
    assert task_ids(bearer_get(trusting_mock, TASKS, "TaskCollection", token(jwks.key))) == expected
    ben = task_ids(bearer_get(trusting_mock, TASKS, "TaskCollection", token(jwks.key, user_name="Exec_Ben")))
    assert ben and not ben & expected
    assert jwks.requests, "the mock fetched the issuer's JWKS"


def test_bearer_user_can_write_with_csrf_and_acts_as_that_user(trusting_mock: MockSap, jwks: Jwks):
    trusting_mock.reset()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(jwks.key, user_name='exec_carla')}"
    root = f"{trusting_mock.url}{SERVICE_PATHS[TASKS]}"
    fetch = session.get(root, headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert fetch.status_code == 200
    tasks = session.get(root + "TaskCollection", headers={"Accept": "application/json"}, timeout=30)
    task = next(t for t in tasks.json()["d"]["results"] if t.get("SupportsClaim", True))
    response = session.post(
        root + f"Claim?SAP__Origin='{task['SAP__Origin']}'&InstanceID='{task['InstanceID']}'",
        headers={"X-CSRF-Token": fetch.headers["x-csrf-token"], "Accept": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["d"]["Processor"] == "EXEC_CARLA"


def _none_alg_token() -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'iss': ISSUER, 'exp': now + 600, 'user_name': 'exec_anna'})}."


@pytest.mark.parametrize(
    "case",
    ["foreign key", "wrong issuer", "expired", "no user_name", "hs256", "alg none", "garbage"],
)
def test_untrusted_bearer_tokens_are_401(trusting_mock: MockSap, jwks: Jwks, case: str):
    foreign = RSAKey.generate_key(2048, parameters={"kid": "mock-sap-test-key"})
    bearer = {
        "foreign key": lambda: token(foreign),
        "wrong issuer": lambda: token(jwks.key, iss="https://evil.example.com/oauth/token"),
        "expired": lambda: token(jwks.key, exp=int(time.time()) - 120, iat=int(time.time()) - 900),
        "no user_name": lambda: token(jwks.key, user_name=None),
        "hs256": lambda: token(OctKey.generate_key(256), alg="HS256"),
        "alg none": _none_alg_token,
        "garbage": lambda: "not.a.jwt",
    }[case]()
    response = bearer_get(trusting_mock, PRODORD, "A_ProductionOrder_2?$top=1", bearer)
    assert response.status_code == 401, case


def test_bearer_is_refused_when_no_issuer_is_trusted(mock_sap: MockSap, jwks: Jwks):
    response = bearer_get(mock_sap, PRODORD, "A_ProductionOrder_2?$top=1", token(jwks.key))
    assert response.status_code == 401
