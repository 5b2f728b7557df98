"""What every gateway shares: the pyodata client, the caller, query building and value reading."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self
from urllib.parse import urljoin

import orjson

from odata_clients import convert
from odata_clients.clients import ODataClient, execute, values
from odata_clients.destinations import AuthKind, Principal
from odata_clients.errors import SapProtocolError
from odata_clients.fanout import parallel_limit, run_all
from odata_clients.gateways import keyset
from odata_clients.gateways.keyset import KeysetPage, Position, SortKey
from odata_clients.models import Amount, Quantity, SapMessageInfo

MAX_TOP = 500


@dataclass(frozen=True)
class Feed:
    """One answer of SAP to a GET on an entity set: the rows as SAP's JSON, `__count` and `__next`."""

    rows: list[dict[str, Any]]
    total_count: int | None = None
    next_url: str | None = None


class Gateway:
    """A gateway bound to one ODataClient and optionally to the caller it acts for (`for_user`)."""

    def __init__(self, client: ODataClient, principal: Principal | None = None) -> None:
        self.client = client
        self.principal = principal

    def for_user(self, principal: Principal) -> Self:
        """The same gateway acting for `principal`: their token authenticates when the destination
        propagates the user, and they are recorded as `on_behalf_of` in every call event either way."""
        bound = copy.copy(self)
        bound.principal = principal
        return bound

    @property
    def auth_kind(self) -> AuthKind:
        return self.client.http.auth_kind

    def _service(self) -> Any:
        return self.client.service(self.principal)

    def _run(self, request: Any) -> Any:
        """Execute a pyodata request that writes (create, update): pyodata sends it through SapHttp."""
        return execute(self.client, request)

    def _read(self, request: Any) -> Any:
        """Send a GET built by pyodata (see ODataClient.builder) and return SAP's JSON `d` as it came.

        Rows stay plain dicts that Row reads in one pass: pyodata's entity proxies would convert every
        value once more (and parse every date with strptime) only for Row to convert it again.
        """
        response = self.client.http.request(
            "GET",
            urljoin(self.client.url(self.principal), request.get_path()),
            service=self.client.spec.path,
            principal=self.principal,
            params=request.get_query_params(),
            headers=request.get_headers(),
        )
        try:
            return orjson.loads(response.content)["d"]
        except (ValueError, KeyError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise SapProtocolError(
                f"{request.get_path()} answered with something that is not OData V2 JSON",
                status=response.status_code,
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            ) from exc

    def _read_feed(self, request: Any) -> Feed:
        body = self._read(request)
        if isinstance(body, list):  # a feed without count or next link
            return Feed(body)
        rows = body.get("results") if isinstance(body, Mapping) else None
        if not isinstance(rows, list):
            raise SapProtocolError(
                f"{request.get_path()} answered without a list of results",
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            )
        count = body.get("__count")
        next_url = body.get("__next")
        return Feed(rows, int(count) if count is not None else None, next_url if isinstance(next_url, str) else None)

    def _query(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        order_by: str | None = None,
        top: int | None = None,
        count: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One SAP request (at most one server page): for lookups; lists page with `_keyset_query`."""
        feed = self._read_feed(self._request(entity_set, filter, select, expand, order_by, top, count))
        return feed.rows, feed.total_count if count else None

    def _request(
        self,
        entity_set: str,
        filter: str | None,
        select: Sequence[str],
        expand: Sequence[str],
        order_by: str | None,
        top: int | None,
        count: bool,
    ) -> Any:
        request = getattr(self.client.builder(self.principal).entity_sets, entity_set).get_entities()
        if filter:
            request = request.filter(filter)
        if select:
            request = request.select(",".join(select))
        if expand:
            request = request.expand(",".join(expand))
        if order_by:
            request = request.order_by(order_by)
        if top is not None:
            request = request.top(max(0, min(top, MAX_TOP)))
        if count:
            request = request.count(inline=True)
        return request

    def _keyset_query(
        self,
        entity_set: str,
        *,
        filter: str | None,
        sort: Sequence[SortKey],
        limit: int,
        after: Position | None = None,
        count: bool = False,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
    ) -> KeysetPage[dict[str, Any]]:
        """Up to `limit` entities after `after` in the order of `sort` (which must end in a unique key).

        Never $skip: each SAP request continues after the last row already read, so rows that leave or join
        the list meanwhile (a task decided, an order released) neither shift nor repeat the others. SAP answers
        at most one server page per request (100 in RAP services, then `__next`), so as many requests follow as
        `limit` needs; one row more than `limit` tells whether another page exists. `count` asks SAP for the
        total of the whole list: inline on a first page, `$count` after a position (an inline count would
        then count only the rows after it).
        """
        types = {key.name: property_type(self.client, self.principal, entity_set, key.name) for key in sort}
        if select:
            select = [*select, *(key.name for key in sort if key.name not in select)]
        wanted = limit + 1
        rows: list[dict[str, Any]] = []
        total: int | None = None
        position = after
        while len(rows) < wanted:
            clause = filter
            if position is not None:
                following = keyset.after_filter(sort, types, position)
                if following is None:
                    break
                clause = f"({filter}) and {following}" if filter else following
            inline = count and after is None and not rows
            asked = wanted - len(rows)
            feed = self._read_feed(
                self._request(entity_set, clause, select, expand, keyset.order_by(sort), asked, inline)
            )
            batch = feed.rows
            if inline:
                total = feed.total_count
            rows += batch
            # Fewer rows than asked without a next link is the end; with one, SAP cut its page short.
            if not batch or (len(batch) < asked and not feed.next_url):
                break
            position = keyset.position_of(batch[-1], sort, types)
        if count and total is None:
            total = self._count(entity_set, filter)
        items = rows[:limit]
        more = len(rows) > limit
        return KeysetPage(items, total, keyset.position_of(items[-1], sort, types) if more else None)

    def _get(
        self, entity_set: str, key: Mapping[str, str] | str, *, select: Sequence[str] = (), expand: Sequence[str] = ()
    ) -> dict[str, Any]:
        proxy = getattr(self.client.builder(self.principal).entity_sets, entity_set)
        if isinstance(key, str):
            request = proxy.get_entity(convert_key(key))
        else:
            request = proxy.get_entity(**{name: convert_key(value) for name, value in key.items()})
        if select:
            request = request.select(",".join(select))
        if expand:
            request = request.expand(",".join(expand))
        entity = self._read(request)
        if not isinstance(entity, dict):
            raise SapProtocolError(
                f"{request.get_path()} answered without an entity",
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            )
        return entity

    def _function(self, name: str, params: Mapping[str, str]) -> Any:
        """Call a function import with our HTTP layer; `params` values are URI literals (`'a'`, `10M`).

        pyodata cannot return collections of complex types (DecisionOptions) and quotes string
        parameters without escaping them, so function imports take this one path: the HTTP method
        still comes from the metadata, the `d` payload comes back raw (Row reads wire values).
        """
        return self._function_response(name, params)[1]

    def _function_response(self, name: str, params: Mapping[str, str]) -> tuple[Any, Any]:
        """`_function`, with SAP's response too (its `sap-message` header): (response, `d` payload or None)."""
        function = self.client.builder(self.principal).schema.function_import(name)
        response = self.client.http.request(
            str(function.http_method),
            f"{self.client.spec.path}/{name}",
            service=self.client.spec.path,
            principal=self.principal,
            params=dict(params),
        )
        if response.status_code == 204 or not response.content:
            return response, None
        try:
            return response, response.json().get("d")
        except ValueError as exc:
            raise SapProtocolError(
                f"{name} answered with something that is not JSON",
                status=response.status_code,
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            ) from exc

    def _count(self, entity_set: str, filter: str | None = None) -> int:
        """`<set>/$count?$filter=...`: SAP counts on its side and answers a bare number, no rows travel.

        Our HTTP path, not pyodata's: pyodata reads the plain-text number with `response.json()`, whose
        failure on anything else would escape as a non-SAP error.
        """
        response = self.client.http.request(
            "GET",
            f"{self.client.spec.path}/{entity_set}/$count",
            service=self.client.spec.path,
            principal=self.principal,
            params={"$filter": filter} if filter else None,
            headers={"Accept": "text/plain"},
        )
        text = response.text.strip()
        if not _COUNT.fullmatch(text):
            raise SapProtocolError(
                f"{entity_set}/$count answered {text[:40]!r}, not a number",
                status=response.status_code,
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            )
        return int(text)

    def _counts(self, entity_set: str, filters: Mapping[str, str | None]) -> dict[str, int]:
        """One `$count` per named filter, a few at a time (see odata_clients.fanout)."""
        limit = parallel_limit(self.client.http.bulkhead)
        calls = {name: functools.partial(self._count, entity_set, clause) for name, clause in filters.items()}
        return run_all(calls, limit=limit)


_COUNT = re.compile(r"[0-9]{1,15}")


def convert_key(value: str) -> str:
    # pyodata quotes key strings without doubling inner quotes.
    return value.replace("'", "''")


class Row:
    """Typed reads of one entity's values (pyodata proxy or raw JSON dict) into canonical values."""

    def __init__(self, entity: Any) -> None:
        self.raw: Mapping[str, Any] = entity if isinstance(entity, Mapping) else values(entity)
        self.etag: str | None = None if isinstance(entity, Mapping) else getattr(entity, "etag", None)
        if isinstance(entity, Mapping):
            meta = entity.get("__metadata")
            if isinstance(meta, Mapping) and meta.get("etag"):
                self.etag = str(meta["etag"])

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if type(value) is str:
            return value.strip()
        return convert.text_from_sap(None if value is None else str(value))

    def flag(self, name: str) -> bool:
        return convert.flag_from_sap(self.raw.get(name))

    def boolean(self, name: str) -> bool:
        value = self.raw.get(name)
        return value if isinstance(value, bool) else convert.flag_from_sap(value)

    def decimal(self, name: str) -> Decimal | None:
        value = self.raw.get(name)
        return convert.decimal_from_sap(None if value is None else str(value) if isinstance(value, int) else value)

    def quantity(self, name: str, unit_field: str) -> Quantity | None:
        value = self.decimal(name)
        return None if value is None else Quantity(value, self.text(unit_field))

    def quantity_or_zero(self, name: str, unit_field: str) -> Quantity:
        return self.quantity(name, unit_field) or Quantity(Decimal("0"), self.text(unit_field))

    def amount(self, name: str, currency_field: str) -> Amount | None:
        value = self.decimal(name)
        return None if value is None else Amount(value, self.text(currency_field))

    def date(self, name: str) -> str | None:
        return convert.date_from_sap(self.raw.get(name))

    def datetime(self, name: str) -> str | None:
        return convert.datetime_from_sap(self.raw.get(name))

    def time(self, name: str) -> str | None:
        return convert.time_from_sap(self.raw.get(name))

    def timestamp(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or isinstance(value, str):
            return convert.timestamp_from_sap(value)
        return convert.datetime_from_sap(value)

    def guid(self, name: str) -> str | None:
        return convert.guid_from_sap(self.raw.get(name))

    def nav(self, name: str) -> list[Row]:
        value = self.raw.get(name)
        if isinstance(value, Mapping):
            value = value.get("results")
        return [Row(item) for item in value] if isinstance(value, list) else []


def function_messages(result: Any, function: str) -> list[SapMessageInfo]:
    """SAP's FunctionMessage result(s), wrapped under the function name as Gateway does."""
    if isinstance(result, Mapping) and function in result:
        result = result[function]
    if isinstance(result, Mapping) and "results" in result:
        result = result["results"]
    items = result if isinstance(result, list) else [result] if isinstance(result, Mapping) else []
    messages: list[SapMessageInfo] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        text = str(item.get("SystemMessageLongText") or item.get("SystemMessageText") or "")
        code = "/".join(
            part for part in (item.get("SystemMessageIdentification"), item.get("SystemMessageNumber")) if part
        )
        if text or code:
            messages.append(SapMessageInfo(type=str(item.get("SystemMessageType") or ""), code=code, text=text))
    return messages


def string_param(value: str) -> str:
    return convert.string_literal(value)


def property_type(client: ODataClient, principal: Principal | None, entity_set: str, name: str) -> str:
    """The EDM type name of a property in the service's metadata (e.g. to choose a literal form)."""
    schema = client.builder(principal).schema
    entity_type = schema.entity_set(entity_set).entity_type
    return str(entity_type.proprty(name).typ.name)
