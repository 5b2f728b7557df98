"""The one path every SAP call takes: auth, sap-client, timeouts, CSRF, retries, breaker, bulkhead, logs."""

from __future__ import annotations

import contextvars
import http.cookiejar
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import structlog
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from odata_clients import metrics, tracing
from odata_clients.csrf import MODIFYING_METHODS, CsrfContext, CsrfManager
from odata_clients.destinations import (
    AuthKind,
    BasicAuth,
    Destination,
    DestinationServiceAuth,
    OAuth2ClientCredentials,
    Principal,
    Route,
)
from odata_clients.errors import (
    CircuitOpenError,
    ConcurrencyLimitError,
    SapAuthError,
    SapBusinessError,
    SapCsrfError,
    SapError,
    SapProtocolError,
    SapRateLimited,
    SapTimeout,
    SapUnavailable,
    error_from_response,
    parse_error_body,
    parse_sap_message_header,
)
from odata_clients.language import accept_language, current_language
from odata_clients.oauth import ClientCredentialsToken, within_deadline
from odata_clients.resilience import (
    RETRYABLE_STATUSES,
    BreakerState,
    Bulkhead,
    CircuitBreaker,
    RetryPolicy,
    current_deadline,
    deadline,
)

log = structlog.get_logger("odata_clients.sap")

# SAP Gateway writes X-CorrelationID into its error log (/IWFND/ERROR_LOG) and traces, SAP Cloud
# Connector, API Management, Cloud Integration and the CF router propagate it, and Cloud ALM uses it
# to stitch calls together; it is the header SAP-side tooling understands.
CORRELATION_HEADER = "X-CorrelationID"
TECHNICAL_IDENTITY = "~technical"


@dataclass(frozen=True)
class CallEvent:
    """One HTTP attempt to SAP, as logged, counted and offered to the audit trail."""

    destination: str
    service: str
    method: str
    path: str
    status: int | None
    duration_ms: float
    attempt: int
    request_id: str
    sap_transaction_id: str
    auth_kind: str
    on_behalf_of: str
    error: str = ""


_recorders: contextvars.ContextVar[tuple[list[CallEvent], ...]] = contextvars.ContextVar(
    "odata_clients_call_recorders", default=()
)


@contextmanager
def record_calls() -> Iterator[list[CallEvent]]:
    """Collect the CallEvents of the SAP calls made in this context (a worker's audit of one attempt)."""
    events: list[CallEvent] = []
    token = _recorders.set((*_recorders.get(), events))
    try:
        yield events
    finally:
        _recorders.reset(token)


def current_request_id() -> str:
    """The request id the web layer or worker bound into structlog's context, else a fresh one."""
    bound = structlog.contextvars.get_contextvars().get("request_id")
    return str(bound) if bound else uuid.uuid4().hex


class _RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    """Keeps the shared Session's jar empty: cookies live per identity in a CsrfContext."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def service_name(service_path: str) -> str:
    """`/sap/opu/odata/sap/API_X_SRV` -> `API_X_SRV`; the label logs and metrics use."""
    return service_path.rstrip("/").rsplit("/", 1)[-1].split(";", 1)[0]


def _safe_path(url: str, params: list[tuple[str, str]]) -> str:
    """Path and query as sent (no scheme, host or credentials: those never go into a URL here)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return parts.path + (f"?{query}" if query else "")


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


