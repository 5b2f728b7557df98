"""Local stand-ins for the SAP BTP services around the apps, and the service bindings (VCAP_SERVICES) to them.

An XSUAA key server (a signing key's JWKS at <url>/token_keys, in the launcher's own process), mock_btp's
Destination service and Connectivity proxy with destinations to the mock SAP, and one binding per service name
of a manifest. `python3 dev.py cf` uses all of it; `DEV_BTP=true python3 dev.py run` the destination part.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devenv.redis_server import free_port, wait_for_port
from runtime.settings import DEV_SAP_PASSWORD, DEV_SAP_USER
from runtime.user_assertion import load_or_create_key, public_key_set

if TYPE_CHECKING:  # devenv.run imports this module
    from devenv.run import Launcher

DESTINATION, USER_DESTINATION = "S4HANA", "S4HANA_USER"
VIRTUAL_HOST = "s4-onprem:44300"  # the Cloud Connector's name for the mock SAP (on-premise destinations)
DESTINATION_BINDING, CONNECTIVITY_BINDING = "sapext-destination", "sapext-connectivity"
DESTINATION_TAGS = ("destination", "conn", "connsvc")  # the tags SAP's bindings carry
CONNECTIVITY_TAGS = ("connectivity", "conn", "connsvc")


class _TokenServer:
    """A token server at `url`, named as XSUAA names itself: tokens' issuer <url>/oauth/token, keys <url>/token_keys."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def issuer(self) -> str:
        return f"{self.url}/oauth/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/token_keys"


@dataclass
class TokenKeys(_TokenServer):
    """The XSUAA stand-in: the public half of `key_file` at <url>/token_keys; its tokens' issuer is
    <url>/oauth/token, as the API derives it from an xsuaa binding's url."""

    key_file: str
    server: ThreadingHTTPServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_token_keys(key_file: str) -> TokenKeys:
    """Serve the key's JWKS from a thread of this process; the key is created in `key_file` if missing."""
    body = json.dumps(public_key_set(load_or_create_key(key_file)).as_dict()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path.split("?", 1)[0] == "/token_keys"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # the kernel picks a free port
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="xsuaa-token-keys", daemon=True).start()
    return TokenKeys(key_file, server)


@dataclass(frozen=True)
class OAuthClient:
    id: str
    secret: str = field(repr=False)

    @classmethod
    def new(cls, name: str) -> OAuthClient:
        return cls(name, secrets.token_urlsafe(24))


@dataclass(frozen=True)
class PlannedMockBtp(_TokenServer):
    """mock_btp as planned before it starts: its ports, OAuth clients and config file (bindings name them)."""

    port: int
    proxy_port: int
    config_file: Path
    destination_client: OAuthClient
    connectivity_client: OAuthClient
    on_premise: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def command(self, trusted: Sequence[tuple[str, str]]) -> list[str]:
        """`python -m mock_btp ...`, accepting user tokens of the `trusted` (issuer, JWKS URL) pairs."""
        args = [sys.executable, "-m", "mock_btp", "--host", "127.0.0.1", "--port", str(self.port)]
        return [*args, "--proxy-port", str(self.proxy_port), "--config", str(self.config_file), *trust_args(trusted)]

    def destination_credentials(self) -> dict[str, Any]:
        """As SAP's destination service binding has them: `uri` the REST API, `url` the token server."""
        return {
            "uri": self.url,
            "url": self.url,
            "clientid": self.destination_client.id,
            "clientsecret": self.destination_client.secret,
            "uaadomain": "127.0.0.1",
            "identityzone": "local",
            "tenantid": "local",
            "instanceid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.url)),
        }

    def connectivity_credentials(self) -> dict[str, Any]:
        """As SAP's connectivity service binding has them (the proxy's host and HTTP port, its token server)."""
        return {
            "onpremise_proxy_host": "127.0.0.1",
            "onpremise_proxy_http_port": str(self.proxy_port),
            "onpremise_proxy_port": str(self.proxy_port),
            "clientid": self.connectivity_client.id,
            "clientsecret": self.connectivity_client.secret,
            "url": self.url,
            "token_service_url": self.url,
            "token_service_domain": "127.0.0.1",
        }


