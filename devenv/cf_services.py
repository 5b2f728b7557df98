"""The backing services of a local Cloud Foundry run: Redis, a PostgreSQL database, the mock SAP, mock_btp and the
XSUAA key server; the first three are supervised children of a devenv.run Launcher (restarted if they die)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from devenv import btp
from devenv.postgres_server import SpawnedPostgres, spawn_postgres
from devenv.procs import port_is_free
from devenv.redis_server import free_port
from devenv.run import Launcher

ROOT = Path(__file__).resolve().parent.parent
XS_SECURITY = ROOT / "xs-security.json"
SAP_STARTUP = 180.0  # seconds: the mock SAP generates its data before it listens (slow on a busy machine)


@dataclass
class Backing:
    """What runs beside the apps, and how to take it down again."""

    local: btp.LocalServices
    sap_url: str
    postgres: SpawnedPostgres | None  # spawned for this run; None: a database on --postgres-url's server
    server_url: str  # the PostgreSQL server the run's database is on (to drop it at the end)
    database: str

    def stop(self) -> None:
        """After the launcher's children: the database, then the key server."""
        if self.postgres is not None:
            self.postgres.stop()
        else:
            with psycopg.connect(_libpq(self.server_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self.local.xsuaa.stop()

    def urls(self) -> dict[str, Any]:
        """For the state file: where tests and people reach each service."""
        local = self.local
        return {
            "redis_url": local.redis_url,
            "database_url": local.database_url,
            "sap_url": self.sap_url,
            "btp_url": local.btp.url,
            "btp_proxy_url": local.btp.proxy_url,
            "on_premise": local.btp.on_premise,
            "destination": btp.DESTINATION,
            "user_destination": btp.USER_DESTINATION,
            "xsuaa_url": local.xsuaa.url,
            "xsuaa_key_file": local.xsuaa.key_file,
            "jwt_issuer": local.xsuaa.issuer,
            "xsappname": local.xsappname,
        }


def start(launcher: Launcher, workdir: Path, *, on_premise: bool, postgres_url: str, events_webhook: str) -> Backing:
    """Start everything, slowest first (the mock SAP), and return once all of it answers.

    `events_webhook`: where the mock SAP sends its business events (the API's receiver), or empty for nowhere."""
    xsuaa = btp.serve_token_keys(str(workdir / "xsuaa-key.json"))
    secrets_ = btp.new_secrets(xsuaa.key_file, xsuaa.issuer)
    sap_port = free_port()
    sap_url = f"http://127.0.0.1:{sap_port}"
    mock_btp = btp.plan_mock_btp(workdir, sap_url, on_premise=on_premise)
    env = dict(os.environ)
    # SAP trusts XSUAA's users and the tokens mock_btp issues for them (OAuth2JWTBearer, principal propagation).
    trusted = [(xsuaa.issuer, xsuaa.jwks_url), (mock_btp.issuer, mock_btp.jwks_url)]
    sap_args = ["--host", "127.0.0.1", "--port", str(sap_port), *btp.trust_args(trusted)]
    if events_webhook:
        sap_args += ["--event-webhook", events_webhook, "--event-webhook-user", "event-mesh"]
        # One argument with "=": a random password may begin with "-", which argparse would take for an option.
        sap_args += [f"--event-webhook-password={secrets_['SAP_EVENTS_PASSWORD']}"]
    launcher.start("mock_sap", [sys.executable, "-m", "mock_sap", *sap_args], env)
    btp.start_mock_btp(launcher, mock_btp, [(xsuaa.issuer, xsuaa.jwks_url)], env)
    redis_url = launcher.start_redis()
    postgres = None
    try:
        postgres = None if postgres_url else spawn_postgres()
        server_url = postgres_url or (postgres.url if postgres else "")
        database = f"sapext_cf_{secrets.token_hex(4)}"
        database_url = create_database(server_url, database)
        _wait_listening(launcher, sap_port, SAP_STARTUP)
    except BaseException:
        if postgres is not None:
            postgres.stop()
        xsuaa.stop()
        raise
    local = btp.LocalServices(
        redis_url=redis_url,
        database_url=database_url,
        xsuaa=xsuaa,
        xsuaa_client=btp.OAuthClient.new("sb-sap-extension-api!t1"),
        xsappname=str(json.loads(XS_SECURITY.read_text())["xsappname"]),
        btp=mock_btp,
        secrets=secrets_,
    )
    return Backing(local, sap_url, postgres, server_url, database)


def _wait_listening(launcher: Launcher, port: int, timeout: float) -> None:
    """Until something listens on the port, restarting children that die meanwhile (GaveUp on a crash loop)."""
    deadline = time.monotonic() + timeout
    while port_is_free(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")
        launcher.supervise()
        time.sleep(0.2)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://) as libpq takes it."""
    return "postgresql://" + url.split("://", 1)[1]


def create_database(server_url: str, name: str) -> str:
    """A new database on the server; its URL as a Cloud Foundry broker hands it out (postgres://)."""
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    return urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))
