"""SAP reached through BTP's Destination service and Connectivity proxy (the mock_btp stand-ins), as on BTP.

Settings come from VCAP_SERVICES like on Cloud Foundry; every call goes to the live mock SAP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from prometheus_client import REGISTRY

from app.dev_idp import mint_token
from devenv.redis_server import free_port
from odata_clients.connectivity import SapConnectivity
from odata_clients.destination_service import CACHE_SECONDS, DestinationService, ServiceBinding
from odata_clients.destinations import Principal
from odata_clients.errors import SapAuthError, SapDestinationError, SapUnavailable
from odata_clients.probe import destination_reachable
from runtime.sap import sap_connectivity
from runtime.settings import DEV_ISSUER, DEV_SAP_PASSWORD, DEV_SAP_USER, Settings, from_env
from tests.conftest import start_mock_sap

if TYPE_CHECKING:
    from tests.conftest import MockBtp, MockSap

DESTINATION_CLIENT = ("sb-destination", "destination-secret")
CONNECTIVITY_CLIENT = ("sb-connectivity", "connectivity-secret")
SAP_OAUTH_CLIENT = ("s4-technical", "s4-secret")  # SAP's own OAuth client, mapped to the technical user
VIRTUAL_HOST = "s4-onprem:44300"
LOCATION = "plant-dc"


@pytest.fixture(scope="module")
def btp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def btp_sap(btp_port: int, dev_idp_jwks_url: str) -> Iterator[MockSap]:
    """A mock SAP that trusts the development IdP and the stand-ins' issuer (SAP's tokens from the destination
    service, the Cloud Connector's principal propagation)."""
    sap = start_mock_sap(
        "--trusted-issuer",
        DEV_ISSUER,
        "--trusted-jwks-url",
        dev_idp_jwks_url,
        "--trusted-issuer",
        f"http://127.0.0.1:{btp_port}/oauth/token",
        "--trusted-jwks-url",
        f"http://127.0.0.1:{btp_port}/token_keys",
    )
    yield sap
    sap.stop()


def _destinations(sap_url: str, btp_url: str) -> list[dict[str, Any]]:
    internet = {"Type": "HTTP", "ProxyType": "Internet", "URL": sap_url, "sap-client": "100"}
    on_premise = {"Type": "HTTP", "ProxyType": "OnPremise", "URL": f"http://{VIRTUAL_HOST}", "sap-client": "100"}
    basic = {"Authentication": "BasicAuthentication", "User": DEV_SAP_USER, "Password": DEV_SAP_PASSWORD}
    return [
        {"Name": "S4_BASIC", **internet, **basic},
        {
            "Name": "S4_OAUTH",
            **internet,
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": f"{btp_url}/oauth/token",
            "clientId": SAP_OAUTH_CLIENT[0],
            "clientSecret": SAP_OAUTH_CLIENT[1],
        },
        {
            "Name": "S4_JWT",
            **internet,
            "Authentication": "OAuth2JWTBearer",
            "tokenServiceURL": f"{btp_url}/oauth/token",
        },
        {"Name": "S4_SAML", **internet, "Authentication": "OAuth2SAMLBearerAssertion", "audience": "S4H"},
        {"Name": "S4_ONPREM_BASIC", **on_premise, **basic, "CloudConnectorLocationId": LOCATION},
        {
            "Name": "S4_ONPREM_PP",
            **on_premise,
            "Authentication": "PrincipalPropagation",
            "CloudConnectorLocationId": LOCATION,
        },
    ]


@pytest.fixture(scope="module")
def btp(btp_port: int, btp_sap: MockSap, dev_idp_jwks_url: str) -> Iterator[MockBtp]:
    from tests.conftest import start_mock_btp

    url = f"http://127.0.0.1:{btp_port}"
    config = {
        "clients": {
            DESTINATION_CLIENT[0]: {"secret": DESTINATION_CLIENT[1], "user_name": None},
            CONNECTIVITY_CLIENT[0]: {"secret": CONNECTIVITY_CLIENT[1], "user_name": None},
            SAP_OAUTH_CLIENT[0]: {"secret": SAP_OAUTH_CLIENT[1], "user_name": DEV_SAP_USER},
        },
        "destination_client": DESTINATION_CLIENT[0],
        "connectivity_client": CONNECTIVITY_CLIENT[0],
        "destinations": _destinations(btp_sap.url, url),
        "cloud_connector": [{"location_id": LOCATION, "virtual_host": VIRTUAL_HOST, "internal_url": btp_sap.url}],
    }
    trust = ("--trusted-issuer", DEV_ISSUER, "--trusted-jwks-url", dev_idp_jwks_url)
    server = start_mock_btp(config, *trust, port=btp_port)
    yield server
    server.stop()


