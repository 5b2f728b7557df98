"""Settings come from the environment and Cloud Foundry's VCAP_* variables, parsed in one place."""

from __future__ import annotations

import json

import pytest

from runtime.settings import ConfigError, Settings, from_env


def test_embedded_defaults_need_no_environment() -> None:
    settings = from_env({})
    assert settings.env == "development"
    assert settings.port == 8080
    assert settings.database_url.startswith("sqlite:///")
    assert settings.sap_user and settings.sap_password  # the mock's technical user


def test_fixed_names_are_read() -> None:
    settings = from_env(
        {
            "PORT": "9000",
            "REDIS_URL": "redis://cache:6380/2",
            "DATABASE_URL": "postgresql://u:p@db/app",
            "SAP_URL": "https://s4.example.com/",
        }
    )
    assert settings.port == 9000
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.database_url == "postgresql+psycopg://u:p@db/app"
    assert settings.sap_url == "https://s4.example.com"


def test_vcap_services_bindings_fill_redis_and_database() -> None:
    vcap = {
        "redis-cache": [
            {
                "name": "cache",
                "tags": ["redis"],
                "credentials": {"hostname": "r.internal", "port": 1234, "password": "pw"},
            }
        ],
        "postgresql-db": [{"name": "db", "tags": ["postgresql"], "credentials": {"uri": "postgres://u:p@pg:5432/d"}}],
        "xsuaa": [
            {
                "name": "uaa",
                "credentials": {"url": "https://t1.authentication.eu10.example.com", "xsappname": "sapext!t7"},
            }
        ],
    }
    application = {"application_name": "sapext", "instance_index": 3}
    settings = from_env(
        {
            "VCAP_SERVICES": json.dumps(vcap),
            "VCAP_APPLICATION": json.dumps(application),
            "SAP_URL": "https://s4",
            "SAP_USER": "TECH",
            "SAP_PASSWORD": "secret",
            "SAP_USER_ASSERTION_KEY_FILE": "/etc/keys/assertion.json",
            "PAGING_SECRET": "p" * 32,
        }
    )
    assert settings.redis_url == "redis://:pw@r.internal:1234/0"
    assert settings.database_url == "postgresql+psycopg://u:p@pg:5432/d"
    assert settings.env == "production"  # running on Cloud Foundry means production unless told otherwise
    assert (settings.app_name, settings.instance_index) == ("sapext", 3)
    assert settings.jwt_issuer == "https://t1.authentication.eu10.example.com/oauth/token"
    assert settings.jwks_url == "https://t1.authentication.eu10.example.com/token_keys"
    assert settings.xsappname == "sapext!t7"
    assert not settings.dev_idp_enabled


def test_development_uses_the_dev_identity_provider() -> None:
    assert from_env({}).dev_idp_enabled
    assert not from_env({"JWT_ISSUER": "https://idp", "JWKS_URL": "https://idp/keys"}).dev_idp_enabled


def test_issuer_without_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="JWKS_URL"):
        from_env({"JWT_ISSUER": "https://idp"})


def test_environment_variables_win_over_bindings() -> None:
    vcap = {"redis": [{"name": "cache", "credentials": {"uri": "redis://bound:6379"}}]}
    settings = from_env({"VCAP_SERVICES": json.dumps(vcap), "REDIS_URL": "redis://explicit:6379"})
    assert settings.redis_url == "redis://explicit:6379"


def test_production_refuses_to_start_without_sap_credentials() -> None:
    with pytest.raises(ConfigError, match="SAP_USER"):
        from_env({"APP_ENV": "production", "SAP_URL": "https://s4"})


def test_production_refuses_the_development_identity_provider() -> None:
    with pytest.raises(ConfigError, match="JWKS_URL"):
        from_env({"APP_ENV": "production", "SAP_URL": "https://s4", "SAP_USER": "T", "SAP_PASSWORD": "p"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "eighty"), ("SAP_READ_TIMEOUT", "soon"), ("APP_ENV", "staging"), ("LOG_FORMAT", "xml")],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


def test_malformed_vcap_services_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="VCAP_SERVICES"):
        from_env({"VCAP_SERVICES": "{not json"})


def test_password_is_not_in_repr() -> None:
    assert "tech-pass" not in repr(Settings())


def test_replace_rejects_unknown_settings() -> None:
    with pytest.raises(ConfigError, match="no_such"):
        Settings().replace(no_such=1)


def test_tracing_is_off_by_default_and_named_after_the_app() -> None:
    settings = from_env({"VCAP_APPLICATION": json.dumps({"application_name": "sapext"}), "APP_ENV": "development"})
    assert settings.otel_enabled is False
    assert settings.otel_service_name == "sapext"
    assert settings.otel_exporter_otlp_endpoint == "http://localhost:4318"


def test_tracing_settings_are_read() -> None:
    settings = from_env(
        {
            "OTEL_ENABLED": "true",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example.com:4318/",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret",
            "OTEL_SERVICE_NAME": "sapext-eu",
        }
    )
    assert settings.otel_enabled and settings.otel_traces_exporter == "console"
    assert settings.otel_exporter_otlp_endpoint == "https://collector.example.com:4318"
    assert settings.otel_service_name == "sapext-eu"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("OTEL_ENABLED", "maybe"), ("OTEL_TRACES_EXPORTER", "jaeger"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
)
def test_malformed_tracing_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


