"""Settings: environment variables and Cloud Foundry's VCAP_* parsed here and nowhere else."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Embedded defaults for a developer machine: they match `python -m mock_sap` and `python3 dev.py run`.
DEV_SAP_USER = "EXT_API_TECH"
DEV_SAP_PASSWORD = "tech-pass-1"
# The development identity provider's issuer: a name, not a URL, so tokens stay valid whatever PORT is.
DEV_ISSUER = "urn:sap-extension-api:dev-idp"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service; README's configuration table documents each one."""

    env: str = "development"
    port: int = 8080
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'sapext.db'}"
    sap_url: str = "http://127.0.0.1:8081"
    sap_client: str = "100"
    sap_user: str = DEV_SAP_USER
    sap_password: str = field(default=DEV_SAP_PASSWORD, repr=False)
    sap_connect_timeout: float = 3.05
    sap_read_timeout: float = 30.0
    health_timeout: float = 2.0
    log_level: str = "INFO"
    log_format: str = "auto"
    max_request_bytes: int = 1_000_000
    cors_origins: tuple[str, ...] = ()
    app_name: str = "sap-extension-api"
    instance_index: int = 0
    # Security (XSUAA-style). xsappname prefixes every scope and must be in a token's audience.
    xsappname: str = "sap-extension-api"
    jwt_issuer: str = DEV_ISSUER
    jwks_url: str = ""  # empty: the development identity provider's own keys
    jwt_leeway: int = 30
    dev_idp_key_file: str = str(ROOT / "instance" / "dev-idp-key.json")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def dev_idp_enabled(self) -> bool:
        """The development identity provider: only in development, and only when no real IdP is set."""
        return not self.is_production and not self.jwks_url

    def replace(self, **changes: Any) -> Settings:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _vcap_services(environ: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    raw = environ.get("VCAP_SERVICES")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"VCAP_SERVICES is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ConfigError("VCAP_SERVICES must be a JSON object of service lists")
    return parsed


def _bound_credentials(services: Mapping[str, list[dict[str, Any]]], *labels: str) -> dict[str, Any] | None:
    """Credentials of the first binding whose label, name or tags mention one of `labels`."""
    for label, bindings in services.items():
        for binding in bindings:
            names = {label, str(binding.get("name", "")), *map(str, binding.get("tags", []))}
            if any(want in name.lower() for name in names for want in labels):
                credentials = binding.get("credentials")
                if isinstance(credentials, dict):
                    return credentials
    return None


def _redis_url_from(credentials: Mapping[str, Any]) -> str | None:
    if credentials.get("uri"):
        return str(credentials["uri"])
    if credentials.get("hostname") or credentials.get("host"):
        host = credentials.get("hostname") or credentials.get("host")
        scheme = "rediss" if credentials.get("tls") else "redis"
        password = credentials.get("password")
        auth = f":{password}@" if password else ""
        return f"{scheme}://{auth}{host}:{credentials.get('port', 6379)}/0"
    return None


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from an environment mapping (os.environ by default)."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    services = _vcap_services(environ)
    application: dict[str, Any] = json.loads(environ.get("VCAP_APPLICATION") or "{}")

    redis_url = environ.get("REDIS_URL")
    if not redis_url and (creds := _bound_credentials(services, "redis")):
        redis_url = _redis_url_from(creds)
    database_url = environ.get("DATABASE_URL")
    if not database_url and (creds := _bound_credentials(services, "postgres")):
        database_url = str(creds.get("uri") or creds.get("url") or "") or None
    if database_url and database_url.startswith("postgres://"):
        # SQLAlchemy 2 only knows the postgresql:// scheme; CF brokers still hand out postgres://
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url and database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    env = environ.get("APP_ENV") or ("production" if application else defaults.env)
    if env not in ("development", "production"):
        raise ConfigError(f"APP_ENV must be 'development' or 'production', got {env!r}")
    sap_user = environ.get("SAP_USER") or (defaults.sap_user if env == "development" else "")
    sap_password = environ.get("SAP_PASSWORD") or (defaults.sap_password if env == "development" else "")
    if env == "production" and not (environ.get("SAP_URL") and sap_user and sap_password):
        raise ConfigError("production needs SAP_URL, SAP_USER and SAP_PASSWORD")

    xsuaa = _bound_credentials(services, "xsuaa") or {}
    jwt_issuer = environ.get("JWT_ISSUER") or (f"{xsuaa['url'].rstrip('/')}/oauth/token" if xsuaa.get("url") else "")
    jwks_url = environ.get("JWKS_URL") or (f"{xsuaa['url'].rstrip('/')}/token_keys" if xsuaa.get("url") else "")
    if bool(jwt_issuer) != bool(jwks_url):
        raise ConfigError("JWT_ISSUER and JWKS_URL go together: set both, or neither for the development IdP")
    if env == "production" and not jwks_url:
        raise ConfigError("production needs JWT_ISSUER and JWKS_URL (or an xsuaa binding in VCAP_SERVICES)")

    log_format = environ.get("LOG_FORMAT", defaults.log_format)
    if log_format not in ("auto", "json", "console"):
        raise ConfigError(f"LOG_FORMAT must be auto, json or console, got {log_format!r}")
    cors = tuple(o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip())

    return Settings(
        env=env,
        port=_int(environ, "PORT", defaults.port),
        redis_url=redis_url or defaults.redis_url,
        database_url=database_url or defaults.database_url,
        sap_url=(environ.get("SAP_URL") or defaults.sap_url).rstrip("/"),
        sap_client=environ.get("SAP_CLIENT", defaults.sap_client),
        sap_user=sap_user,
        sap_password=sap_password,
        sap_connect_timeout=_float(environ, "SAP_CONNECT_TIMEOUT", defaults.sap_connect_timeout),
        sap_read_timeout=_float(environ, "SAP_READ_TIMEOUT", defaults.sap_read_timeout),
        health_timeout=_float(environ, "HEALTH_TIMEOUT", defaults.health_timeout),
        log_level=environ.get("LOG_LEVEL", defaults.log_level).upper(),
        log_format=log_format,
        max_request_bytes=_int(environ, "MAX_REQUEST_BYTES", defaults.max_request_bytes),
        cors_origins=cors,
        app_name=str(application.get("application_name") or defaults.app_name),
        instance_index=int(application.get("instance_index") or environ.get("CF_INSTANCE_INDEX") or 0),
        xsappname=environ.get("XSAPPNAME") or str(xsuaa.get("xsappname") or defaults.xsappname),
        jwt_issuer=jwt_issuer or defaults.jwt_issuer,
        jwks_url=jwks_url,
        jwt_leeway=_int(environ, "JWT_LEEWAY", defaults.jwt_leeway),
        dev_idp_key_file=environ.get("DEV_IDP_KEY_FILE", defaults.dev_idp_key_file),
    )
