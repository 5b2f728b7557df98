"""Helpers for black-box tests of mock_sap: service URLs, SAP sessions, CSRF, paging and SAP error checks.

Everything here speaks HTTP to a running `python -m mock_sap` (the `mock_sap` fixture of tests/conftest.py)
and knows only the real SAP Gateway contracts (../shared/SAP-API-FACTS.md), never the mock's internals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pyodata
import pytest
import requests

if TYPE_CHECKING:
    from tests.conftest import MockSap

TASKS = "TASKPROCESSING"
PURREQ = "API_PURCHASEREQ_PROCESS_SRV"
PRODORD = "API_PRODUCTION_ORDER_2_SRV"
PRODCONF = "API_PROD_ORDER_CONFIRMATION_2_SRV"

SERVICE_PATHS = {
    TASKS: "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/",
    PURREQ: "/sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV/",
    PRODORD: "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/",
    PRODCONF: "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/",
}

TECH_USER = "EXT_API_TECH"
TECH_PASSWORD = "tech-pass-1"
USER_PASSWORD = "user-pass-1"
EXECUTIVES = ("EXEC_ANNA", "EXEC_BEN", "EXEC_CARLA")

# /work/main/tests/integration/mock_sap/conftest.py -> parents[3] is the repository root
SPECS_DIR = (Path(__file__).resolve().parents[3] / ".." / "shared" / "sap-api-specs").resolve()

# Characters left unescaped in query values: OData literals keep their quotes and punctuation readable
_QUERY_SAFE = "$'(),:;=*/@!"

DATE_RE = re.compile(r"^/Date\((-?\d+)\)/$")
DATETIMEOFFSET_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
TIME_RE = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TRANSACTION_ID_RE = re.compile(r"^[0-9A-Fa-f]{32}$")


def user_password(user: str) -> str:
    """The default password of a mock user (the technical user has its own)."""
    return TECH_PASSWORD if user == TECH_USER else USER_PASSWORD


def query_string(params: dict[str, Any] | None) -> str:
    """Encode OData query options with %20 for spaces (pyodata's requests-based encoding uses '+')."""
    if not params:
        return ""
    return "?" + "&".join(f"{key}={quote(str(value), safe=_QUERY_SAFE)}" for key, value in params.items())


def parse_date(value: str) -> datetime:
    """`/Date(ms)/` (optionally with an offset) to an aware UTC datetime."""
    match = DATETIMEOFFSET_RE.match(value)
    assert match, f"not an OData V2 date: {value!r}"
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def format_date(value: datetime) -> str:
    """An aware or naive-UTC datetime to `/Date(ms)/`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"/Date({int(value.timestamp() * 1000)})/"


def decimal(value: str) -> Decimal:
    """An Edm.Decimal wire value (always a JSON string) to a Decimal."""
    assert isinstance(value, str), f"Edm.Decimal must be a JSON string, got {value!r}"
    return Decimal(value)


def assert_sap_error(response: requests.Response, status: int | None = None) -> dict[str, Any]:
    """Check SAP Gateway's JSON error body (code, message{lang,value}, innererror) and return `error`."""
    if status is not None:
        assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    else:
        assert 400 <= response.status_code < 600, f"expected an error, got {response.status_code}"
    assert "json" in response.headers.get("Content-Type", ""), response.headers.get("Content-Type")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"]["lang"], str) and error["message"]["lang"], error
    assert isinstance(error["message"]["value"], str) and error["message"]["value"], error
    inner = error["innererror"]
    assert TRANSACTION_ID_RE.match(inner["transactionid"]), inner
    assert isinstance(inner["errordetails"], list), inner
    for detail in inner["errordetails"]:
        assert {"code", "message", "severity"} <= detail.keys(), detail
    return error


@dataclass
class Sap:
    """A requests session logged on to the mock as one SAP user, with OData conveniences."""

    root: str
    user: str
    session: requests.Session
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, service: str, path: str = "", params: dict[str, Any] | None = None) -> str:
        return f"{self.root}{SERVICE_PATHS[service]}{path}{query_string(params)}"

    def get(self, service: str, path: str = "", params: dict[str, Any] | None = None, **kw: Any):
        headers = {"Accept": "application/json", **kw.pop("headers", {})}
        return self.session.get(self.url(service, path, params), headers=headers, timeout=30, **kw)

    def read(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET that must succeed; returns the `d` payload."""
        response = self.get(service, path, params)
        assert response.status_code == 200, f"GET {path} {params}: {response.status_code} {response.text}"
        return response.json()["d"]

    def results(self, service: str, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.read(service, path, params)["results"]

    def fetch_csrf(self, service: str, method: str = "GET") -> str:
        """Fetch a CSRF token the Gateway way (GET or HEAD with `X-CSRF-Token: Fetch`) and remember it."""
        response = self.session.request(
            method, self.url(service), headers={"X-CSRF-Token": "Fetch", "Accept": "application/json"}, timeout=30
        )
        assert response.status_code == 200, f"CSRF fetch: {response.status_code} {response.text}"
        token = response.headers.get("x-csrf-token")
        assert token and token.lower() not in ("required", "fetch"), response.headers
        self.tokens[service] = token
        return token

    def write(
        self,
        method: str,
        service: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
    ) -> requests.Response:
        """A modifying request, with a CSRF token fetched on first use unless csrf=False."""
        all_headers = {"Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        if csrf:
            all_headers["X-CSRF-Token"] = self.tokens.get(service) or self.fetch_csrf(service)
        all_headers.update(headers or {})
        data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
        return self.session.request(method, self.url(service, path, params), data=data, headers=all_headers, timeout=30)

    def call(self, service: str, function: str, method: str = "POST", **parameters: str) -> requests.Response:
        """Call a function import with parameters in the query string (values are OData literals)."""
        if method == "GET":
            return self.get(service, function, parameters)
        return self.write(method, service, function, parameters)

    def collect(
        self, service: str, entity_set: str, params: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Follow `__next` links; returns (entities, __count of the first page, number of pages)."""
        first = self.read(service, entity_set, {**(params or {}), "$inlinecount": "allpages"})
        count = first["__count"]
        assert isinstance(count, str) and count.isdigit(), f"__count must be a digit string: {count!r}"
        entities = list(first["results"])
        pages = 1
        next_url = first.get("__next")
        while next_url:
            assert urlsplit(next_url).netloc == urlsplit(self.root).netloc, f"cross-origin __next {next_url}"
            response = self.session.get(next_url, headers={"Accept": "application/json"}, timeout=30)
            assert response.status_code == 200, f"{next_url}: {response.status_code} {response.text}"
            page = response.json()["d"]
            entities.extend(page["results"])
            next_url = page.get("__next")
            pages += 1
            assert pages < 10_000, "paging does not terminate"
        return entities, int(count), pages


def new_session(user: str | None, password: str | None = None) -> requests.Session:
    session = requests.Session()
    if user is not None:
        session.auth = (user, password if password is not None else user_password(user))
    return session


@pytest.fixture
def sap(mock_sap: MockSap) -> Iterator[Callable[..., Sap]]:
    """Factory: `sap(user=TECH_USER, password=None)` gives a logged-on Sap helper on the reset mock."""
    made: list[Sap] = []

    def factory(user: str = TECH_USER, password: str | None = None) -> Sap:
        helper = Sap(root=mock_sap.url, user=user, session=new_session(user, password))
        made.append(helper)
        return helper

    yield factory
    for helper in made:
        helper.session.close()


@pytest.fixture
def tech(sap: Callable[..., Sap]) -> Sap:
    """The technical communication user."""
    return sap(TECH_USER)


@pytest.fixture
def service_url(mock_sap: MockSap) -> Callable[[str], str]:
    """Factory: the absolute service root URL (with trailing slash) of a service name."""

    def factory(service: str) -> str:
        return f"{mock_sap.url}{SERVICE_PATHS[service]}"

    return factory


@pytest.fixture
def sap_session() -> Iterator[Callable[..., requests.Session]]:
    """Factory: a requests session with Basic auth for a user (no CSRF token yet)."""
    made: list[requests.Session] = []

    def factory(user: str = TECH_USER, password: str | None = None) -> requests.Session:
        session = new_session(user, password)
        made.append(session)
        return session

    yield factory
    for session in made:
        session.close()


def csrf_session(service_url: str, user: str = TECH_USER, password: str | None = None) -> requests.Session:
    """A session prepared the way pyodata's docs say: HEAD with x-csrf-token fetch, then set the header."""
    session = new_session(user, password)
    response = session.head(service_url, headers={"x-csrf-token": "fetch"}, timeout=30)
    token = response.headers.get("x-csrf-token")
    assert response.status_code == 200 and token, f"CSRF fetch by HEAD failed: {response.status_code}"
    session.headers.update({"x-csrf-token": token})
    return session


@pytest.fixture
def pyodata_client(service_url: Callable[[str], str]) -> Callable[..., pyodata.Client]:
    """Factory: `pyodata_client(service, user=TECH_USER)`, strict metadata parsing, CSRF token preset."""

    def factory(service: str, user: str = TECH_USER, password: str | None = None) -> pyodata.Client:
        url = service_url(service)
        return pyodata.Client(url, csrf_session(url, user, password))

    return factory


@pytest.fixture(scope="session")
def real_specs() -> Path:
    """The real SAP specifications folder; tests comparing against it skip when it is absent."""
    if not SPECS_DIR.is_dir():
        pytest.skip(f"real SAP specifications not available at {SPECS_DIR}")
    return SPECS_DIR