def test_malformed_vcap_application_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="VCAP_APPLICATION"):
        from_env({"VCAP_APPLICATION": "[1"})
    with pytest.raises(ConfigError, match="integer"):
        from_env({"VCAP_APPLICATION": json.dumps({"instance_index": "first"}), "APP_ENV": "development"})


def test_oauth_client_credentials_for_technical_calls() -> None:
    from odata_clients.destinations import OAuth2ClientCredentials
    from runtime.sap import technical_destination

    settings = from_env(
        {
            "SAP_AUTH": "oauth2_client_credentials",
            "SAP_OAUTH_TOKEN_URL": "https://auth.example.com/oauth/token",
            "SAP_OAUTH_CLIENT_ID": "sb-client",
            "SAP_OAUTH_CLIENT_SECRET": "shh",
            "SAP_MAX_ATTEMPTS": "4",
        }
    )
    destination = technical_destination(settings)
    assert isinstance(destination.auth, OAuth2ClientCredentials)
    assert destination.auth.client_id == "sb-client" and destination.max_attempts == 4
    assert "shh" not in repr(settings) and "shh" not in repr(destination)
    with pytest.raises(ConfigError, match="SAP_OAUTH_TOKEN_URL"):
        from_env({"SAP_AUTH": "oauth2_client_credentials"})
    with pytest.raises(ConfigError, match="SAP_AUTH"):
        from_env({"SAP_AUTH": "kerberos"})


def test_destination_bound_in_vcap_services_wins() -> None:
    from odata_clients.destinations import BasicAuth
    from runtime.sap import technical_destination

    entry = {"Name": "S4H", "URL": "https://s4.example.com", "Authentication": "BasicAuthentication",
             "User": "COMM_USER", "Password": "pw", "sap-client": "200"}  # fmt: skip
    vcap = {"user-provided": [{"name": "s4", "tags": ["sap-destination"], "credentials": entry}]}
    settings = from_env({"VCAP_SERVICES": json.dumps(vcap), "SAP_URL": "http://ignored"})
    destination = technical_destination(settings)
    assert (destination.name, destination.url, destination.client) == ("S4H", "https://s4.example.com", "200")
    assert isinstance(destination.auth, BasicAuth) and destination.auth.user == "COMM_USER"
    assert "COMM_USER" not in repr(settings), "a bound destination's credentials stay out of the repr"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("off", False), ("", False)])
def test_boolean_settings(raw: str, expected: bool) -> None:
    assert from_env({"ALLOW_OVER_CONFIRMATION": raw}).allow_over_confirmation is expected


def test_boolean_settings_refuse_nonsense() -> None:
    with pytest.raises(ConfigError, match="SAP_INBOX_USER_PROPAGATION"):
        from_env({"SAP_INBOX_USER_PROPAGATION": "maybe"})


PRODUCTION = {
    "APP_ENV": "production",
    "SAP_URL": "https://s4",
    "SAP_USER": "T",
    "SAP_PASSWORD": "p",
    "JWT_ISSUER": "https://idp",
    "JWKS_URL": "https://idp/keys",
    "SAP_USER_ASSERTION_KEY_FILE": "/etc/keys/assertion.json",
}


def test_production_refuses_to_start_without_a_paging_secret() -> None:
    with pytest.raises(ConfigError, match="PAGING_SECRET"):
        from_env(PRODUCTION)
    assert from_env({**PRODUCTION, "PAGING_SECRET": "s" * 32}).paging_secret == "s" * 32


def test_a_short_paging_secret_is_refused_and_never_shown() -> None:
    with pytest.raises(ConfigError, match="PAGING_SECRET must be at least 32") as refused:
        from_env({"PAGING_SECRET": "short-secret"})
    assert "short-secret" not in str(refused.value)
    assert "s" * 32 not in repr(from_env({"PAGING_SECRET": "s" * 32}))


def test_the_development_identity_provider_is_refused_in_production() -> None:
    production = {**PRODUCTION, "PAGING_SECRET": "s" * 32}
    assert not from_env(production).dev_idp_enabled
    with pytest.raises(ConfigError, match="DEV_IDP is for development only"):
        from_env({**production, "DEV_IDP": "true"})
    assert from_env({}).dev_idp_enabled  # development: on by default
    assert not from_env({"JWT_ISSUER": "https://idp", "JWKS_URL": "https://idp/keys"}).dev_idp_enabled
    with pytest.raises(ConfigError, match="DEV_IDP=false needs JWT_ISSUER"):
        from_env({"DEV_IDP": "false"})


def test_dev_idp_redirect_uris_from_the_environment() -> None:
    assert from_env({}).dev_idp_redirect_uris == ("http://localhost:*/**", "http://127.0.0.1:*/**")
    assert from_env({"DEV_IDP_REDIRECT_URIS": "myapp://cb, http://localhost:3000/**"}).dev_idp_redirect_uris == (
        "myapp://cb",
        "http://localhost:3000/**",
    )
