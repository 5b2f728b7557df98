"""The OData V2 protocol for one service request: routing, reads, writes, ETags, function imports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from werkzeug.datastructures import Headers

from mock_sap.atom import ATOM_ENTRY, ATOM_FEED, atom_entry, atom_feed
from mock_sap.edm import (
    EntityType,
    FunctionImport,
    ValueError_,
    from_json,
    parameter_value,
)
from mock_sap.errors import ODataError, bad_request, method_not_allowed, not_found_segment
from mock_sap.metadata import build_metadata
from mock_sap.query import filter_rows, order_rows, page_rows, parse_options, select_tree, validate_shape
from mock_sap.serialize import Serializer, etag_of
from mock_sap.services.base import Context, FunctionResult, Service
from mock_sap.store import Row
from mock_sap.uri import Segment, parse_key, split_path

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
JSON = "application/json; charset=utf-8"
_URL_SAFE = "$'(),/:"


@dataclass
class ODataRequest:
    """One request inside a service (a top-level HTTP request or a `$batch` part)."""

    method: str
    path: str  # below the service root, e.g. "A_ProductionOrder_2('1000000')/to_ProductionOrderOperation"
    args: Mapping[str, str]
    headers: Headers
    body: bytes
    service_root: str  # absolute, no trailing slash
    user: str
    now: dt.datetime


@dataclass
class ODataResponse:
    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Resolved:
    set_name: str
    entity_type: EntityType
    row: Row | None
    is_collection: bool
    count: bool
    nav_rows: list[Row] | None


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> ODataResponse:
    return ODataResponse(status, json.dumps(payload, separators=(",", ":")).encode(), JSON, dict(headers or {}))


class ServiceHandler:
    """Answers requests for one SAP service; the caller has already checked auth and CSRF."""

    def __init__(self, service: Service, page_size: int) -> None:
        self.service = service
        self.model = service.model
        self.page_size = page_size
        self._metadata = build_metadata(service.model)

    @property
    def metadata(self) -> bytes:
        return self._metadata

    def handle(self, request: ODataRequest) -> ODataResponse:
        ctx = Context(user=request.user, now=request.now)
        method = request.method
        override = request.headers.get("X-HTTP-Method")
        if method == "POST" and override and override.upper() in ("MERGE", "PATCH", "PUT", "DELETE"):
            method = override.upper()
        segments = split_path(request.path)
        if not segments:
            return self._service_document(request)
        first = segments[0]
        if first.name == "$metadata" and len(segments) == 1:
            if method not in ("GET", "HEAD"):
                raise method_not_allowed(method, "$metadata")
            return ODataResponse(200, self._metadata, "application/xml")
        if first.name in self.model.functions and first.key in (None, ""):
            if len(segments) > 1:
                raise not_found_segment(segments[1].name)
            response = self._function(self.model.functions[first.name], method, request, ctx)
        elif first.name in self.model.sets:
            response = self._entity_set(segments, method, request, ctx)
        else:
            raise not_found_segment(first.name)
        if ctx.messages:
            response.headers["sap-message"] = _sap_message(ctx.messages)
        return response

    # -- service document -----------------------------------------------------------------------
    def _service_document(self, request: ODataRequest) -> ODataResponse:
        if _wants_json(request):
            return json_response(200, {"d": {"EntitySets": [s.name for s in self.model.entity_sets]}})
        collections = "".join(
            f'<app:collection href="{s.name}"><atom:title>{s.name}</atom:title></app:collection>'
            for s in self.model.entity_sets
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<app:service xml:base="{request.service_root}/" xmlns:app="http://www.w3.org/2007/app" '
            'xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<app:workspace><atom:title>Data</atom:title>{collections}</app:workspace></app:service>"
        )
        return ODataResponse(200, xml.encode(), "application/atomsvc+xml; charset=utf-8")

    # -- entity sets ----------------------------------------------------------------------------
    def _resolve(self, segments: list[Segment], ctx: Context) -> Resolved:
        """Walk the path to the addressed entity, collection or navigation result."""
        count = False
        nav_rows: list[Row] | None = None
        if segments[-1].name == "$count":
            count = True
            segments = segments[:-1]
        first = segments[0]
        set_name = first.name
        entity_type = self.model.type_of_set(set_name)
        row: Row | None = None
        is_collection = first.key is None
        if not is_collection:
            key = parse_key(entity_type, first.key or "", set_name)
            row = self.service.get(set_name, key, ctx)
            if row is None:
                raise not_found_segment(entity_type.name)
        for segment in segments[1:]:
            if is_collection or row is None:
                raise bad_request(f"Navigation '{segment.name}' needs a single entity", code="/IWBEP/CM_MGW_RT/014")
            nav = entity_type.nav_by_name.get(segment.name)
            if nav is None:
                raise not_found_segment(segment.name)
            target_set, rows = self.service.navigate(entity_type, row, nav, ctx)
            entity_type = self.model.types[nav.target]
            set_name = target_set
            if nav.to_many:
                if segment.key is not None:
                    key = parse_key(entity_type, segment.key, segment.name)
                    matches = [r for r in rows if entity_type.key_of(r) == key]
                    if not matches:
                        raise not_found_segment(entity_type.name)
                    row, is_collection = matches[0], False
                else:
                    nav_rows = rows
                    row, is_collection = None, True
            else:
                if not rows:
                    raise not_found_segment(entity_type.name)
                row, is_collection = rows[0], False
        return Resolved(set_name, entity_type, row, is_collection, count, nav_rows)

    def _entity_set(self, segments: list[Segment], method: str, request: ODataRequest, ctx: Context) -> ODataResponse:
        resolved = self._resolve(segments, ctx)
        set_name, entity_type, row = resolved.set_name, resolved.entity_type, resolved.row
        is_collection, count = resolved.is_collection, resolved.count
        entity_set = self.model.sets[set_name]
        navigated = len(segments) > 1 and segments[1].name != "$count"
        if method in ("GET", "HEAD"):
            if is_collection:
                return self._read_collection(set_name, entity_type, request, ctx, count, resolved.nav_rows)
            assert row is not None
            if count:
                return ODataResponse(200, b"1", "text/plain; charset=utf-8")
            return self._read_entity(set_name, entity_type, row, request)
        if count:
            raise method_not_allowed(method, set_name)
        if method == "POST" and is_collection and not navigated:
            if not entity_set.creatable:
                raise method_not_allowed(method, set_name)
            return self._create(set_name, entity_type, request, ctx)
        if method in ("PUT", "PATCH", "MERGE") and not is_collection:
            if not entity_set.updatable:
                raise method_not_allowed(method, set_name)
            assert row is not None
            return self._update(set_name, entity_type, row, method, request, ctx)
        if method == "DELETE" and not is_collection:
            if not entity_set.deletable:
                raise method_not_allowed(method, set_name)
            assert row is not None
            self.service.delete(set_name, row, ctx)
            return ODataResponse(204, content_type=None)
        raise method_not_allowed(method, set_name)

    def _serializer(self, request: ODataRequest, ctx: Context) -> Serializer:
        def navigate(entity_type: EntityType, row: Row, nav_name: str) -> tuple[str, list[Row]]:
            return self.service.navigate(entity_type, row, entity_type.nav_by_name[nav_name], ctx)

        return Serializer(self.model, request.service_root, navigate)

    def _read_collection(
        self,
        set_name: str,
        entity_type: EntityType,
        request: ODataRequest,
        ctx: Context,
        count_only: bool,
        nav_rows: list[Row] | None,
    ) -> ODataResponse:
        options = parse_options(request.args)
        validate_shape(self.model, entity_type, options)
        rows: Sequence[Row]
        if nav_rows is not None:
            rows, lookup = nav_rows, None
        else:
            rows, lookup = self.service.collection(set_name, ctx), self.service.index_lookup(set_name, ctx)
        matched = filter_rows(entity_type, rows, options.filter, lookup)
        if count_only:
            total = len(matched[options.skip :])
            if options.top is not None:
                total = min(total, options.top)
            return ODataResponse(200, str(total).encode(), "text/plain; charset=utf-8")
        if options.orderby:
            matched = order_rows(entity_type, matched, options.orderby)
        page = page_rows(matched, options, self.page_size)
        next_link = None
        if page.next_skiptoken is not None:
            args = {k: v for k, v in request.args.items() if k != "$skiptoken"}
            args["$skiptoken"] = str(page.next_skiptoken)
            path = request.path.lstrip("/")
            next_link = f"{request.service_root}/{path}?{urlencode(args, safe=_URL_SAFE)}"
        if not _wants_json(request):
            body = atom_feed(self.model, request.service_root, set_name, page.rows, page.count, next_link)
            return ODataResponse(200, body, ATOM_FEED)
        serializer = self._serializer(request, ctx)
        payload = serializer.feed(
            set_name, page.rows, select_tree(options.select), options.expand, page.count, next_link
        )
        return json_response(200, payload)

    def _read_entity(self, set_name: str, entity_type: EntityType, row: Row, request: ODataRequest) -> ODataResponse:
        options = parse_options(request.args)
        validate_shape(self.model, entity_type, options)
        ctx = Context(user=request.user, now=request.now)
        headers = {}
        etag = etag_of(entity_type, row)
        if etag is not None:
            headers["ETag"] = etag
        if not _wants_json(request):
            return ODataResponse(200, atom_entry(self.model, request.service_root, set_name, row), ATOM_ENTRY, headers)
        payload = self._serializer(request, ctx).entity(set_name, row, select_tree(options.select), options.expand)
        return json_response(200, {"d": payload}, headers)

    # -- writes ---------------------------------------------------------------------------------
    def _payload(self, request: ODataRequest) -> dict[str, object]:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in ("application/json", ""):
            raise ODataError(
                415,
                "/IWBEP/CM_MGW_RT/049",
                f"Content type '{content_type}' is not supported; use application/json",
            )
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise bad_request("Malformed JSON payload", code="/IWBEP/CM_MGW_RT/052") from None
        if isinstance(data, dict) and isinstance(data.get("d"), dict):
            data = data["d"]
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object", code="/IWBEP/CM_MGW_RT/052")
        data.pop("__metadata", None)
        return data

    def _parse_values(
        self, entity_type: EntityType, data: dict[str, object], for_create: bool
    ) -> tuple[dict[str, object], dict[str, list[dict[str, object]]]]:
        values: dict[str, object] = {}
        deep: dict[str, list[dict[str, object]]] = {}
        for name, raw in data.items():
            nav = entity_type.nav_by_name.get(name)
            if nav is not None:
                if not for_create:
                    raise bad_request(f"Navigation property '{name}' cannot be changed", code="/IWBEP/CM_MGW_RT/004")
                entries = raw.get("results", []) if isinstance(raw, dict) else raw
                if not isinstance(entries, list):
                    raise bad_request(f"Invalid deep insert for '{name}'", code="/IWBEP/CM_MGW_RT/052")
                target = self.model.types[nav.target]
                deep[name] = [self._parse_values(target, dict(e), True)[0] for e in entries if isinstance(e, dict)]
                continue
            prop = entity_type.by_name.get(name)
            if prop is None:
                raise ODataError(
                    400,
                    "/IWBEP/CM_MGW_RT/004",
                    f"Property '{name}' is invalid for entity type '{entity_type.name}'",
                )
            try:
                value = from_json(prop, raw)
            except ValueError_ as exc:
                raise bad_request(str(exc), code="/IWBEP/CM_MGW_RT/052") from exc
            # Read-only fields are ignored, as Gateway ignores them in a payload.
            if (for_create and not prop.creatable) or (not for_create and not prop.updatable):
                continue
            values[name] = value
        return values, deep

    def _create(self, set_name: str, entity_type: EntityType, request: ODataRequest, ctx: Context) -> ODataResponse:
        data = self._payload(request)
        values, deep = self._parse_values(entity_type, data, for_create=True)
        with self.service.store.transaction():
            row = self.service.create(set_name, values, deep, ctx)
        serializer = self._serializer(request, ctx)
        body = serializer.entity(set_name, row)
        headers = {"Location": serializer.entity_uri(set_name, entity_type, row)}
        etag = etag_of(entity_type, row)
        if etag is not None:
            headers["ETag"] = etag
        response = json_response(201, {"d": body}, headers)
        if ctx.messages:
            response.headers["sap-message"] = _sap_message(ctx.messages)
        return response

    def _update(
        self, set_name: str, entity_type: EntityType, row: Row, method: str, request: ODataRequest, ctx: Context
    ) -> ODataResponse:
        data = self._payload(request)
        with self.service.store.transaction():
            # Re-read inside the lock: the ETag check and the write must see the same version.
            current = self.service.get(set_name, entity_type.key_of(row), ctx) or row
            self._check_etag(entity_type, current, request)
            values, _ = self._parse_values(entity_type, data, for_create=False)
            for key_name in entity_type.keys:
                if key_name in values and values[key_name] != current[entity_type.index[key_name]]:
                    raise bad_request(f"Key property '{key_name}' cannot be changed", code="/IWBEP/CM_MGW_RT/004")
                values.pop(key_name, None)
            if method == "PUT":
                # PUT replaces the entity: updatable properties missing from the payload become initial.
                defaults = entity_type.default_row()
                for position, prop in enumerate(entity_type.properties):
                    if prop.updatable and prop.name not in values and prop.name not in entity_type.keys:
                        if not prop.concurrency_fixed:
                            values[prop.name] = defaults[position]
            new = self.service.update(set_name, current, values, ctx)
        headers = {}
        etag = etag_of(entity_type, new)
        if etag is not None:
            headers["ETag"] = etag
        response = ODataResponse(204, b"", None, headers)
        if ctx.messages:
            response.headers["sap-message"] = _sap_message(ctx.messages)
        return response

    @staticmethod
    def _check_etag(entity_type: EntityType, row: Row, request: ODataRequest) -> None:
        current = etag_of(entity_type, row)
        if current is None:
            return
        sent = request.headers.get("If-Match")
        if not sent:
            raise ODataError(428, "/IWBEP/CM_MGW_RT/194", "Precondition required (If-Match header missing)")
        candidates = [c.strip() for c in sent.split(",")]
        if "*" in candidates:
            return
        # Accept the weak and the strong form of the same tag.
        normalized = {c[2:] if c.startswith("W/") else c for c in candidates}
        if current[2:] not in normalized:
            raise ODataError(
                412, "/IWBEP/CM_MGW_RT/190", "State of the resource (entity) was already changed (If-Match)"
            )

    # -- function imports ---------------------------------------------------------------------
    def _function(self, function: FunctionImport, method: str, request: ODataRequest, ctx: Context) -> ODataResponse:
        if method != function.http_method and not (method == "HEAD" and function.http_method == "GET"):
            raise ODataError(
                405,
                "/IWBEP/CM_MGW_RT/105",
                f"Function import '{function.name}' must be called with HTTP method {function.http_method}",
            )
        params: dict[str, object] = {}
        for param in function.parameters:
            raw = request.args.get(param.name)
            if raw is None:
                if param.nullable is False:
                    raise bad_request(f"Mandatory parameter '{param.name}' is missing", code="/IWBEP/CM_MGW_RT/012")
                continue
            try:
                params[param.name] = parameter_value(param, raw)
            except ValueError_ as exc:
                raise bad_request(
                    f"Invalid value {raw} for parameter '{param.name}' ({exc})", code="/IWBEP/CM_MGW_RT/013"
                ) from exc
        if function.http_method == "POST":
            with self.service.store.transaction():
                result = self.service.call(function, params, ctx)
        else:
            result = self.service.call(function, params, ctx)
        return self._function_result(function, result, request, ctx)

    def _function_result(
        self, function: FunctionImport, result: FunctionResult, request: ODataRequest, ctx: Context
    ) -> ODataResponse:
        if function.return_type is None:
            return ODataResponse(204, b"", None)
        serializer = self._serializer(request, ctx)
        is_collection = function.return_type.startswith("Collection(")
        if result.rows is not None and result.entity_set is not None:
            entities = [serializer.entity(result.entity_set, row) for row in result.rows]
            if is_collection:
                return json_response(200, {"d": {"results": entities}})
            headers = {}
            etag = etag_of(self.model.type_of_set(result.entity_set), result.rows[0])
            if etag is not None:
                headers["ETag"] = etag
            return json_response(200, {"d": entities[0]}, headers)
        type_name = function.return_type.removeprefix("Collection(").rstrip(")").split(".")[-1]
        complex_type = self.model.complex[type_name]
        values = [serializer.complex_value(complex_type, v) for v in result.complex_values or []]
        if is_collection:
            return json_response(200, {"d": {"results": values}})
        # A single complex result is wrapped under the function's name, as SAP's V2 JSON does.
        return json_response(200, {"d": {function.name: values[0] if values else None}})


def _wants_json(request: ODataRequest) -> bool:
    """JSON only when asked for ($format=json or an Accept naming JSON); Gateway's default is Atom XML."""
    fmt = request.args.get("$format")
    if fmt:
        return fmt.lower() == "json"
    return "json" in request.headers.get("Accept", "").lower()


def _sap_message(messages: list[dict[str, str]]) -> str:
    first, rest = messages[0], messages[1:]
    return json.dumps(
        {
            "code": first["code"],
            "message": first["message"],
            "severity": first["severity"],
            "target": first["target"],
            "details": [
                {"code": m["code"], "message": m["message"], "severity": m["severity"], "target": m["target"]}
                for m in rest
            ],
        }
    )
