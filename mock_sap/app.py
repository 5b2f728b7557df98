"""The WSGI application: admin API, service routing, faults, sap-client, logon, CSRF and `$batch`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.datastructures import Headers, MultiDict
from werkzeug.wrappers import Request, Response

from mock_sap.auth import Authenticator, AuthError
from mock_sap.batch import BatchResponse, ChangeSet, build_batch_response, parse_batch
from mock_sap.config import MockOptions
from mock_sap.csrf import CsrfGuard
from mock_sap.data.seed import build_store
from mock_sap.errors import ODataError, ServiceInfo, error_json, sap_error
from mock_sap.events import EventPublisher, RetryPolicy, event_source, parse_subscription
from mock_sap.faults import Decision, Effects, FaultInjector, parse_fault
from mock_sap.language import logon_language, speaking
from mock_sap.odata import WRITE_METHODS, ODataRequest, ODataResponse, ServiceHandler
from mock_sap.services import confirmation_model, production_order_model, purchase_requisition_model
from mock_sap.services import taskprocessing_model as tasks
from mock_sap.services.base import Service
from mock_sap.services.order_confirmation import OrderConfirmationService
from mock_sap.services.production_order import ProductionOrderService
from mock_sap.services.purchase_requisition import PurchaseRequisitionService
from mock_sap.services.taskprocessing import TASK_META, TaskProcessingService
from mock_sap.stats import Stats
from mock_sap.task_admin import create_task

log = logging.getLogger("mock_sap")
ODATA_PREFIX = "/sap/opu/odata/"
REALM = 'Basic realm="SAP NetWeaver Application Server [{sid}/{client}]"'
CSRF_FAILED = b"CSRF token validation failed"
AUTHENTICATED_USER = "mock_sap.user"  # environ key: the SAP user a request logged on as (for the request log)
REQUEST_LOG_SIZE = 200


class MockSap:
    """A mock S/4HANA Gateway as a WSGI callable; `create_app(options)` builds one."""

    def __init__(self, options: MockOptions) -> None:
        self.options = options
        started = time.monotonic()
        self.store = build_store(options.orders, options.seed, options.reference)
        self.events = self._events()
        self.services = self._services()
        for service in self.services:
            service.events = self.events
        self.handlers = {service.name: ServiceHandler(service, options.page_size) for service in self.services}
        self.routes: list[tuple[str, Service]] = []
        for service in self.services:
            for path in (service.path, *getattr(service, "aliases", ())):
                self.routes.append((path.rstrip("/"), service))
        self.routes.sort(key=lambda route: len(route[0]), reverse=True)
        self.auth = Authenticator(dict(options.users), list(options.trusted_issuers))
        self.csrf = CsrfGuard(options.system_id, options.sap_client)
        self.faults = FaultInjector(options.seed if options.seed_given else None)
        self.stats = Stats()
        self.request_log = RequestLog(REQUEST_LOG_SIZE)
        for fault in options.faults:
            self.faults.add(parse_fault(fault))
        self.ready = threading.Event()
        self.ready.set()
        log.info("mock SAP ready with %d orders in %.1fs", options.orders, time.monotonic() - started)

    def _events(self) -> EventPublisher:
        options = self.options
        defaults = RetryPolicy(
            options.event_retry_initial, options.event_retry_max, options.event_max_attempts, options.event_timeout
        ).validated()
        events = EventPublisher(event_source(options.system_id, options.sap_client), defaults)
        for url in options.event_webhooks:
            credentials = {"user": options.event_webhook_user, "password": options.event_webhook_password}
            subscription = parse_subscription({"url": url, **credentials}, defaults)
            subscription.origin = "command-line"
            events.subscribe(subscription)
        return events

    def _services(self) -> list[Service]:
        store = self.store
        production = ProductionOrderService(
            store, store[production_order_model.ORDER], store[production_order_model.OPERATION]
        )
        confirmations = OrderConfirmationService(
            store,
            store[confirmation_model.CONFIRMATION],
            store[confirmation_model.MATERIAL_DOCUMENT_ITEM],
            production,
        )
        requisitions = PurchaseRequisitionService(
            store, store[purchase_requisition_model.HEADER], store[purchase_requisition_model.ITEM]
        )
        inbox_tables = {
            name: store[name]
            for name in (tasks.TASKS, tasks.DEFINITIONS, tasks.ATTRIBUTES, tasks.DESCRIPTIONS, tasks.WORKFLOW_LOGS)
        }
        inbox_tables[TASK_META] = store[TASK_META]
        inbox = TaskProcessingService(store, inbox_tables, store[TASK_META], {u.upper() for u in self.options.users})
        self.inbox, self.requisitions = inbox, requisitions
        return [inbox, requisitions, production, confirmations]

    # ------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        logged = self._log_request(request)
        language = logon_language(
            request.args.get("sap-language"),
            request.headers.get("sap-language"),
            request.headers.get("Accept-Language"),
        )
        try:
            with speaking(language):
                response = self.dispatch(request)
        except _DropConnection:
            _drop(environ)
            response = Response(b"", status=500)
        finally:
            if logged is not None:
                self.request_log.logged_on(logged, environ.get(AUTHENTICATED_USER, ""))
        self.stats.status(response.status_code)
        return response(environ, start_response)

    def _log_request(self, request: Request) -> dict[str, str] | None:
        """Record an OData request as it came over the wire (admin requests are not recorded)."""
        if not _raw_path(request).startswith(ODATA_PREFIX):
            return None
        environ = request.environ
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        return self.request_log.record(request.method, str(raw).split("?", 1)[0], environ.get("QUERY_STRING", ""))

    def dispatch(self, request: Request) -> Response:
        path = _raw_path(request)
        if path.startswith("/mock-admin"):
            return self.admin(request, path)
        route = self._route(path)
        if route is None:
            if path.startswith(ODATA_PREFIX):
                error = ODataError(
                    404, "/IWFND/MED/170", f"No service found for namespace '', name '{path}', version '0001'"
                )
                return self._error(error, None, request)
            return Response("Not found", status=404, mimetype="text/plain")
        prefix, service = route
        self.stats.request(service.name, request.method)
        decision = self.faults.decide(service.name, request.method)
        if decision.faults:
            self.stats.count("faults_injected")
        self._suffer(decision)
        if decision.error is not None:
            return self._error(decision.error, service.info, request)
        response = self._serve(request, path, prefix, service, decision)
        # Phase "after": the request is processed and committed (other requests see it at once);
        # only its answer is late, never comes, or is an error: an in-doubt write for the client.
        self._suffer(decision.after)
        if decision.after.error is not None:
            return self._error(decision.after.error, service.info, request)
        return response

    def _suffer(self, effects: Effects) -> None:
        """Latency, then a hang or a drop (both end without an answer)."""
        if effects.latency_ms:
            time.sleep(effects.latency_ms / 1000)
        if effects.hang_seconds:
            self.faults.released.wait(effects.hang_seconds)
            raise _DropConnection
        if effects.drop:
            raise _DropConnection

    def _serve(self, request: Request, path: str, prefix: str, service: Service, decision: Decision) -> Response:
        """Logon, CSRF and the OData request itself."""
        client = request.args.get("sap-client")
        if client is not None and client != self.options.sap_client:
            return self._unauthorized(f"Logon failed: client {client} does not exist")
        session_id = request.cookies.get(self.csrf.session_cookie)
        try:
            user = self.auth.authenticate(request.headers.get("Authorization"))
        except AuthError as exc:
            return self._unauthorized(str(exc))
        if user is None:
            # A valid Gateway session cookie logs the caller on, as it does on a real system.
            session = self.csrf.session(session_id)
            if session is None:
                return self._unauthorized("Logon required")
            user = session.user
        request.environ[AUTHENTICATED_USER] = user
        method = request.method
        if method in WRITE_METHODS and not self.csrf.valid(request.headers.get("X-CSRF-Token"), session_id, user):
            self.stats.count("csrf_failures")
            return Response(
                CSRF_FAILED,
                status=403,
                headers={"x-csrf-token": "Required"},
                content_type="text/plain; charset=utf-8",
            )
        if decision.locked and method in WRITE_METHODS:
            return self._error(sap_error("CO/027", status=423), service.info, request)
        sub_path = path[len(prefix) :]
        try:
            if sub_path.strip("/") == "$batch":
                response = self._batch(request, service, prefix, user)
            else:
                odata = self._odata_request(request, service, prefix, sub_path, user)
                result = self.handlers[service.name].handle(odata)
                if method in WRITE_METHODS and result.status < 300:
                    self.stats.write_applied(service.name)
                response = _to_response(result)
        except ODataError as error:
            response = self._error(error, service.info, request)
        if method in ("GET", "HEAD") and request.headers.get("X-CSRF-Token", "").lower() == "fetch":
            self._issue_token(response, user, session_id, prefix)
        return response

    def _route(self, path: str) -> tuple[str, Service] | None:
        for prefix, service in self.routes:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, service
        return None

    def _odata_request(self, request: Request, service: Service, prefix: str, sub_path: str, user: str) -> ODataRequest:
        return ODataRequest(
            method=request.method,
            path=sub_path,
            args=_args(request.args),
            headers=request.headers,
            body=request.get_data(),
            service_root=request.host_url.rstrip("/") + prefix,
            user=user,
            now=dt.datetime.now(dt.UTC),
        )

    # -- CSRF ----------------------------------------------------------------------------------
    def _issue_token(self, response: Response, user: str, session_id: str | None, prefix: str) -> None:
        # Gateway issues the token once logon succeeded, whatever the read itself answers: SAP Cloud SDK
        # and CAP fetch it with a GET/HEAD on the URL they are about to POST to ($batch, a function
        # import), which answers 404 or 405. Only modifying requests never get one (they are not fetches).
        session = self.csrf.open_session(user, session_id)
        token = self.csrf.fetch(session)
        self.stats.count("csrf_fetches")
        response.headers["x-csrf-token"] = token
        response.set_cookie(self.csrf.session_cookie, session.session_id, path="/", httponly=True)
        response.set_cookie(self.csrf.xsrf_cookie, token, path="/sap/opu/odata/", httponly=True)

    # -- $batch --------------------------------------------------------------------------------
    def _batch(self, request: Request, service: Service, prefix: str, user: str) -> Response:
        if request.method != "POST":
            raise ODataError(405, "/IWBEP/CM_MGW_RT/105", "$batch requires POST")
        self.stats.count("batch_requests")
        items = parse_batch(request.get_data(), request.headers.get("Content-Type", ""))
        handler = self.handlers[service.name]
        root = request.host_url.rstrip("/") + prefix
        results: list[BatchResponse | list[BatchResponse]] = []
        for item in items:
            if isinstance(item, ChangeSet):
                results.append(self._changeset(item, handler, service, prefix, root, user))
            else:
                results.append(
                    self._batch_part(
                        item.method, item.url, item.headers, item.body, handler, service, prefix, root, user
                    )
                )
        body, content_type = build_batch_response(results)
        return Response(body, status=202, content_type=content_type)

    def _changeset(
        self, changeset: ChangeSet, handler: ServiceHandler, service: Service, prefix: str, root: str, user: str
    ) -> BatchResponse | list[BatchResponse]:
        responses: list[BatchResponse] = []
        try:
            with service.store.transaction():
                for part in changeset.requests:
                    response = self._batch_part(
                        part.method,
                        part.url,
                        part.headers,
                        part.body,
                        handler,
                        service,
                        prefix,
                        root,
                        user,
                        raise_errors=True,
                    )
                    responses.append(response)
        except ODataError as error:
            # One failed operation rolls the whole changeset back and answers for all of it.
            return BatchResponse(
                error.status, {"Content-Type": "application/json", **error.headers}, error_json(error, service.info)
            )
        self.stats.count("writes_applied", len(responses))
        for _ in responses:
            self.stats.writes_by_service[service.name] += 1
        return responses

    def _batch_part(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        handler: ServiceHandler,
        service: Service,
        prefix: str,
        root: str,
        user: str,
        raise_errors: bool = False,
    ) -> BatchResponse:
        split = urlsplit(url)
        path = unquote(split.path)
        if path.startswith(prefix):
            path = path[len(prefix) :]
        elif path.startswith("/"):
            error = ODataError(400, "/IWBEP/CM_MGW_RT/057", f"Batch request URL '{url}' is outside the service")
            if raise_errors:
                raise error
            return BatchResponse(400, {"Content-Type": "application/json"}, error_json(error, service.info))
        odata = ODataRequest(
            method=method,
            path=path,
            args=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            service_root=root,
            user=user,
            now=dt.datetime.now(dt.UTC),
        )
        try:
            result = handler.handle(odata)
        except ODataError as error:
            if raise_errors:
                raise
            return BatchResponse(
                error.status, {"Content-Type": "application/json", **error.headers}, error_json(error, service.info)
            )
        part_headers = dict(result.headers)
        if result.content_type:
            part_headers["Content-Type"] = result.content_type
        return BatchResponse(result.status, part_headers, result.body)

    # -- errors --------------------------------------------------------------------------------
    def _error(self, error: ODataError, info: ServiceInfo | None, request: Request) -> Response:
        response = Response(
            error_json(error, info), status=error.status, content_type="application/json; charset=utf-8"
        )
        for name, value in error.headers.items():
            response.headers[name] = value
        return response

    def _unauthorized(self, reason: str) -> Response:
        realm = REALM.format(sid=self.options.system_id, client=self.options.sap_client)
        body = f"<html><head><title>Logon Error Message</title></head><body>{reason}</body></html>".encode()
        return Response(body, status=401, headers={"WWW-Authenticate": realm}, content_type="text/html; charset=utf-8")

    # -- admin API -----------------------------------------------------------------------------
    def admin(self, request: Request, path: str) -> Response:
        route = path.rstrip("/")
        method = request.method
        if route == "/mock-admin/health" and method in ("GET", "HEAD"):
            return _json(
                {"status": "ok", "orders": self.options.orders, "reference_date": self.options.reference.isoformat()}
            )
        if route == "/mock-admin/reset" and method == "POST":
            self.store.reset()
            self.csrf.reset()
            self.request_log.clear()
            self.events.reset()
            return _json({"status": "reset"})
        events = self.events.admin(method, route, request.get_data())
        if events is not None:
            return _json(events[1], events[0])
        if route == "/mock-admin/tasks" and method == "POST":
            try:
                created = create_task(
                    json.loads(request.get_data() or b"{}"), self.inbox, self.requisitions, dt.datetime.now(dt.UTC)
                )
            except (ValueError, TypeError) as exc:
                return _json({"error": str(exc)}, 400)
            return _json(created, 201)
        if route == "/mock-admin/requests":
            if method == "GET":
                return _json({"requests": self.request_log.list()})
            if method == "DELETE":
                self.request_log.clear()
                return _json({"requests": []})
        if route == "/mock-admin/faults":
            if method == "GET":
                return _json({"faults": self.faults.list()})
            if method == "DELETE":
                self.faults.clear()
                return _json({"faults": []})
            if method == "POST":
                try:
                    data = json.loads(request.get_data() or b"{}")
                    entries = data if isinstance(data, list) else [data]
                    added = []
                    for entry in entries:
                        fault = parse_fault(entry)
                        if fault.csrf_expire:
                            self.csrf.expire_all()
                        if fault.csrf_expire and not _has_lasting_effect(fault):
                            added.append(fault.as_dict())  # a one-off action: nothing to keep
                            continue
                        added.append(self.faults.add(fault).as_dict())
                except (ValueError, TypeError) as exc:
                    return _json({"error": str(exc)}, 400)
                return _json({"added": added, "faults": self.faults.list()}, 201)
        if route == "/mock-admin/stats":
            if method == "GET":
                return _json(self.stats.snapshot())
            if method == "DELETE":
                self.stats.clear()
                return _json(self.stats.snapshot())
        return _json({"error": f"no admin endpoint {method} {route}"}, 404)


class RequestLog:
    """The last OData requests as sent (`GET/DELETE /mock-admin/requests`): a benchmark replays a client's query."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, str]] = deque(maxlen=size)

    def record(self, method: str, path: str, query: str) -> dict[str, str]:
        entry = {"method": method, "path": path, "query": query, "user": ""}
        with self._lock:
            self._entries.append(entry)
        return entry

    def logged_on(self, entry: dict[str, str], user: str) -> None:
        with self._lock:
            entry["user"] = user

    def list(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _DropConnection(Exception):
    """Close the connection without an answer (the `drop` and `hang` faults)."""


def _has_lasting_effect(fault: Any) -> bool:
    return bool(fault.status or fault.latency_ms or fault.hang or fault.drop or fault.locked)


def _drop(environ: dict[str, Any]) -> None:
    # The client socket under gunicorn (`python -m mock_sap`) or werkzeug's server (kept for in-process use).
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _raw_path(request: Request) -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return unquote(str(raw).split("?", 1)[0])
    return request.path


def _args(args: MultiDict[str, str]) -> dict[str, str]:
    return {key: args[key] for key in args}


def _json(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _to_response(result: ODataResponse) -> Response:
    response = Response(result.body, status=result.status)
    if result.content_type:
        response.headers["Content-Type"] = result.content_type
    else:
        del response.headers["Content-Type"]
    response.headers["DataServiceVersion"] = "2.0"
    for name, value in result.headers.items():
        response.headers[name] = value
    return response


def create_app(options: MockOptions | None = None, **overrides: Any) -> MockSap:
    """Build the mock in-process (tests use it through werkzeug's test client)."""
    options = options or MockOptions()
    for name, value in overrides.items():
        setattr(options, name, value)
    return MockSap(options)