def trust_args(trusted: Iterable[tuple[str, str]]) -> list[str]:
    """--trusted-issuer/--trusted-jwks-url pairs, as mock_sap and mock_btp take them."""
    return [arg for issuer, jwks in trusted for arg in ("--trusted-issuer", issuer, "--trusted-jwks-url", jwks)]


def destinations(
    sap_url: str, sap_client: str, *, on_premise: bool, token_url: str, user_client: OAuthClient
) -> list[dict[str, Any]]:
    """S4HANA (the technical user, Basic) and S4HANA_USER (the user's own token for SAP), as configured in a
    subaccount; on premise both go through the Cloud Connector to VIRTUAL_HOST, the user one by principal
    propagation."""
    url = f"http://{VIRTUAL_HOST}" if on_premise else sap_url
    common = {
        "Type": "HTTP",
        "URL": url,
        "ProxyType": "OnPremise" if on_premise else "Internet",
        "sap-client": sap_client,
    }
    technical = {"Name": DESTINATION, **common, "Authentication": "BasicAuthentication"}
    technical |= {"User": DEV_SAP_USER, "Password": DEV_SAP_PASSWORD}
    user: dict[str, Any] = {"Name": USER_DESTINATION, **common}
    if on_premise:
        user["Authentication"] = "PrincipalPropagation"
    else:
        user |= {"Authentication": "OAuth2JWTBearer", "tokenServiceURL": token_url, "tokenServiceURLType": "Dedicated"}
        user |= {"clientId": user_client.id, "clientSecret": user_client.secret}
    return [technical, user]


def plan_mock_btp(workdir: Path, sap_url: str, *, on_premise: bool, sap_client: str = "100") -> PlannedMockBtp:
    """Ports and clients for mock_btp, and its config file in `workdir`: destinations to the SAP at `sap_url`."""
    btp = PlannedMockBtp(
        port=free_port(),
        proxy_port=free_port(),
        config_file=workdir / "mock-btp.json",
        destination_client=OAuthClient.new("sb-destination-local"),
        connectivity_client=OAuthClient.new("sb-connectivity-local"),
        on_premise=on_premise,
    )
    sap = OAuthClient.new("sap-s4-oauth")  # the OAuth client SAP's token service knows us by (OAuth2JWTBearer)
    config = {
        "clients": {
            client.id: {"secret": client.secret, "user_name": None}
            for client in (btp.destination_client, btp.connectivity_client, sap)
        },
        "destination_client": btp.destination_client.id,
        "connectivity_client": btp.connectivity_client.id,
        "destinations": destinations(sap_url, sap_client, on_premise=on_premise, token_url=btp.issuer, user_client=sap),
        "cloud_connector": [{"location_id": "", "virtual_host": VIRTUAL_HOST, "internal_url": sap_url}],
    }
    btp.config_file.write_text(json.dumps(config, indent=2))
    btp.config_file.chmod(0o600)
    return btp


def start_mock_btp(
    launcher: Launcher, btp: PlannedMockBtp, trusted: Sequence[tuple[str, str]], env: Mapping[str, str]
) -> None:
    """mock_btp as a supervised child of `launcher`; returns once both its ports listen."""
    launcher.start("mock_btp", btp.command(trusted), dict(env))
    wait_for_port("127.0.0.1", btp.port, timeout=60)
    wait_for_port("127.0.0.1", btp.proxy_port, timeout=60)


def binding(
    name: str, label: str, credentials: Mapping[str, Any], *, plan: str, tags: Sequence[str] = ()
) -> dict[str, Any]:
    """One entry of VCAP_SERVICES, shaped like Cloud Foundry's."""
    return {
        "label": label,
        "provider": None,
        "plan": plan,
        "name": name,
        "tags": list(tags),
        "instance_guid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.instance.local")),
        "instance_name": name,
        "binding_guid": str(uuid.uuid4()),
        "binding_name": None,
        "credentials": dict(credentials),
        "syslog_drain_url": None,
        "volume_mounts": [],
    }