def _vcap(btp: MockBtp, *, connectivity: bool = True) -> str:
    proxy_host, proxy_port = btp.proxy_url.removeprefix("http://").split(":")
    services: dict[str, Any] = {
        "destination": [
            {
                "name": "sapext-destination",
                "label": "destination",
                "credentials": {
                    "uri": btp.url,
                    "url": btp.url,
                    "clientid": DESTINATION_CLIENT[0],
                    "clientsecret": DESTINATION_CLIENT[1],
                },
            }
        ]
    }
    if connectivity:
        services["connectivity"] = [
            {
                "name": "sapext-connectivity",
                "label": "connectivity",
                "credentials": {
                    "onpremise_proxy_host": proxy_host,
                    "onpremise_proxy_http_port": proxy_port,
                    "clientid": CONNECTIVITY_CLIENT[0],
                    "clientsecret": CONNECTIVITY_CLIENT[1],
                    "token_service_url": btp.url,
                },
            }
        ]
    return json.dumps(services)


@pytest.fixture
def connect(btp: MockBtp, tmp_path: Path, dev_idp_key_file: str) -> Iterator[Callable[..., SapConnectivity]]:
    """`connect("S4_BASIC", "S4_JWT")` -> SapConnectivity built from settings with those destinations."""
    made: list[SapConnectivity] = []
    btp.admin("reset-stats", "POST")

    def factory(technical: str, user: str = "", *, connectivity: bool = True) -> SapConnectivity:
        environ = {
            "VCAP_SERVICES": _vcap(btp, connectivity=connectivity),
            "SAP_DESTINATION_NAME": technical,
            "SAP_USER_DESTINATION_NAME": user,
            "SAP_INBOX_USER_PROPAGATION": "true" if user else "false",
            "SAP_MAX_ATTEMPTS": "1",
            "DEV_IDP_KEY_FILE": dev_idp_key_file,
        }
        made.append(sap_connectivity(from_env(environ)))
        return made[-1]

    yield factory
    for sap in made:
        sap.close()


def _lookups(destination: str, status: str) -> float:
    value = REGISTRY.get_sample_value("sap_destination_lookups_total", {"destination": destination, "status": status})
    return value or 0.0


def user(dev_idp_key_file: str, name: str) -> Principal:
    """An executive as the app's user token names them (the development IdP signs it, as XSUAA would)."""
    settings = Settings(dev_idp_key_file=dev_idp_key_file)
    return Principal(name, mint_token(settings, name, ["Executive"], {}))


def test_basic_destination_is_looked_up_once_and_serves_technical_reads(
    connect: Callable[..., SapConnectivity], btp: MockBtp
) -> None:
    sap = connect("S4_BASIC")
    first = sap.production_orders.search(["1010"], top=3)
    second = sap.production_orders.search(["1020"], top=3)
    assert first.items and second.items and {o.plant for o in second.items} == {"1020"}
    stats = btp.admin("stats")
    # One token for the destination service and one lookup, whatever the number of calls (cached).
    assert stats["destination_lookups"] == {"S4_BASIC": 1}
    assert stats["token_requests"] == {DESTINATION_CLIENT[0]: 1}


def test_oauth2_client_credentials_destination_brings_sap_s_token(
    connect: Callable[..., SapConnectivity], btp: MockBtp
) -> None:
    sap = connect("S4_OAUTH")
    order = sap.production_orders.search(["1010"], top=1).items[0]
    assert sap.production_orders.get(order.order_id).order_id == order.order_id
    assert btp.admin("stats")["token_requests"].get(SAP_OAUTH_CLIENT[0]) == 1  # the service fetched SAP's token


@pytest.mark.parametrize("user_destination", ["S4_JWT", "S4_SAML"])
def test_user_destinations_exchange_the_user_s_token_for_their_own_sap_token(
    connect: Callable[..., SapConnectivity], dev_idp_key_file: str, user_destination: str
) -> None:
    sap = connect("S4_BASIC", user_destination)
    anna = sap.tasks.for_user(user(dev_idp_key_file, "EXEC_ANNA")).list_open(top=50)
    ben = sap.tasks.for_user(user(dev_idp_key_file, "EXEC_BEN")).list_open(top=50)
    assert anna.items and ben.items
    # SAP scoped each inbox to the user the exchanged token names: the two do not share a task.
    assert not {t.task_id for t in anna.items} & {t.task_id for t in ben.items}


