"""SAP BTP's bindings: the Destination and Connectivity services, and secrets from a user-provided service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from odata_clients.destinations import AuthKind, DestinationServiceAuth
from runtime.sap import sap_connectivity
from runtime.settings import ConfigError, from_env

DESTINATION = {
    "uri": "https://destination.example",
    "url": "https://sub.auth.example",
    "clientid": "c",
    "clientsecret": "s",
}
CONNECTIVITY = {
    "onpremise_proxy_host": "connectivityproxy.internal",
    "onpremise_proxy_http_port": "20003",
    "clientid": "cc",
    "clientsecret": "cs",
    "token_service_url": "https://sub.auth.example",
}
SECRETS = {
    "PAGING_SECRET": "p" * 40,
    "SAP_USER_ASSERTION_KEY": {"kty": "RSA"},  # a JSON object in the binding: read as its JSON text
    "SAP_EVENTS_PASSWORD": "from-binding",
    "lowercase": "ignored",
}


def _vcap(**bindings: dict[str, Any]) -> str:
    labels = {"destination": "destination", "connectivity": "connectivity", "secrets": "user-provided"}
    names = {"destination": "sapext-destination", "connectivity": "sapext-connectivity", "secrets": "sapext-secrets"}
    services: dict[str, list[dict[str, Any]]] = {}
    for kind, credentials in bindings.items():
        services.setdefault(labels[kind], []).append({"name": names[kind], "credentials": credentials})
    services["xsuaa"] = [{"name": "sapext-xsuaa", "credentials": {"url": "https://sub.auth.example", "xsappname": "x"}}]
    return json.dumps(services)


BTP = {
    "APP_ENV": "production",
    "SAP_DESTINATION_NAME": "S4HANA",
    "SAP_USER_DESTINATION_NAME": "S4HANA_USER",
}


def test_production_runs_from_destinations_and_the_secrets_binding_alone() -> None:
    settings = from_env(
        {**BTP, "VCAP_SERVICES": _vcap(destination=DESTINATION, connectivity=CONNECTIVITY, secrets=SECRETS)}
    )
    assert settings.sap_destination_name == "S4HANA" and settings.sap_user_destination_name == "S4HANA_USER"
    assert settings.destination_service == DESTINATION and settings.connectivity_service == CONNECTIVITY
    assert settings.paging_secret == "p" * 40 and settings.sap_events_password == "from-binding"
    assert json.loads(settings.sap_user_assertion_key) == {"kty": "RSA"}
    assert "clientsecret" not in repr(settings) and "p" * 40 not in repr(settings)


def test_the_environment_wins_over_the_secrets_binding() -> None:
    environ = {"VCAP_SERVICES": _vcap(secrets=SECRETS), "SAP_EVENTS_PASSWORD": "from-env"}
    assert from_env(environ).sap_events_password == "from-env"


def test_destinations_become_destination_service_lookups_by_name() -> None:
    settings = from_env(
        {"VCAP_SERVICES": _vcap(destination=DESTINATION, connectivity=CONNECTIVITY), **BTP, "APP_ENV": "development"}
    )
    sap = sap_connectivity(settings)
    try:
        technical, user = sap.technical_http.destination, sap.user_http.destination
        assert (technical.name, user.name) == ("S4HANA", "S4HANA_USER")
        assert (
            isinstance(technical.auth, DestinationServiceAuth) and technical.auth_kind is AuthKind.DESTINATION_SERVICE
        )
        assert isinstance(user.auth, DestinationServiceAuth) and user.auth_kind is AuthKind.USER_PROPAGATION
        assert sap.user_http.bulkhead is sap.technical_http.bulkhead  # one limit on calls to the one SAP system
    finally:
        sap.close()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SAP_DESTINATION_NAME": "S4HANA"}, "need SAP BTP's Destination service bound"),
        (
            {"SAP_DESTINATION_NAME": "S4HANA", "VCAP_SERVICES": _vcap(destination={**DESTINATION, "clientsecret": ""})},
            "destination binding in VCAP_SERVICES lacks clientsecret",
        ),
        (
            {"SAP_DESTINATION_NAME": "S4HANA", "VCAP_SERVICES": _vcap(destination=DESTINATION)},
            "needs SAP_USER_DESTINATION_NAME",
        ),
        (
            {"SAP_USER_DESTINATION_NAME": "U", "VCAP_SERVICES": _vcap(destination=DESTINATION)},
            "needs SAP_DESTINATION_NAME",
        ),
        (
            {"VCAP_SERVICES": _vcap(connectivity={**CONNECTIVITY, "onpremise_proxy_http_port": ""})},
            "lacks onpremise_proxy_http_port",
        ),
    ],
)
def test_incomplete_btp_settings_say_what_is_missing(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_env(environ)


def test_the_inbox_may_do_without_a_user_destination_when_it_does_not_act_as_the_user() -> None:
    environ = {
        "SAP_DESTINATION_NAME": "S4HANA",
        "SAP_INBOX_USER_PROPAGATION": "false",
        "VCAP_SERVICES": _vcap(destination=DESTINATION),
    }
    assert from_env(environ).sap_user_destination_name == ""


def test_the_event_stream_process_needs_no_destination() -> None:
    """It never calls SAP: a half-configured destination does not keep it from starting."""
    assert from_env({"SAP_DESTINATION_NAME": "S4HANA"}, calls_sap=False).sap_destination_name == "S4HANA"


def test_a_destination_service_instance_is_never_taken_for_a_destination_entry() -> None:
    """The older binding (an entry tagged sap-destination) matches by name; SAP's services match by label only."""
    vcap = {"destination": [{"name": "my-sap-destination", "credentials": DESTINATION}]}
    assert from_env({"VCAP_SERVICES": json.dumps(vcap)}).sap_destination is None