class SapHttp:
    """HTTP to one destination; thread-safe, share one per destination per process.

    `request()` returns only 2xx/3xx responses and raises a SapError kind for everything else.
    """

    def __init__(
        self,
        destination: Destination,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        bulkhead: Bulkhead | None = None,
    ) -> None:
        """`bulkhead`: share one with the process's other destinations to the same SAP system."""
        self.destination = destination
        self._sleep = sleep
        self._clock = clock
        self._session = requests.Session()
        self._session.cookies.set_policy(_RejectAllCookies())
        self._session.trust_env = False
        self._session.verify = destination.verify_tls
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=destination.max_concurrency, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.retry = RetryPolicy(
            max_attempts=destination.max_attempts,
            base=destination.backoff_base,
            cap=destination.backoff_max,
            max_retry_after=destination.max_retry_after,
            rand=rand,
        )
        self.breaker = CircuitBreaker(
            destination.name,
            failure_threshold=destination.breaker_failure_threshold,
            recovery_time=destination.breaker_recovery_time,
            clock=clock,
            on_change=lambda name, state: metrics.SAP_CIRCUIT_STATE.labels(name).set(int(state)),
        )
        metrics.SAP_CIRCUIT_STATE.labels(destination.name).set(int(BreakerState.CLOSED))
        self.bulkhead = bulkhead or Bulkhead(
            destination.name, destination.max_concurrency, destination.queue_timeout, destination.max_queued
        )
        self.csrf = CsrfManager()
        self._static = Route(destination.url, destination.client)  # a fixed destination's, headers aside
        self._base = ""  # the Destination service's URL for this destination, once known (base_url)
        self._url_change_logged = False
        self._oauth: ClientCredentialsToken | None = None
        if isinstance(destination.auth, OAuth2ClientCredentials):
            self._oauth = ClientCredentialsToken(
                destination.auth,
                (destination.connect_timeout, destination.read_timeout),
                destination.verify_tls,
            )

    def close(self) -> None:
        self._session.close()
        if isinstance(self.destination.auth, DestinationServiceAuth):
            self.destination.auth.resolver.close()

    # -- public API -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        service: str,
        principal: Principal | None = None,
        params: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one logical call (several attempts for retried reads); `url` is absolute or below the
        destination URL, `service` is the service root path (for CSRF fetches and logs).

        The whole call keeps the current deadline (`resilience.deadline`, e.g. a web request's budget)
        and the destination's `total_timeout`, whichever ends first.
        """
        with deadline(self.destination.total_timeout, clock=self._clock):
            return self._request(method, url, service, principal, params, headers, data, json)

    def _request(
        self,
        method: str,
        url: str,
        service: str,
        principal: Principal | None,
        params: Mapping[str, Any] | str | None,
        headers: Mapping[str, str] | None,
        data: bytes | str | None,
        json: Any,
    ) -> requests.Response:
        method = method.upper()
        identity, route, basic = self._authenticate(principal)
        if not self._base:
            self._base = self.destination.url or route.url
        full_url = self._absolute(url, self._base)
        context = self.csrf.context(identity)
        base_headers = {k: v for k, v in (headers or {}).items() if v is not None}
        is_metadata = urlsplit(full_url).path.endswith("$metadata")
        if not _header(base_headers, "accept") and not is_metadata:
            base_headers["Accept"] = "application/json"
        pairs = self._with_client(full_url, params, route.client)
        # The caller's language for SAP's texts and messages; never for $metadata, parsed once for every caller.
        language = "" if is_metadata else current_language()
        if language:
            pairs = _with_language(full_url, pairs, language)
            if not _header(base_headers, "accept-language"):
                base_headers["Accept-Language"] = accept_language(language)
        if method in ("PUT", "PATCH", "MERGE", "DELETE") and not _header(base_headers, "if-match"):
            # An update without If-Match is a bug on our side (SAP would answer 428): never send it.
            raise SapProtocolError(
                f"{method} without If-Match refused locally; pass the entity's ETag",
                destination=self.destination.name,
                service=service,
            )
        call = _Call(
            method=method,
            url=full_url,
            service=service,
            params=pairs,
            headers={**base_headers, **route.headers, CORRELATION_HEADER: current_request_id()},
            data=data,
            json=json,
            basic=basic,
            base=self._base,
            client=route.client,
            proxy=route.proxy,
            context=context,
            on_behalf_of=principal.user if principal else "",
        )
        if method not in MODIFYING_METHODS:
            return self._send(call)
        token = self.csrf.token(context, lambda ctx: self._fetch_csrf(call, ctx))
        try:
            return self._send_write(call, token)
        except SapCsrfError:
            # Expired or unknown token: SAP did not process the request, so one resend is safe.
            self.csrf.invalidate(context, token)
            token = self.csrf.token(context, lambda ctx: self._fetch_csrf(call, ctx))
            return self._send_write(call, token)

    def connection(self, service: str, principal: Principal | None = None) -> PyodataConnection:
        """A requests-compatible object for pyodata, bound to one service and one caller."""
        return PyodataConnection(self, service, principal)

    @property
    def auth_kind(self) -> AuthKind:
        return self.destination.auth_kind

    # -- internals ----------------------------------------------------------------------------------

    def _absolute(self, url: str, base: str) -> str:
        if url.startswith(("http://", "https://")):
            if not (url == base or url.startswith(base + "/") or url.startswith(base + "?")):
                # Credentials must never travel to another host (e.g. a forged __next link).
                raise SapProtocolError(
                    f"URL outside destination {self.destination.name} refused", destination=self.destination.name
                )
            return url
        return base + "/" + url.lstrip("/")

    def _with_client(self, url: str, params: Mapping[str, Any] | str | None, client: str) -> list[tuple[str, str]]:
        if isinstance(params, str):
            pairs = parse_qsl(params, keep_blank_values=True)
        else:
            pairs = [(str(k), str(v)) for k, v in (params or {}).items() if v is not None]
        in_url = {k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        if "sap-client" not in in_url and not any(k == "sap-client" for k, _ in pairs):
            pairs.append(("sap-client", client))
        return pairs

    def base_url(self, principal: Principal | None = None) -> str:
        """The SAP system's URL: the destination's, or the one the Destination service gave the first call.

        Kept for the process's life once known (pyodata's request builders hold it); a URL changed in the BTP
        cockpit takes a restart, while credentials follow the Destination service's cache.
        """
        if self.destination.url:
            return self.destination.url
        if not self._base:
            self._base = self._authenticate(principal)[1].url
        return self._base

    def technical_route(self) -> tuple[Route, tuple[str, str] | None]:
        """Where a technical call goes and how it authenticates (readiness probes); the Destination service may
        be asked."""
        return self._authenticate(None)[1:]

    def _authenticate(self, principal: Principal | None) -> tuple[str, Route, tuple[str, str] | None]:
        """Who the call acts as (the CSRF context), where it goes and its headers, and Basic credentials."""
        auth = self.destination.auth
        static = self._static
        if isinstance(auth, BasicAuth):
            return TECHNICAL_IDENTITY, static, (auth.user, auth.password)
        if isinstance(auth, OAuth2ClientCredentials):
            assert self._oauth is not None
            token = self._oauth.get(self.destination.name)
            return TECHNICAL_IDENTITY, Route(static.url, static.client, {"Authorization": f"Bearer {token}"}), None
        as_user = auth.kind is AuthKind.USER_PROPAGATION
        if as_user and (principal is None or not principal.token):
            raise SapAuthError(
                f"destination {self.destination.name} acts as the user: the call needs a Principal",
                destination=self.destination.name,
            )
        identity = f"user:{principal.user.upper()}" if as_user and principal is not None else TECHNICAL_IDENTITY
        if isinstance(auth, DestinationServiceAuth):
            route = auth.resolver.route(principal if as_user else None)
            if self._base and route.url != self._base and not self._url_change_logged:
                self._url_change_logged = True
                log.warning("sap_destination_url_changed", destination=self.destination.name, note="restart to use it")
            return identity, route, None
        assert principal is not None
        return identity, Route(static.url, static.client, {"Authorization": f"Bearer {principal.token}"}), None

    def _send_write(self, call: _Call, csrf_token: str) -> requests.Response:
        """A modifying call; its error says whether SAP may have applied it (never re-sent here either way)."""
        try:
            return self._send(call, csrf_token=csrf_token)
        except SapError as error:
            error.may_have_applied = _may_have_applied(error)
            raise

    def _fetch_csrf(self, call: _Call, context: CsrfContext) -> str:
        metrics.SAP_CSRF_FETCHES.labels(self.destination.name).inc()
        root = self._absolute(call.service, call.base).rstrip("/") + "/"
        fetch = _Call(
            method="HEAD",
            url=root,
            service=call.service,
            params=self._with_client(root, None, call.client),
            headers={**{k: v for k, v in call.headers.items() if _authenticates(k)}, "X-CSRF-Token": "Fetch"},
            data=None,
            json=None,
            basic=call.basic,
            base=call.base,
            client=call.client,
            proxy=call.proxy,
            context=context,
            on_behalf_of=call.on_behalf_of,
        )
        response = self._send(fetch)
        token = _header(response.headers, "x-csrf-token")
        if not token or token.lower() == "required":
            raise SapCsrfError(
                f"SAP returned no CSRF token for {call.service}",
                destination=self.destination.name,
                service=call.service,
            )
        return token

    def _send(self, call: _Call, *, csrf_token: str | None = None) -> requests.Response:
        """Attempts with retries (idempotent methods only), breaker, bulkhead, logging and metrics."""
        budget = current_deadline()
        headers = dict(call.headers)
        if csrf_token is not None:
            headers["X-CSRF-Token"] = csrf_token
        attempt = 0
        while True:
            attempt += 1
            read_timeout = self.destination.read_timeout
            if budget is not None:
                left = budget.remaining()
                if left <= 0:
                    # Earlier calls of the same unit of work spent the budget (a retry never sleeps past
                    # it). Nothing is sent, and it is not SAP's failure: the breaker does not count it.
                    metrics.SAP_REJECTED_LOCALLY.labels(self.destination.name, "deadline").inc()
                    raise SapTimeout(
                        f"the {budget.budget:g}s budget for SAP calls was spent before this call to "
                        f"{self.destination.name}",
                        destination=self.destination.name,
                        service=call.service,
                    )
                read_timeout = min(read_timeout, left)
            try:
                self.breaker.before_call()
            except CircuitOpenError as exc:
                metrics.SAP_REJECTED_LOCALLY.labels(self.destination.name, "circuit_open").inc()
                exc.service = call.service
                raise
            error: SapError
            try:
                response = self._attempt(call, headers, attempt, read_timeout)
            except SapError as exc:
                if isinstance(exc, ConcurrencyLimitError):
                    self.breaker.release_probe()
                    raise
                self.breaker.record_failure()
                error = exc
                retry_after = None
            except BaseException:
                # Not SAP's doing (a job timeout, an interrupt): a half-open probe must not stay taken forever.
                self.breaker.release_probe()
                raise
            else:
                status = response.status_code
                if status < 400:
                    self.breaker.record_success()
                    self._raise_on_error_message(call, response)
                    return response
                # 5xx means SAP (or what fronts it) is unwell; 4xx answers prove it is alive.
                if status >= 500:
                    self.breaker.record_failure()
                else:
                    self.breaker.record_success()
                if status == 407 and call.proxy:
                    raise self._proxy_refused(call)
                error = error_from_response(
                    status,
                    dict(response.headers),
                    response.content,
                    destination=self.destination.name,
                    service=call.service,
                )
                retry_after = error.retry_after if isinstance(error, SapRateLimited) else None
                if status not in RETRYABLE_STATUSES:
                    raise error
            if not self.retry.should_retry(call.method, attempt, retry_after=retry_after):
                raise error
            pause = self.retry.delay(attempt, retry_after=retry_after)
            if budget is not None and pause >= budget.remaining():
                raise error
            metrics.SAP_RETRIES.labels(self.destination.name, service_name(call.service)).inc()
            self._sleep(pause)

    def _proxy_refused(self, call: _Call) -> SapUnavailable:
        """The Connectivity proxy refused our token (revoked, its keys rotated): nothing reached SAP. The next call
        fetches a new token; this one fails as SAP being away (the worker retries it, the web answers 503)."""
        if isinstance(self.destination.auth, DestinationServiceAuth):
            self.destination.auth.resolver.refused_by_proxy()
        return SapUnavailable(
            f"the Connectivity proxy refused the token for {self.destination.name} (HTTP 407); a new one is fetched",
            status=407,
            destination=self.destination.name,
            service=call.service,
        )

    def _socket_timeouts(self, read_timeout: float) -> tuple[float, float]:
        """Connect and read timeouts cut to what the deadline leaves now, after any wait for a slot."""
        return within_deadline((self.destination.connect_timeout, read_timeout))

    def _attempt(self, call: _Call, headers: dict[str, str], attempt: int, read_timeout: float) -> requests.Response:
        """One HTTP exchange inside the bulkhead; logged and counted whether it answers or not."""
        try:
            self.bulkhead.__enter__()
        except ConcurrencyLimitError as exc:
            metrics.SAP_REJECTED_LOCALLY.labels(self.destination.name, "concurrency_limit").inc()
            exc.service = call.service
            raise
        started = time.perf_counter()
        try:
            with tracing.client_span(
                call.method, call.url, destination=self.destination.name, service=service_name(call.service)
            ) as span:
                response = self._session.request(
                    call.method,
                    call.url,
                    params=call.params,
                    headers={**headers, **span.headers},  # W3C traceparent when tracing is on
                    data=call.data,
                    json=call.json,
                    auth=call.basic,
                    cookies=call.context.cookies,
                    timeout=self._socket_timeouts(read_timeout),
                    allow_redirects=False,
                    proxies={"http": call.proxy, "https": call.proxy} if call.proxy else None,
                )
                span.answered(response.status_code)
        except requests.Timeout as exc:
            self._observe(call, None, time.perf_counter() - started, attempt, "", "timeout")
            raise SapTimeout(
                f"no answer from {self.destination.name} within "
                f"{self.destination.connect_timeout:g}s connect / {read_timeout:g}s read",
                destination=self.destination.name,
                service=call.service,
            ) from exc
        except requests.RequestException as exc:
            self._observe(call, None, time.perf_counter() - started, attempt, "", type(exc).__name__)
            raise SapUnavailable(
                f"cannot reach {self.destination.name} ({type(exc).__name__})",
                destination=self.destination.name,
                service=call.service,
            ) from exc
        finally:
            self.bulkhead.__exit__()
        call.context.cookies.update(response.cookies)
        self._observe(
            call,
            response.status_code,
            time.perf_counter() - started,
            attempt,
            _header(response.headers, "sap-transactionid")
            or (parse_error_body(response.content).transaction_id if response.status_code >= 400 else ""),
            "",
        )
        return response

    def _observe(
        self,
        call: _Call,
        status: int | None,
        duration: float,
        attempt: int,
        transaction_id: str,
        error_text: str,
    ) -> None:
        name = self.destination.name
        service = service_name(call.service)
        metrics.SAP_CALLS.labels(name, service, call.method, str(status) if status else "error").inc()
        metrics.SAP_CALL_DURATION.labels(name, service, call.method).observe(duration)
        event = CallEvent(
            destination=name,
            service=service,
            method=call.method,
            path=_safe_path(call.url, call.params),
            status=status,
            duration_ms=round(duration * 1000, 1),
            attempt=attempt,
            request_id=call.headers.get(CORRELATION_HEADER, ""),
            sap_transaction_id=transaction_id,
            auth_kind=str(self.destination.auth_kind),
            on_behalf_of=call.on_behalf_of,
            error=error_text,
        )
        for events in _recorders.get():
            events.append(event)
        level = "info" if status is not None and status < 400 else "warning"
        log.log(
            20 if level == "info" else 30,
            "sap_call",
            destination=event.destination,
            service=event.service,
            method=event.method,
            path=event.path,
            status=event.status,
            duration_ms=event.duration_ms,
            attempt=event.attempt,
            request_id=event.request_id,
            sap_transaction_id=event.sap_transaction_id or None,
            auth=event.auth_kind,
            on_behalf_of=event.on_behalf_of or None,
            error=event.error or None,
        )

    def _raise_on_error_message(self, call: _Call, response: requests.Response) -> None:
        # SAP may answer 2xx yet report an error in sap-message (pyodata's sap_header_error_hook rule).
        messages = parse_sap_message_header(_header(response.headers, "sap-message"))
        if messages and messages[0].severity == "error":
            raise SapBusinessError(
                f"SAP HTTP {response.status_code} with error message: {messages[0].message}",
                status=response.status_code,
                code=messages[0].code,
                details=messages,
                destination=self.destination.name,
                service=call.service,
            )


def _with_language(url: str, pairs: list[tuple[str, str]], language: str) -> list[tuple[str, str]]:
    """`pairs` with `sap-language`, unless the URL (a `__next` link SAP built) or the caller names one already."""
    in_url = {k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if "sap-language" in in_url or any(k == "sap-language" for k, _ in pairs):
        return pairs
    return [*pairs, ("sap-language", language)]


def _may_have_applied(error: SapError) -> bool:
    """Did the write leave us without an answer coming back? Then SAP may have applied it.

    Refused connections and connect timeouts never reached SAP; an answer from SAP (4xx, 500, 503) says
    what happened. A read timeout, a connection lost after sending, or a gateway's 502/504 in front of
    a backend that may still be working leave the outcome unknown.
    """
    if isinstance(error, (CircuitOpenError, ConcurrencyLimitError)):
        return False
    if error.status is not None:
        return error.status in (502, 504)
    cause = error.__cause__
    if cause is None:
        return False
    if isinstance(cause, (requests.ConnectTimeout, requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader)):
        return False  # never left
    if isinstance(cause, requests.ConnectionError):
        reason = cause.args[0] if cause.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the real one
        return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    # A read timeout, or the answer broken off while it was read (ChunkedEncodingError, ...): SAP had it.
    return isinstance(cause, requests.RequestException)


@dataclass
class _Call:
    method: str
    url: str
    service: str
    params: list[tuple[str, str]]
    headers: dict[str, str] = field(repr=False)  # credentials: SAP's, the proxy's, the user's token
    data: bytes | str | None
    json: Any
    basic: tuple[str, str] | None = field(repr=False)
    context: CsrfContext
    on_behalf_of: str
    base: str  # the SAP system's URL (the destination's, or the Destination service's)
    client: str  # sap-client
    proxy: str = ""  # the Connectivity proxy, for on-premise systems


def _authenticates(header: str) -> bool:
    """Headers a CSRF fetch carries along: the caller's identity, the proxy's, and the correlation id."""
    name = header.lower()
    return name in ("authorization", "proxy-authorization", "x-correlationid") or name.startswith("sap-connectivity-")


class PyodataConnection:
    """What pyodata calls `connection`: forwards to SapHttp with the bound service and principal."""

    def __init__(self, http: SapHttp, service: str, principal: Principal | None) -> None:
        self._http = http
        self._service = service
        self._principal = principal

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self._http.request(
            method,
            url,
            service=self._service,
            principal=self._principal,
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            data=kwargs.get("data"),
            json=kwargs.get("json"),
        )

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)