def test_on_premise_basic_goes_through_the_connectivity_proxy_with_its_location(
    connect: Callable[..., SapConnectivity], btp: MockBtp
) -> None:
    sap = connect("S4_ONPREM_BASIC")
    assert sap.production_orders.search(["1010"], top=2).items
    stats = btp.admin("stats")
    assert stats["proxy_requests"] >= 1
    assert stats["token_requests"].get(CONNECTIVITY_CLIENT[0]) == 1
    assert destination_reachable(sap.technical_http, timeout=5) is None


def test_principal_propagation_on_premise_acts_as_the_user_and_writes_through_the_proxy(
    connect: Callable[..., SapConnectivity], dev_idp_key_file: str
) -> None:
    sap = connect("S4_ONPREM_BASIC", "S4_ONPREM_PP")
    ben = sap.tasks.for_user(user(dev_idp_key_file, "EXEC_BEN"))
    task = next(t for t in ben.list_open().items if t.supports_claim)
    # A write: CSRF token fetched and cookies kept through the proxy, as the user.
    assert ben.claim(task.task_id, task.origin).status == "RESERVED"
    assert ben.release(task.task_id, task.origin).status == "READY"


def test_a_token_the_destination_service_revoked_is_fetched_again(
    btp: MockBtp, dev_idp_key_file: str, connect: Callable[..., SapConnectivity]
) -> None:
    sap = connect("S4_BASIC")
    sap.production_orders.search(["1010"], top=1)
    resolver = sap.technical_http.destination.auth.resolver  # type: ignore[union-attr]
    btp.admin("revoke-tokens", "POST")
    resolver._cache.clear()  # the cached destination's time is up: the next call asks again
    refused_before = _lookups("S4_BASIC", "401")
    assert sap.production_orders.search(["1010"], top=1).items
    assert _lookups("S4_BASIC", "401") == refused_before + 1  # our cached token, refused once
    stats = btp.admin("stats")
    assert stats["token_requests"] == {DESTINATION_CLIENT[0]: 2}  # then a new one, and the lookup answered
    assert stats["destination_lookups"] == {"S4_BASIC": 2}


def test_a_missing_destination_is_named_in_the_error(connect: Callable[..., SapConnectivity]) -> None:
    sap = connect("S4_NO_SUCH")
    with pytest.raises(SapDestinationError, match="S4_NO_SUCH was not found in the destination service"):
        sap.production_orders.search(["1010"], top=1)
    assert destination_reachable(sap.technical_http, timeout=5) == "destination unusable: destination"


def test_a_user_token_sap_does_not_accept_is_the_user_s_401(
    connect: Callable[..., SapConnectivity], dev_idp_key_file: str
) -> None:
    sap = connect("S4_BASIC", "S4_JWT")
    stranger = user(dev_idp_key_file, "NOT_IN_SAP")  # a valid token for a user SAP does not know
    with pytest.raises(SapAuthError) as refused:
        sap.tasks.for_user(stranger).list_open()
    assert refused.value.status == 401 and refused.value.destination == "S4_JWT"


def test_a_user_token_the_destination_service_refuses_names_the_destination_and_user(
    connect: Callable[..., SapConnectivity], dev_idp_key_file: str
) -> None:
    sap = connect("S4_BASIC", "S4_JWT")
    forged = Principal("EXEC_ANNA", user(dev_idp_key_file, "EXEC_ANNA").token[:-4] + "AAAA")
    with pytest.raises(SapAuthError, match="could not get a token of destination S4_JWT for user EXEC_ANNA"):
        sap.tasks.for_user(forged).list_open()


def test_destinations_of_the_wrong_kind_or_without_their_proxy_say_what_to_fix(
    connect: Callable[..., SapConnectivity], dev_idp_key_file: str
) -> None:
    with pytest.raises(SapDestinationError, match="S4_JWT has Authentication OAuth2JWTBearer.*is technical"):
        connect("S4_JWT").production_orders.search(["1010"], top=1)
    anna = user(dev_idp_key_file, "EXEC_ANNA")
    with pytest.raises(SapDestinationError, match="S4_BASIC has Authentication BasicAuthentication.*acts as the user"):
        connect("S4_OAUTH", "S4_BASIC").tasks.for_user(anna).list_open()
    with pytest.raises(SapDestinationError, match="S4_ONPREM_BASIC is OnPremise: bind the Connectivity service"):
        connect("S4_ONPREM_BASIC", connectivity=False).production_orders.search(["1010"], top=1)


