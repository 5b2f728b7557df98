"""One running mock_btp for the package: clients, destinations, Cloud Connector mappings to live backends."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from devenv.redis_server import free_port
from runtime.settings import DEV_ISSUER, DEV_SAP_PASSWORD, DEV_SAP_USER
from runtime.user_assertion import load_or_create_key, sign, user_claims
from tests.conftest import MockBtp, MockSap, start_mock_btp

DESTINATION_CLIENT = "sb-destination-xsappname!b42"
CONNECTIVITY_CLIENT = "sb-connectivity-xsappname!b17"
SAP_CLIENT = "s4-oauth-client"  # a client SAP's own OAuth server knows, acting as the technical user
SECRETS = {DESTINATION_CLIENT: "dest-secret", CONNECTIVITY_CLIENT: "conn-secret", SAP_CLIENT: "sap-secret"}

SAP_HOST = "s4-onprem:44300"  # -> the shared mock SAP (technical Basic user)
PP_HOST = "s4-pp:44300"  # -> a mock SAP that trusts the stand-in's issuer (principal propagation)
ECHO_HOST = "echo:8080"  # -> a local server answering with what it received
DOWN_HOST = "down:80"  # -> a port nobody listens on
OTHER_LOCATION = "plant-b"
OTHER_LOCATION_HOST = "s4-plant-b:443"  # mapped only for OTHER_LOCATION
BARRIER_PARTIES = 6

ORDERS_PATH = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2?$top=1&$format=json"
TASKS_PATH = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/TaskCollection?$top=1&$format=json"


def destinations(base: str) -> list[dict[str, Any]]:
    """One destination per Authentication type; extra properties must come back verbatim."""
    on_premise = {"Type": "HTTP", "ProxyType": "OnPremise", "sap-client": "100", "WebIDEEnabled": "true"}
    return [
        {
            "Name": "S4_BASIC",
            "URL": f"http://{SAP_HOST}",
            "Authentication": "BasicAuthentication",
            "User": DEV_SAP_USER,
            "Password": DEV_SAP_PASSWORD,
            **on_premise,
        },
        {
            "Name": "S4_OAUTH",
            "Type": "HTTP",
            "URL": "https://s4.example.com",
            "ProxyType": "Internet",
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": f"{base}/oauth/token",
            "clientId": SAP_CLIENT,
            "clientSecret": SECRETS[SAP_CLIENT],
        },
        {
            "Name": "S4_OAUTH_BAD_CLIENT",
            "Type": "HTTP",
            "URL": "https://s4.example.com",
            "ProxyType": "Internet",
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": f"{base}/oauth/token",
            "clientId": "nobody",
            "clientSecret": "wrong",
        },
        {
            "Name": "S4_JWT_BEARER",
            "Type": "HTTP",
            "URL": "https://s4.example.com",
            "ProxyType": "Internet",
            "Authentication": "OAuth2JWTBearer",
            "tokenServiceURL": f"{base}/oauth/token",
            "clientId": SAP_CLIENT,
            "clientSecret": SECRETS[SAP_CLIENT],
        },
        {
            "Name": "S4_SAML_BEARER",
            "Type": "HTTP",
            "URL": "https://s4.example.com",
            "ProxyType": "Internet",
            "Authentication": "OAuth2SAMLBearerAssertion",
            "audience": "S4HCLNT100",
            "tokenServiceURL": f"{base}/oauth/token",
            "clientKey": SAP_CLIENT,
        },
        {"Name": "S4_PP", "URL": f"http://{PP_HOST}", "Authentication": "PrincipalPropagation", **on_premise},
        {"Name": "NO_AUTH", "Type": "HTTP", "URL": "https://example.com", "Authentication": "NoAuthentication"},
    ]


def btp_config(base: str, sap_url: str, pp_sap_url: str, echo_url: str) -> dict[str, Any]:
    return {
        "clients": {
            DESTINATION_CLIENT: {"secret": SECRETS[DESTINATION_CLIENT], "user_name": None},
            CONNECTIVITY_CLIENT: {"secret": SECRETS[CONNECTIVITY_CLIENT], "user_name": None},
            SAP_CLIENT: {"secret": SECRETS[SAP_CLIENT], "user_name": DEV_SAP_USER},
        },
        "destination_client": DESTINATION_CLIENT,
        "connectivity_client": CONNECTIVITY_CLIENT,
        "destinations": destinations(base),
        "cloud_connector": [
            {"location_id": "", "virtual_host": SAP_HOST, "internal_url": sap_url},
            {"location_id": "", "virtual_host": PP_HOST, "internal_url": pp_sap_url},
            {"location_id": "", "virtual_host": ECHO_HOST, "internal_url": echo_url},
            {"location_id": "", "virtual_host": DOWN_HOST, "internal_url": f"http://127.0.0.1:{free_port()}"},
            {"location_id": OTHER_LOCATION, "virtual_host": OTHER_LOCATION_HOST, "internal_url": sap_url},
        ],
    }


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with the request as received; /redirect and /gzip answer what a proxy must not touch."""

    protocol_version = "HTTP/1.1"
    barrier = threading.Barrier(BARRIER_PARTIES)  # /barrier answers once that many requests wait at once

    def do_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/barrier":
            try:
                self.barrier.wait(timeout=10)
                self._answer(200, b"together", [])
            except threading.BrokenBarrierError:
                self._answer(504, b"alone", [])
        elif self.path == "/redirect":
            self._answer(302, b"", [("Location", "/elsewhere")])
        elif self.path == "/gzip":
            self._answer(200, gzip.compress(b"zipped" * 100), [("Content-Encoding", "gzip")])
        elif self.path == "/no-content":
            self._answer(204, b"", [])
        else:
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": [[name.lower(), value] for name, value in self.headers.items()],
                "body": body.decode(),
            }
            cookies = [("Set-Cookie", "SAP_SESSIONID_S4H_100=abc; path=/"), ("Set-Cookie", "sap-usercontext=x")]
            self._answer(200, json.dumps(echo).encode(), [("Content-Type", "application/json"), *cookies])

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_MERGE = do_DELETE = do_request

    def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Btp:
    """The package's stand-in, with the mock SAP behind its principal-propagation mapping."""

    server: MockBtp
    pp_sap: MockSap
    echo_url: str
    user_key_file: str

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, client: str) -> str:
        response = requests.post(
            f"{self.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client, SECRETS[client]),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def lookup(self, name: str, *, token: str | None = None, **headers: str) -> requests.Response:
        """GET the destination with a fresh token of the destination client (unless given)."""
        token = token if token is not None else self.token(DESTINATION_CLIENT)
        return requests.get(
            f"{self.url}/destination-configuration/v1/destinations/{name}",
            headers={"Authorization": f"Bearer {token}", **headers},
            timeout=10,
        )

    def user_token(self, user: str, *, lifetime: int = 600, issuer: str = DEV_ISSUER) -> str:
        """A user JWT of the development IdP (the issuer the stand-in trusts), as the app's users have."""
        claims = user_claims(
            issuer=issuer,
            xsappname="sap-extension-api",
            user=user,
            scopes=[],
            attributes={},
            role_collections=[],
            lifetime=lifetime,
            origin="test",
            grant_type="authorization_code",
        )
        return sign(load_or_create_key(self.user_key_file), claims)

    def proxy_session(self, token: str | None = None, **headers: str) -> requests.Session:
        """A session sending every request through the proxy, with a connectivity token (unless given)."""
        session = requests.Session()
        session.trust_env = False
        session.proxies = {"http": self.server.proxy_url}
        token = token if token is not None else self.token(CONNECTIVITY_CLIENT)
        session.headers.update({"Proxy-Authorization": f"Bearer {token}", **headers})
        return session


def verified_claims(btp: Btp, token: str) -> dict[str, Any]:
    """The token's claims, checked against the stand-in's published keys as mock SAP checks them."""
    keys = KeySet.import_key_set(requests.get(f"{btp.url}/token_keys", timeout=10).json())
    claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
    jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)
    assert claims["iss"] == f"{btp.url}/oauth/token"
    return dict(claims)


@pytest.fixture(scope="package")
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="package")
def btp_server(
    mock_sap_server: MockSap,
    mock_sap_factory: Callable[..., MockSap],
    dev_idp_key_file: str,
    dev_idp_jwks_url: str,
    echo_url: str,
) -> Iterator[Btp]:
    # The mock SAP must know the stand-in's issuer URL when it starts, so the stand-in's port is chosen first.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pp_sap = mock_sap_factory(
        "--orders", "50", "--trusted-issuer", f"{base}/oauth/token", "--trusted-jwks-url", f"{base}/token_keys"
    )
    config = btp_config(base, mock_sap_server.url, pp_sap.url, echo_url)
    trust = ("--trusted-issuer", DEV_ISSUER, "--trusted-jwks-url", dev_idp_jwks_url)
    server = start_mock_btp(config, *trust, port=port)
    yield Btp(server=server, pp_sap=pp_sap, echo_url=echo_url, user_key_file=dev_idp_key_file)
    server.stop()


@pytest.fixture
def btp(btp_server: Btp) -> Btp:
    """The package's stand-in with zeroed counters."""
    btp_server.server.admin("reset-stats", "POST")
    return btp_server