def vcap_services(bindings: Iterable[Mapping[str, Any]]) -> str:
    """VCAP_SERVICES: the bindings grouped by their service's label."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for entry in bindings:
        grouped.setdefault(str(entry["label"]), []).append(entry)
    return json.dumps(grouped)


def dev_btp_env(btp: PlannedMockBtp) -> dict[str, str]:
    """What `DEV_BTP=true` adds to the run command's environment: SAP through the Destination service."""
    bound = [
        binding(DESTINATION_BINDING, "destination", btp.destination_credentials(), plan="lite", tags=DESTINATION_TAGS),
        binding(
            CONNECTIVITY_BINDING, "connectivity", btp.connectivity_credentials(), plan="lite", tags=CONNECTIVITY_TAGS
        ),
    ]
    return {
        "VCAP_SERVICES": vcap_services(bound),
        "SAP_DESTINATION_NAME": DESTINATION,
        "SAP_USER_DESTINATION_NAME": USER_DESTINATION,
    }


@dataclass(frozen=True)
class LocalServices:
    """What the bindings of a local Cloud Foundry run point at."""

    redis_url: str
    database_url: str  # postgres://user@host:port/db, as a broker hands it out
    xsuaa: TokenKeys
    xsuaa_client: OAuthClient
    xsappname: str
    btp: PlannedMockBtp
    secrets: Mapping[str, str] = field(repr=False)


class UnboundService(LookupError):
    """A manifest names a service for which there is no local stand-in."""


def local_binding(name: str, local: LocalServices) -> dict[str, Any]:
    """The binding for the service instance `name`, by what its name says it is (sapext-redis: Redis ...)."""
    lowered = name.lower()
    if "redis" in lowered:
        address = urlsplit(local.redis_url)
        credentials = {"uri": local.redis_url, "hostname": address.hostname, "port": address.port, "password": ""}
        return binding(name, "redis", credentials, plan="local", tags=("redis", "key-value"))
    if "postgres" in lowered:
        address = urlsplit(local.database_url)
        credentials = {
            "uri": local.database_url,
            "hostname": address.hostname,
            "port": address.port,
            "username": address.username,
            "password": address.password or "",
            "dbname": address.path.lstrip("/"),
        }
        return binding(name, "postgresql", credentials, plan="local", tags=("postgresql", "relational"))
    if "xsuaa" in lowered or "uaa" in lowered:
        return binding(name, "xsuaa", xsuaa_credentials(local), plan="application", tags=("xsuaa",))
    if "destination" in lowered:
        return binding(name, "destination", local.btp.destination_credentials(), plan="lite", tags=DESTINATION_TAGS)
    if "connectivity" in lowered:
        credentials = local.btp.connectivity_credentials()
        return binding(name, "connectivity", credentials, plan="lite", tags=CONNECTIVITY_TAGS)
    if "secret" in lowered:
        return binding(name, "user-provided", local.secrets, plan="", tags=())
    known = "redis, postgres, xsuaa, destination, connectivity, secrets"
    raise UnboundService(f"no local stand-in for the service {name!r} (its name must say which: {known})")


def xsuaa_credentials(local: LocalServices) -> dict[str, Any]:
    """An xsuaa binding's credentials; `url` is the key server (the API reads its issuer and JWKS from it)."""
    return {
        "url": local.xsuaa.url,
        "clientid": local.xsuaa_client.id,
        "clientsecret": local.xsuaa_client.secret,
        "xsappname": local.xsappname,
        "uaadomain": "127.0.0.1",
        "identityzone": "local",
        "identityzoneid": "local-zone",
        "tenantid": "local-zone",
        "tenantmode": "dedicated",
        "credential-type": "binding-secret",
    }


def new_secrets(key_file: str, issuer: str) -> dict[str, str]:
    """sapext-secrets for a local run: random where random will do; the assertion key is the XSUAA stand-in's,
    so SAP and mock_btp (trusting that issuer) accept the worker's assertions."""
    vapid = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "PAGING_SECRET": secrets.token_urlsafe(48),
        "SAP_USER_ASSERTION_KEY": json.dumps(load_or_create_key(key_file).as_dict(private=True)),
        "SAP_USER_ASSERTION_ISSUER": issuer,
        "SAP_EVENTS_PASSWORD": secrets.token_urlsafe(24),
        "VAPID_PRIVATE_KEY": vapid.decode(),
        "VAPID_SUBJECT": "mailto:admin@example.com",
    }