def test_the_proxy_refuses_a_token_it_did_not_issue(btp: MockBtp, btp_sap: MockSap) -> None:
    """The stand-in's proxy authenticates us (a client that forgot Proxy-Authorization would pass a fake)."""
    response = requests.get(
        f"http://{VIRTUAL_HOST}/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/$metadata",
        proxies={"http": btp.proxy_url},
        headers={"Proxy-Authorization": "Bearer not-a-token", "SAP-Connectivity-SCC-Location_ID": LOCATION},
        auth=(DEV_SAP_USER, DEV_SAP_PASSWORD),
        timeout=10,
    )
    assert response.status_code == 407


def test_a_looked_up_destination_is_used_until_its_cache_time_then_asked_again(btp: MockBtp) -> None:
    """SAP's Cloud SDK keeps a destination 5 minutes: a password changed in the cockpit is picked up within that."""
    now = [1000.0]
    binding = ServiceBinding(btp.url, f"{btp.url}/oauth/token", *DESTINATION_CLIENT)
    service = DestinationService("S4_OAUTH", binding, clock=lambda: now[0])
    btp.admin("reset-stats", "POST")
    try:
        first = service.route(None)
        now[0] += CACHE_SECONDS - 31  # SAP's token (3600 s) outlives the cache time, which decides
        assert service.route(None) == first
        assert btp.admin("stats")["destination_lookups"] == {"S4_OAUTH": 1}
        now[0] += 31
        again = service.route(None)
        assert btp.admin("stats")["destination_lookups"] == {"S4_OAUTH": 2}
        assert again.headers["Authorization"] != first.headers["Authorization"]  # a new SAP token came with it
    finally:
        service.close()


def test_a_destination_service_that_is_away_is_sap_unavailable_unless_its_last_answer_still_works(btp: MockBtp) -> None:
    now = [1000.0]
    binding = ServiceBinding(btp.url, f"{btp.url}/oauth/token", *DESTINATION_CLIENT)
    service = DestinationService("S4_BASIC", binding, clock=lambda: now[0])
    gone = DestinationService(
        "S4_BASIC", ServiceBinding(f"http://127.0.0.1:{free_port()}", binding.token_url, *DESTINATION_CLIENT)
    )
    try:
        with pytest.raises(SapUnavailable, match="destination service did not answer for destination S4_BASIC"):
            gone.route(None)  # the web answers 503 with Retry-After, a worker tries again later
        first = service.route(None)
        service._binding = gone._binding  # the service goes away
        now[0] += CACHE_SECONDS + 1
        assert service.route(None) == first  # Basic credentials do not expire: what it said last still serves
    finally:
        service.close()
        gone.close()


def test_concurrent_callers_on_an_empty_cache_share_one_lookup(btp: MockBtp) -> None:
    service = DestinationService("S4_BASIC", ServiceBinding(btp.url, f"{btp.url}/oauth/token", *DESTINATION_CLIENT))
    btp.admin("reset-stats", "POST")
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            routes = list(pool.map(lambda _: service.route(None), range(12)))
        assert len({r.url for r in routes}) == 1
        assert btp.admin("stats")["destination_lookups"] == {"S4_BASIC": 1}
    finally:
        service.close()


def test_principal_propagation_over_the_internet_is_refused_as_a_configuration_error(
    btp: MockBtp, btp_sap: MockSap, connect: Callable[..., SapConnectivity], dev_idp_key_file: str
) -> None:
    btp.admin(
        "destinations/S4_PP_INTERNET",
        "PUT",
        json={"Name": "S4_PP_INTERNET", "Type": "HTTP", "URL": btp_sap.url, "Authentication": "PrincipalPropagation"},
    )
    sap = connect("S4_BASIC", "S4_PP_INTERNET")
    with pytest.raises(SapDestinationError, match="S4_PP_INTERNET has PrincipalPropagation, which needs ProxyType"):
        sap.tasks.for_user(user(dev_idp_key_file, "EXEC_ANNA")).list_open()


def test_a_proxy_token_the_connectivity_service_revoked_fails_one_call_and_is_fetched_again(
    connect: Callable[..., SapConnectivity], btp: MockBtp
) -> None:
    sap = connect("S4_ONPREM_BASIC")
    assert sap.production_orders.search(["1010"], top=1).items
    btp.admin("revoke-tokens", "POST")
    with pytest.raises(SapUnavailable, match="Connectivity proxy refused the token for S4_ONPREM_BASIC"):
        sap.production_orders.search(["1020"], top=1)  # nothing reached SAP: a worker retries, the web says 503
    assert sap.production_orders.search(["1020"], top=1).items
    assert btp.admin("stats")["token_requests"][CONNECTIVITY_CLIENT[0]] == 2
