"""Accept-Language through the API: SAP's texts come back in the caller's language, passed on as `sap-language`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import requests
from flask.testing import FlaskClient

from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer

ENGLISH = {"I0002": ("REL", "Released"), "I0016": ("PRC", "Pre-costed")}
GERMAN = {"I0002": ("FREI", "Freigegeben"), "I0016": ("VKAL", "Vorkalkuliert")}


def released_order(api: FlaskClient, headers: dict[str, str]) -> str:
    response = api.get("/api/v1/production-orders?status=released&limit=1", headers=headers)
    body = response.json
    assert response.status_code == 200 and body is not None, body
    return str(body["items"][0]["order_id"])


def statuses(api: FlaskClient, order: str, headers: dict[str, str]) -> dict[str, tuple[str, str]]:
    response = api.get(f"/api/v1/production-orders/{order}", headers=headers)
    body = response.json
    assert response.status_code == 200 and body is not None, body
    assert "Accept-Language" in response.headers.get("Vary", "")
    return {s["code"]: (s["short_name"], s["name"]) for s in body["statuses"] if s["code"] in ENGLISH}


def sap_requests(sap: MockSap) -> list[dict[str, Any]]:
    response = requests.get(f"{sap.url}/mock-admin/requests", timeout=10)
    response.raise_for_status()
    return list(response.json()["requests"])


def forget_requests(sap: MockSap) -> None:
    requests.delete(f"{sap.url}/mock-admin/requests", timeout=10).raise_for_status()


def languages_sent(sap: MockSap) -> set[str | None]:
    """The `sap-language` values of the SAP calls since the log was cleared (None: a call without one)."""
    sent: set[str | None] = set()
    for request in sap_requests(sap):
        if "$metadata" not in request["path"]:
            values = parse_qs(request["query"]).get("sap-language")
            sent.add(",".join(values) if values else None)
    assert sent, "no SAP call was made"
    return sent


def test_order_detail_in_the_callers_language(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = released_order(api, headers)
    forget_requests(trusting_sap)
    assert statuses(api, order, {**headers, "Accept-Language": "de-DE,de;q=0.9"}) == GERMAN
    assert languages_sent(trusting_sap) == {"DE"}
    # The next request on the same thread, without the header, is in SAP's default language again.
    forget_requests(trusting_sap)
    assert statuses(api, order, headers) == ENGLISH
    assert languages_sent(trusting_sap) == {None}


def test_preferences_are_weighed(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = released_order(api, headers)
    assert statuses(api, order, {**headers, "Accept-Language": "en;q=0.5, de;q=0.8"}) == GERMAN
    assert statuses(api, order, {**headers, "Accept-Language": "en-GB, de;q=0.8"}) == ENGLISH
    # A language SAP has no texts for comes back in SAP's default (English in the mock system).
    assert statuses(api, order, {**headers, "Accept-Language": "fr-FR"}) == ENGLISH


def test_an_unusable_header_is_ignored_not_an_error(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = released_order(api, headers)
    for value in (";;;q=abc", "de;q=2", "*", "tlh-Latn", "de;q=0", "\u00e4\u00f6\u00fc"):
        forget_requests(trusting_sap)
        assert statuses(api, order, {**headers, "Accept-Language": value}) == ENGLISH, value
        assert languages_sent(trusting_sap) == {None}, value


def test_lists_are_in_the_callers_language_too(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    forget_requests(trusting_sap)
    response = api.get("/api/v1/production-orders?limit=3", headers={**headers, "Accept-Language": "de"})
    assert response.status_code == 200, response.json
    assert languages_sent(trusting_sap) == {"DE"}


def test_the_api_description_says_so(api: FlaskClient) -> None:
    spec = api.get("/openapi.json").json
    assert spec is not None and "`Accept-Language`" in spec["info"]["description"]
    # One sentence for all: no operation declares its own Accept-Language parameter.
    declared = [
        parameter.get("name")
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
    ]
    assert "Accept-Language" not in declared
