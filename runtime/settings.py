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
EVENTS_SILENCE_LIMIT = 45.0  # seconds of silence after which the reference app reconnects a stream
DEV_SAP_EVENTS_PASSWORD = "event-mesh-dev"  # the mock SAP's event subscription sends it (development only)
# The development identity provider's issuer: a name, not a URL, so tokens stay valid whatever PORT is.
DEV_ISSUER = "urn:sap-extension-api:dev-idp"


MIN_PAGING_SECRET = 32


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service; README's configuration table documents each one."""

    env: str = "development"
    port: int = 8080
    web_concurrency: int = 2  # gunicorn worker processes
    # Threads per gunicorn worker: mostly waiting (for a SAP slot or SAP's answer), and started only when needed.
    # Enough that 50 clients at once are served, not turned away, while SAP answers quickly (bench/read_bench.py).
    gunicorn_threads: int = 64
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'sapext.db'}"
    sap_url: str = "http://127.0.0.1:8081"
    sap_client: str = "100"
    sap_user: str = DEV_SAP_USER
    sap_password: str = field(default=DEV_SAP_PASSWORD, repr=False)
    sap_connect_timeout: float = 3.05
    sap_read_timeout: float = 30.0
    # How the technical calls authenticate: "basic" (SAP_USER/SAP_PASSWORD) or "oauth2_client_credentials".
    sap_auth: str = "basic"
    sap_oauth_token_url: str = ""
    sap_oauth_client_id: str = ""
    sap_oauth_client_secret: str = field(default="", repr=False)
    sap_oauth_scope: str = ""
    # A BTP-style destination entry bound in VCAP_SERVICES (tag "sap-destination"); it wins over SAP_URL & co.
    sap_destination: Mapping[str, Any] | None = field(default=None, repr=False)
    # SAP BTP: the destinations to look up in the bound Destination service (label "destination"), by name. The
    # technical one serves every technical call; the user one (OAuth2JWTBearer, OAuth2SAMLBearerAssertion or
    # PrincipalPropagation) the inbox, as the executive. OnPremise destinations go through the Connectivity
    # service's proxy (label "connectivity"). Both bindings' credentials are kept here as SAP gave them.
    sap_destination_name: str = ""
    sap_user_destination_name: str = ""
    destination_service: Mapping[str, Any] | None = field(default=None, repr=False)
    connectivity_service: Mapping[str, Any] | None = field(default=None, repr=False)
    sap_max_attempts: int = 3  # attempts of an idempotent read (writes are never retried in the call)
    sap_breaker_threshold: int = 5  # consecutive failures that open the circuit breaker
    sap_breaker_recovery: float = 30.0  # seconds before a half-open probe
    # SAP calls in flight per process, below gunicorn_threads so that a hung SAP leaves threads for requests
    # that do not call SAP (from_env's default: half the threads, at most 8: what one process asks of SAP's
    # work processes at once).
    sap_max_concurrency: int = 8
    # Seconds all SAP calls of one API request may take together (attempts, back-off, slot waits, CSRF).
    sap_request_budget: float = 10.0
    sap_inbox_user_propagation: bool = True  # the inbox is read and decided as the executive
    sap_metadata_dir: str = ""  # <SERVICE>.xml files: start without asking SAP for $metadata
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
    jwt_max_lifetime: int = 24 * 3600  # longest accepted exp - iat of a user token
    # Lets supervisors confirm more than the quantity still to go (for every plant: SAP's own tolerances still apply).
    allow_over_confirmation: bool = False
    dev_idp_key_file: str = str(ROOT / "instance" / "dev-idp-key.json")
    # The development identity provider (app/dev_idp.py, app/dev_oauth.py): on in development unless a real IdP
    # is set; production refuses to start with it on. Redirect URIs it accepts beyond xs-security.json's.
    dev_idp: bool = True
    dev_idp_redirect_uris: tuple[str, ...] = ("http://localhost:*/**", "http://127.0.0.1:*/**")
    # Signs paging cursors (HMAC-SHA256); every instance must share it. Empty in development: a random secret
    # kept in `paging-secret` beside the dev IdP key (app/paging.py); required in production.
    paging_secret: str = field(default="", repr=False)
    # Writeback jobs: transient SAP failures are retried after min(max, base * 2**(n-1)) seconds, halved
    # and jittered; after max_attempts attempts the command is dead.
    writeback_max_attempts: int = 8
    writeback_backoff_base: float = 5.0
    writeback_backoff_max: float = 600.0
    # Reconciler (runs inside every worker process): how often, and when a command counts as stranded.
    reconcile_interval: float = 5.0
    reconcile_accepted_after: float = 60.0  # accepted, due, but no job ran it (Redis lost it, enqueue failed)
    # Each worker marks the commands it runs as alive this often (in the database); a running command whose
    # heartbeat is 1.5 intervals old is reclaimed from its dead worker (workers/heartbeat.py).
    worker_heartbeat_interval: float = 5.0
    # Asked to stop (SIGTERM: a deploy, `cf scale`), a worker finishes its job, or after this many seconds hands it
    # back to the other workers and exits: below the 10 s after which Cloud Foundry kills it.
    worker_stop_grace: float = 7.0
    # Acting as the user in SAP (task commands): a key SAP trusts signs a short-lived assertion for the user.
    sap_user_assertion_key_file: str = ""  # empty: the development identity provider's key (development only)
    sap_user_assertion_key: str = field(default="", repr=False)  # the same JWK as JSON text (Cloud Foundry)
    sap_user_assertion_issuer: str = DEV_ISSUER
    sap_user_assertion_lifetime: int = 300
    # A write that may have reached SAP without an answer (timeout, lost connection) is in doubt: SAP is
    # asked every `check` seconds whether it landed, and it is re-sent only once `settle` seconds have passed
    # since it was sent (longer than SAP may keep working on a request whose caller gave up).
    writeback_in_doubt_settle: float = 300.0
    writeback_in_doubt_check: float = 10.0
    # Observability. Durations in seconds. prometheus-client itself reads PROMETHEUS_MULTIPROC_DIR from the
    # environment; the setting tells /metrics to aggregate the processes that share that directory.
    prometheus_multiproc_dir: str = ""
    alert_webhook_url: str = ""  # empty: the watchdog only logs its alerts
    alert_stopped_flowing_after: float = 600.0
    alert_error_rate_threshold: float = 0.2
    alert_error_rate_window: float = 900.0
    alert_error_rate_min_attempts: int = 5
    alert_breaker_open_after: float = 300.0
    watchdog_interval: float = 30.0
    # Events (issue 16). The bus keeps `events_retain` notifications for streams resuming with Last-Event-ID.
    events_retain: int = 10_000
    events_heartbeat: float = 15.0  # seconds between SSE comments that keep proxies from closing an idle stream
    events_workers: int = 1  # asyncio processes of the event stream server (each holds thousands of streams)
    events_url: str = ""  # where apps open the event stream; empty: /api/v1/events on the API's own origin
    # HTTP Basic credentials SAP Event Mesh's webhook subscription sends to /api/v1/sap-events; no password: refused.
    sap_events_user: str = "event-mesh"
    sap_events_password: str = field(default=DEV_SAP_EVENTS_PASSWORD, repr=False)  # from_env: none in production
    # Delta pollers (one leader across instances); 0 turns one off. Orders: for installations without Event Mesh.
    inbox_poll_interval: float = 30.0
    order_poll_interval: float = 0.0
    # Web Push: the VAPID key pair (RFC 8292) identifies us to push services; dev: created in instance/.
    vapid_private_key: str = field(default="", repr=False)  # PEM or base64url of the raw P-256 private key
    vapid_key_file: str = str(ROOT / "instance" / "vapid-key.pem")
    vapid_subject: str = "mailto:admin@example.com"
    push_ttl: int = 24 * 3600  # seconds a push service keeps a message for a device that is offline
    # A subscription pushes by the roles and attributes its app last sent; one not sent again for this long is
    # not used (the reference app sends it at every start), so lost rights do not outlive a week.
    push_subscription_max_age: int = 7 * 24 * 3600
    # Outbound webhooks: retried like writebacks, dead after the last attempt.
    webhook_max_attempts: int = 8
    webhook_backoff_base: float = 5.0
    webhook_backoff_max: float = 600.0
    webhook_timeout: float = 10.0
    # OpenTelemetry tracing (runtime/tracing.py): off unless enabled. Names follow OpenTelemetry's own variables.
    otel_enabled: bool = False
    otel_traces_exporter: str = "otlp"  # otlp (protobuf over HTTP), console (local debugging) or none
    otel_exporter_otlp_endpoint: str = "http://localhost:4318"  # base URL; spans go to <endpoint>/v1/traces
    otel_exporter_otlp_headers: str = field(default="", repr=False)  # "k=v,k2=v2", e.g. a collector's API key
    otel_service_name: str = "sap-extension-api"  # from_env defaults it to app_name

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def dev_idp_enabled(self) -> bool:
        """The development identity provider: only in development, and only when no real IdP is set."""
        return self.dev_idp and not self.is_production and not self.jwks_url

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


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


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


