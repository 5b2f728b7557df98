"""The Flask web layer; `create_app` is the one place that wires everything together."""

from __future__ import annotations

import os
from typing import Any

import redis
from flask import Flask

from app.api import ExtensionApi, openapi_config
from app.auth import SECURITY_SCHEME, JwksKeys, StaticKeys, TokenValidator
from app.deadline import init_request_deadline
from app.errors import register_error_handlers
from app.event_stream_doc import document_event_stream
from app.json_provider import FastJSONProvider
from app.language import init_request_language
from app.metrics import init_metrics
from app.paging import paging_key
from app.query_args import init_query_args
from app.request_log import init_request_log
from app.request_tracing import init_request_tracing
from app.web_security import init_web_security
from app.webapp import init_webapp
from runtime.logs import configure_logging
from runtime.sap import sap_connectivity
from runtime.settings import Settings, from_env
from runtime.tracing import configure_tracing
from store import Store
from store.db import make_engine


def create_app(config: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app from `config` (default: the environment), with settings `overrides` on top.

    Nothing connects to Redis, the database or SAP here; clients connect on first use.
    """
    settings = (config or from_env()).replace(**overrides) if overrides else (config or from_env())
    configure_logging(settings.log_level, settings.log_format, app=settings.app_name, process="web")
    configure_tracing(settings, "web")

    app = Flask(__name__)
    app.config.update(openapi_config())
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = FastJSONProvider(app)
    # Test-suite switch (tests/conftest.py sets it): every response is dumped by marshmallow too and compared.
    app.config["VERIFY_RESPONSE_DUMP"] = os.environ.get("VERIFY_RESPONSE_DUMP") == "1"
    app.extensions["settings"] = settings
    app.extensions["redis"] = redis.Redis.from_url(
        settings.redis_url, socket_timeout=settings.health_timeout, socket_connect_timeout=settings.health_timeout
    )
    app.extensions["db_engine"] = make_engine(settings.database_url)
    app.extensions["store"] = Store(app.extensions["db_engine"])
    app.extensions["sap"] = sap_connectivity(settings)

    api = ExtensionApi(app)
    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    register_error_handlers(app)
    init_request_log(app)
    init_request_deadline(app)
    init_request_language(app)
    init_request_tracing(app)
    init_metrics(app)
    init_web_security(app, settings.cors_origins, settings.is_production)
    app.extensions["token_validator"] = TokenValidator(
        settings.jwt_issuer, settings.xsappname, _signing_keys(app, api, settings), settings.jwt_leeway
    )
    register_blueprints(api)
    document_event_stream(api.spec, settings)  # served by its own process (app/event_stream.py)
    init_webapp(app)  # the reference app at /app: a plain blueprint, not in the OpenAPI document
    app.extensions["paging_key"] = paging_key(settings)
    init_query_args(app, api)
    return app


def _signing_keys(app: Flask, api: ExtensionApi, settings: Settings) -> JwksKeys | StaticKeys:
    if not settings.dev_idp_enabled:
        return JwksKeys(settings.jwks_url)
    from app import dev_idp, dev_oauth

    api.register_blueprint(dev_idp.blp)
    dev_oauth.init_dev_oauth(app)
    return StaticKeys(dev_idp.init_dev_idp(app))


def register_blueprints(api: ExtensionApi) -> None:
    from app import health, integration_health, metrics
    from roles import admin, events, executive, me, plant_manager, push, supervisor, writebacks

    api.register_blueprint(health.blp)
    api.register_blueprint(metrics.blp)
    api.register_blueprint(integration_health.blp)
    for role_blueprint in (
        me.blp,
        executive.blp,
        plant_manager.blp,
        supervisor.blp,
        writebacks.blp,
        admin.blp,
        push.blp,
    ):
        api.register_blueprint(role_blueprint)
    api.register_blueprint(events.blp)
    events.document(api.spec)