INDEX = "CF_INSTANCE_INDEX"


def _vcap_application(environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        parsed = json.loads(environ.get("VCAP_APPLICATION") or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"VCAP_APPLICATION is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ConfigError("VCAP_APPLICATION must be a JSON object")
    return parsed


# SAP BTP's own services, found by their label only: an instance named e.g. "my-sap-destination" is not an entry.
BTP_SERVICE_LABELS = ("destination", "connectivity")


def _bound_credentials(services: Mapping[str, list[dict[str, Any]]], *labels: str) -> dict[str, Any] | None:
    """Credentials of the first binding whose label, name or tags mention one of `labels`."""
    for label, bindings in services.items():
        if label in BTP_SERVICE_LABELS:
            continue
        for binding in bindings:
            names = {label, str(binding.get("name", "")), *map(str, binding.get("tags", []))}
            if any(want in name.lower() for name in names for want in labels):
                credentials = binding.get("credentials")
                if isinstance(credentials, dict):
                    return credentials
    return None


def _bound_by_label(services: Mapping[str, list[dict[str, Any]]], label: str) -> dict[str, Any] | None:
    """Credentials of the first binding of the service offering `label` (SAP's destination, connectivity)."""
    for binding in services.get(label, []):
        if isinstance(binding.get("credentials"), dict):
            return dict(binding["credentials"])
    return None


def _required(credentials: Mapping[str, Any], label: str, *names: str) -> None:
    missing = [name for name in names if not credentials.get(name)]
    if missing:
        raise ConfigError(f"the {label} binding in VCAP_SERVICES lacks {', '.join(missing)}")


# A user-provided service (`cf create-user-provided-service sapext-secrets -p '{...}'`) whose credentials are read
# like environment variables, by their names: secrets stay out of manifest.yml and `cf env` shows them redacted.
SECRETS_BINDING = "sapext-secrets"


def _with_bound_secrets(environ: Mapping[str, str], services: Mapping[str, list[dict[str, Any]]]) -> dict[str, str]:
    """`environ` over the secrets binding's credentials (the environment wins); JSON values become JSON text."""
    bound = _bound_credentials(services, SECRETS_BINDING) or {}
    values = {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in bound.items()
        if str(name).isupper() and value is not None
    }
    return {**values, **environ}


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


def from_env(environ: Mapping[str, str] | None = None, *, calls_sap: bool = True) -> Settings:
    """Build Settings from an environment mapping (os.environ by default).

    `calls_sap=False`: for the event stream process, which never calls SAP, signs no assertion and pages nothing;
    production then does not ask for SAP's credentials, the assertion key or the paging secret, so that an
    internet-facing process that does not need them is not given them.
    """
    environ = os.environ if environ is None else environ
    defaults = Settings()
    services = _vcap_services(environ)
    application = _vcap_application(environ)
    environ = _with_bound_secrets(environ, services)

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
    sap_auth = environ.get("SAP_AUTH", defaults.sap_auth)
    if sap_auth not in ("basic", "oauth2_client_credentials"):
        raise ConfigError(f"SAP_AUTH must be basic or oauth2_client_credentials, got {sap_auth!r}")
    oauth = {name: environ.get(f"SAP_OAUTH_{name.upper()}", "") for name in ("token_url", "client_id", "client_secret")}
    sap_destination = _bound_credentials(services, "sap-destination")
    if sap_auth == "oauth2_client_credentials" and not all(oauth.values()) and not sap_destination:
        raise ConfigError("SAP_AUTH=oauth2_client_credentials needs SAP_OAUTH_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET")
    destination_name = environ.get("SAP_DESTINATION_NAME", "")
    user_destination_name = environ.get("SAP_USER_DESTINATION_NAME", "")
    destination_service = _bound_by_label(services, "destination")
    connectivity_service = _bound_by_label(services, "connectivity")
    if (destination_name or user_destination_name) and calls_sap:
        if destination_service is None:
            raise ConfigError(
                "SAP_DESTINATION_NAME and SAP_USER_DESTINATION_NAME need SAP BTP's Destination service bound "
                "(a binding with the label destination in VCAP_SERVICES)"
            )
        _required(destination_service, "destination", "uri", "url", "clientid", "clientsecret")
        if not destination_name:
            raise ConfigError("SAP_USER_DESTINATION_NAME needs SAP_DESTINATION_NAME (the technical destination) too")
        if not user_destination_name and _bool(environ, "SAP_INBOX_USER_PROPAGATION", True):
            raise ConfigError(
                "SAP_DESTINATION_NAME needs SAP_USER_DESTINATION_NAME too: the destination the inbox uses as the "
                "executive (OAuth2JWTBearer, OAuth2SAMLBearerAssertion or PrincipalPropagation)"
            )
    if connectivity_service is not None and calls_sap:
        _required(connectivity_service, "connectivity", "onpremise_proxy_host", "clientid", "clientsecret")
        if not (
            connectivity_service.get("onpremise_proxy_http_port") or connectivity_service.get("onpremise_proxy_port")
        ):
            raise ConfigError("the connectivity binding in VCAP_SERVICES lacks onpremise_proxy_http_port")
        if not (connectivity_service.get("token_service_url") or connectivity_service.get("url")):
            raise ConfigError("the connectivity binding in VCAP_SERVICES lacks token_service_url")
    basic_ok = sap_auth != "basic" or (sap_user and sap_password)
    from_btp = bool(sap_destination or destination_name)
    if env == "production" and calls_sap and not from_btp and not (environ.get("SAP_URL") and basic_ok):
        raise ConfigError(
            "production needs SAP_DESTINATION_NAME with the Destination service bound, or SAP_URL and credentials "
            "(SAP_USER and SAP_PASSWORD, or SAP_AUTH=oauth2_client_credentials with SAP_OAUTH_*), or a destination "
            "bound in VCAP_SERVICES with the tag sap-destination"
        )

    xsuaa = _bound_credentials(services, "xsuaa") or {}
    jwt_issuer = environ.get("JWT_ISSUER") or (f"{xsuaa['url'].rstrip('/')}/oauth/token" if xsuaa.get("url") else "")
    jwks_url = environ.get("JWKS_URL") or (f"{xsuaa['url'].rstrip('/')}/token_keys" if xsuaa.get("url") else "")
    if bool(jwt_issuer) != bool(jwks_url):
        raise ConfigError("JWT_ISSUER and JWKS_URL go together: set both, or neither for the development IdP")
    if env == "production" and not jwks_url:
        raise ConfigError("production needs JWT_ISSUER and JWKS_URL (or an xsuaa binding in VCAP_SERVICES)")
    dev_idp = _bool(environ, "DEV_IDP", env != "production")
    if env == "production" and dev_idp:
        raise ConfigError("DEV_IDP is for development only: its users sign in without a password; unset it")
    if not dev_idp and not jwks_url:
        raise ConfigError("DEV_IDP=false needs JWT_ISSUER and JWKS_URL (or an xsuaa binding): no one could sign in")
    if (
        env == "production"
        and calls_sap
        and not (environ.get("SAP_USER_ASSERTION_KEY") or environ.get("SAP_USER_ASSERTION_KEY_FILE"))
    ):
        # Without it every approval would be accepted and then die in the worker: refuse to start instead.
        raise ConfigError("production needs SAP_USER_ASSERTION_KEY (or _FILE): the key SAP trusts to act as users")
    paging_secret = environ.get("PAGING_SECRET", "")
    if paging_secret and len(paging_secret) < MIN_PAGING_SECRET:
        raise ConfigError(f"PAGING_SECRET must be at least {MIN_PAGING_SECRET} characters (a random string)")
    if env == "production" and calls_sap and not paging_secret:
        # A per-instance secret would make every cursor fail on the other instances.
        raise ConfigError("production needs PAGING_SECRET: one random secret shared by every instance signs cursors")

    log_format = environ.get("LOG_FORMAT", defaults.log_format)
    if log_format not in ("auto", "json", "console"):
        raise ConfigError(f"LOG_FORMAT must be auto, json or console, got {log_format!r}")
    gunicorn_threads = _int(environ, "GUNICORN_THREADS", defaults.gunicorn_threads)
    if gunicorn_threads < 2:
        raise ConfigError(f"GUNICORN_THREADS must be at least 2 (SAP calls may use only some), got {gunicorn_threads}")
    sap_max_concurrency = _int(
        environ, "SAP_MAX_CONCURRENCY", min(defaults.sap_max_concurrency, max(1, gunicorn_threads // 2))
    )
    if not 1 <= sap_max_concurrency < gunicorn_threads:
        raise ConfigError(
            f"SAP_MAX_CONCURRENCY must be at least 1 and below GUNICORN_THREADS ({gunicorn_threads}), got "
            f"{sap_max_concurrency}: with SAP hung, the other threads still answer requests that do not call it"
        )
    sap_request_budget = _float(environ, "SAP_REQUEST_BUDGET", defaults.sap_request_budget)
    if sap_request_budget <= 0:
        raise ConfigError(f"SAP_REQUEST_BUDGET must be positive, got {sap_request_budget:g}")
    max_attempts = _int(environ, "WRITEBACK_MAX_ATTEMPTS", defaults.writeback_max_attempts)
    if max_attempts < 1:
        raise ConfigError(f"WRITEBACK_MAX_ATTEMPTS must be at least 1, got {max_attempts}")
    if environ.get("RECONCILE_RUNNING_AFTER"):
        # Gone with the heartbeat: a setting that is silently ignored would be worse than a refusal.
        raise ConfigError(
            "RECONCILE_RUNNING_AFTER is no longer used: a running command is reclaimed 1.5 x WORKER_HEARTBEAT_INTERVAL"
            " after its worker's last heartbeat; set WORKER_HEARTBEAT_INTERVAL instead"
        )
    if environ.get("WRITEBACK_BUSY_WAIT"):
        raise ConfigError(
            "WRITEBACK_BUSY_WAIT is no longer used: a command behind another of its order no longer polls; the "
            "attempt that ends the one in the way wakes it at once. Remove the setting"
        )
    heartbeat_interval = _float(environ, "WORKER_HEARTBEAT_INTERVAL", defaults.worker_heartbeat_interval)
    if heartbeat_interval <= 0:
        raise ConfigError(f"WORKER_HEARTBEAT_INTERVAL must be a positive number of seconds, got {heartbeat_interval}")
    for name, minimum in (
        ("EVENTS_HEARTBEAT", 0.1),
        ("EVENTS_RETAIN", 100.0),
        ("EVENTS_WORKERS", 1.0),
        ("WEBHOOK_MAX_ATTEMPTS", 1.0),
        ("WEBHOOK_TIMEOUT", 1.0),
        ("PUSH_SUBSCRIPTION_MAX_AGE", 3600.0),
        ("WORKER_STOP_GRACE", 0.5),
    ):
        if name in environ and _float(environ, name, minimum) < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {environ[name]}")
    if _float(environ, "EVENTS_HEARTBEAT", defaults.events_heartbeat) >= EVENTS_SILENCE_LIMIT:
        # The reference app (events.js) takes 45 s of silence for a dead connection and reconnects.
        raise ConfigError(f"EVENTS_HEARTBEAT must be below {EVENTS_SILENCE_LIMIT:g} s: clients drop a silent stream")
    otel_exporter = environ.get("OTEL_TRACES_EXPORTER") or defaults.otel_traces_exporter
    if otel_exporter not in ("otlp", "console", "none"):
        raise ConfigError(f"OTEL_TRACES_EXPORTER must be otlp, console or none, got {otel_exporter!r}")
    otel_endpoint = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or defaults.otel_exporter_otlp_endpoint).rstrip("/")
    if not otel_endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got {otel_endpoint!r}")
    app_name = str(application.get("application_name") or defaults.app_name)
    cors = tuple(o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip())

    return Settings(
        env=env,
        port=_int(environ, "PORT", defaults.port),
        web_concurrency=_int(environ, "WEB_CONCURRENCY", defaults.web_concurrency),
        gunicorn_threads=gunicorn_threads,
        redis_url=redis_url or defaults.redis_url,
        database_url=database_url or defaults.database_url,
        sap_url=(environ.get("SAP_URL") or defaults.sap_url).rstrip("/"),
        sap_client=environ.get("SAP_CLIENT", defaults.sap_client),
        sap_user=sap_user,
        sap_password=sap_password,
        sap_connect_timeout=_float(environ, "SAP_CONNECT_TIMEOUT", defaults.sap_connect_timeout),
        sap_read_timeout=_float(environ, "SAP_READ_TIMEOUT", defaults.sap_read_timeout),
        sap_auth=sap_auth,
        sap_oauth_token_url=oauth["token_url"],
        sap_oauth_client_id=oauth["client_id"],
        sap_oauth_client_secret=oauth["client_secret"],
        sap_oauth_scope=environ.get("SAP_OAUTH_SCOPE", ""),
        sap_destination=sap_destination,
        sap_destination_name=destination_name,
        sap_user_destination_name=user_destination_name,
        destination_service=destination_service,
        connectivity_service=connectivity_service,
        sap_max_attempts=_int(environ, "SAP_MAX_ATTEMPTS", defaults.sap_max_attempts),
        sap_breaker_threshold=_int(environ, "SAP_BREAKER_THRESHOLD", defaults.sap_breaker_threshold),
        sap_breaker_recovery=_float(environ, "SAP_BREAKER_RECOVERY", defaults.sap_breaker_recovery),
        sap_max_concurrency=sap_max_concurrency,
        sap_request_budget=sap_request_budget,
        sap_inbox_user_propagation=_bool(environ, "SAP_INBOX_USER_PROPAGATION", defaults.sap_inbox_user_propagation),
        sap_metadata_dir=environ.get("SAP_METADATA_DIR", ""),
        health_timeout=_float(environ, "HEALTH_TIMEOUT", defaults.health_timeout),
        log_level=environ.get("LOG_LEVEL", defaults.log_level).upper(),
        log_format=log_format,
        max_request_bytes=_int(environ, "MAX_REQUEST_BYTES", defaults.max_request_bytes),
        cors_origins=cors,
        app_name=app_name,
        instance_index=_int({INDEX: str(application.get("instance_index") or environ.get(INDEX) or 0)}, INDEX, 0),
        xsappname=environ.get("XSAPPNAME") or str(xsuaa.get("xsappname") or defaults.xsappname),
        jwt_issuer=jwt_issuer or defaults.jwt_issuer,
        jwks_url=jwks_url,
        jwt_leeway=_int(environ, "JWT_LEEWAY", defaults.jwt_leeway),
        jwt_max_lifetime=_int(environ, "JWT_MAX_LIFETIME", defaults.jwt_max_lifetime),
        allow_over_confirmation=_bool(environ, "ALLOW_OVER_CONFIRMATION", defaults.allow_over_confirmation),
        dev_idp_key_file=environ.get("DEV_IDP_KEY_FILE", defaults.dev_idp_key_file),
        dev_idp=dev_idp,
        dev_idp_redirect_uris=tuple(u.strip() for u in environ["DEV_IDP_REDIRECT_URIS"].split(",") if u.strip())
        if "DEV_IDP_REDIRECT_URIS" in environ
        else defaults.dev_idp_redirect_uris,
        paging_secret=paging_secret,
        writeback_max_attempts=max_attempts,
        writeback_backoff_base=_float(environ, "WRITEBACK_BACKOFF_BASE", defaults.writeback_backoff_base),
        writeback_backoff_max=_float(environ, "WRITEBACK_BACKOFF_MAX", defaults.writeback_backoff_max),
        reconcile_interval=_float(environ, "RECONCILE_INTERVAL", defaults.reconcile_interval),
        reconcile_accepted_after=_float(environ, "RECONCILE_ACCEPTED_AFTER", defaults.reconcile_accepted_after),
        worker_heartbeat_interval=heartbeat_interval,
        worker_stop_grace=_float(environ, "WORKER_STOP_GRACE", defaults.worker_stop_grace),
        sap_user_assertion_key_file=environ.get("SAP_USER_ASSERTION_KEY_FILE", ""),
        sap_user_assertion_key=environ.get("SAP_USER_ASSERTION_KEY", ""),
        sap_user_assertion_issuer=environ.get("SAP_USER_ASSERTION_ISSUER") or defaults.sap_user_assertion_issuer,
        sap_user_assertion_lifetime=_int(environ, "SAP_USER_ASSERTION_LIFETIME", defaults.sap_user_assertion_lifetime),
        writeback_in_doubt_settle=_float(environ, "WRITEBACK_IN_DOUBT_SETTLE", defaults.writeback_in_doubt_settle),
        writeback_in_doubt_check=_float(environ, "WRITEBACK_IN_DOUBT_CHECK", defaults.writeback_in_doubt_check),
        prometheus_multiproc_dir=environ.get("PROMETHEUS_MULTIPROC_DIR", defaults.prometheus_multiproc_dir),
        alert_webhook_url=environ.get("ALERT_WEBHOOK_URL", defaults.alert_webhook_url),
        alert_stopped_flowing_after=_float(
            environ, "ALERT_STOPPED_FLOWING_AFTER", defaults.alert_stopped_flowing_after
        ),
        alert_error_rate_threshold=_float(environ, "ALERT_ERROR_RATE_THRESHOLD", defaults.alert_error_rate_threshold),
        alert_error_rate_window=_float(environ, "ALERT_ERROR_RATE_WINDOW", defaults.alert_error_rate_window),
        alert_error_rate_min_attempts=_int(
            environ, "ALERT_ERROR_RATE_MIN_ATTEMPTS", defaults.alert_error_rate_min_attempts
        ),
        alert_breaker_open_after=_float(environ, "ALERT_BREAKER_OPEN_AFTER", defaults.alert_breaker_open_after),
        watchdog_interval=_float(environ, "WATCHDOG_INTERVAL", defaults.watchdog_interval),
        events_retain=_int(environ, "EVENTS_RETAIN", defaults.events_retain),
        events_heartbeat=_float(environ, "EVENTS_HEARTBEAT", defaults.events_heartbeat),
        events_workers=_int(environ, "EVENTS_WORKERS", defaults.events_workers),
        events_url=environ.get("EVENTS_URL", defaults.events_url),
        sap_events_user=environ.get("SAP_EVENTS_USER", defaults.sap_events_user),
        sap_events_password=environ.get("SAP_EVENTS_PASSWORD")
        or (DEV_SAP_EVENTS_PASSWORD if env == "development" else ""),
        inbox_poll_interval=_float(environ, "INBOX_POLL_INTERVAL", defaults.inbox_poll_interval),
        order_poll_interval=_float(environ, "ORDER_POLL_INTERVAL", defaults.order_poll_interval),
        vapid_private_key=environ.get("VAPID_PRIVATE_KEY", ""),
        vapid_key_file=environ.get("VAPID_KEY_FILE", defaults.vapid_key_file),
        vapid_subject=environ.get("VAPID_SUBJECT", defaults.vapid_subject),
        push_ttl=_int(environ, "PUSH_TTL", defaults.push_ttl),
        push_subscription_max_age=_int(environ, "PUSH_SUBSCRIPTION_MAX_AGE", defaults.push_subscription_max_age),
        webhook_max_attempts=_int(environ, "WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts),
        webhook_backoff_base=_float(environ, "WEBHOOK_BACKOFF_BASE", defaults.webhook_backoff_base),
        webhook_backoff_max=_float(environ, "WEBHOOK_BACKOFF_MAX", defaults.webhook_backoff_max),
        webhook_timeout=_float(environ, "WEBHOOK_TIMEOUT", defaults.webhook_timeout),
        otel_enabled=_bool(environ, "OTEL_ENABLED", False),
        otel_traces_exporter=otel_exporter,
        otel_exporter_otlp_endpoint=otel_endpoint,
        otel_exporter_otlp_headers=environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""),
        otel_service_name=environ.get("OTEL_SERVICE_NAME") or app_name,
    )
