"""The Connectivity service's HTTP proxy and the Cloud Connector behind it: virtual host -> internal system."""

from __future__ import annotations

import http.cookiejar
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from mock_btp.core import Btp, TokenError, host_with_port

# Never forwarded: RFC 9110's hop-by-hop headers, the proxy's own, and what the forwarding recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "expect"}
PRINCIPAL_TOKEN_TTL = 300  # the Cloud Connector's short-lived X.509 certificates last minutes
BACKEND_TIMEOUT = (5, 300)  # (connect, read): a slow SAP call is the client's to give up on, not the proxy's


class ProxyError(Exception):
    """Answered by the proxy itself with a text body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], btp: Btp, *, verbose: bool = False) -> None:
        super().__init__(address, ProxyHandler)
        self.btp = btp
        self.verbose = verbose
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.clear()  # only the client's headers reach the backend
        # Cookies belong to the proxy's clients: a shared jar would hand one client's SAP session to another.
        self.http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.http.mount("http://", HTTPAdapter(pool_maxsize=64))


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    timeout = 60  # idle kept-alive client connections are closed after a minute
    server: ProxyServer

    def handle_request(self) -> None:
        btp = self.server.btp
        with btp.stats.lock:
            btp.stats.proxy_requests += 1
        try:
            body = self._read_body()  # first, so that an early answer leaves the connection in step
        except ValueError:
            self.close_connection = True
            self._reply(400, "malformed request body")
            return
        try:
            url, headers, virtual_host = self._route(btp)
        except ProxyError as exc:
            self._reply(exc.status, str(exc), exc.headers)
            return
        self._forward(url, headers, body, virtual_host)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_MERGE = do_DELETE = do_OPTIONS = handle_request

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline(65537).split(b";")[0].strip(), 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline(65537).strip():  # trailer fields, up to the empty line
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, btp: Btp) -> tuple[str, dict[str, str], str]:
        self._check_proxy_authorization(btp)
        target = urlsplit(self.path if "://" in self.path else f"http://{self.headers.get('Host', '')}{self.path}")
        if target.scheme != "http" or not target.hostname:
            raise ProxyError(400, f"only http:// targets are supported, got {self.path}")
        location = self.headers.get("SAP-Connectivity-SCC-Location_ID", "")
        mappings = [m for m in btp.config.cloud_connector if m.location_id == location]
        if not mappings:
            message = f"There is no SAP Cloud Connector (SCC) connected to your subaccount with location id {location}"
            raise ProxyError(503, message)
        virtual_host = host_with_port(target.netloc.rpartition("@")[2])
        mapping = next((m for m in mappings if m.virtual_host == virtual_host), None)
        if mapping is None:
            raise ProxyError(403, f"access denied to system {virtual_host}: not exposed by the Cloud Connector")
        headers = self._forwarded_headers()
        principal = self.headers.get("SAP-Connectivity-Authentication")
        if principal is not None:
            scheme, _, user_token = principal.partition(" ")
            try:
                if scheme.lower() != "bearer" or not user_token.strip():
                    raise TokenError("invalid: not a Bearer token")
                user = btp.user_tokens.user_name(user_token.strip())
            except TokenError as exc:
                raise ProxyError(401, f"principal propagation failed: user token {exc}") from None
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            ttl = min(PRINCIPAL_TOKEN_TTL, btp.issuer.ttl)
            headers["Authorization"] = f"Bearer {btp.issuer.issue(btp.config.connectivity_client, user, ttl)}"
        url = mapping.internal_url.rstrip("/") + (target.path or "/") + (f"?{target.query}" if target.query else "")
        return url, headers, virtual_host

    def _check_proxy_authorization(self, btp: Btp) -> None:
        challenge = {"Proxy-Authenticate": 'Bearer realm="connectivity"'}
        scheme, _, token = self.headers.get("Proxy-Authorization", "").partition(" ")
        if not scheme:
            raise ProxyError(407, "Proxy-Authorization missing: a Bearer token of the connectivity client", challenge)
        if scheme.lower() != "bearer" or not token.strip():
            raise ProxyError(407, "Proxy-Authorization is not a Bearer token", challenge)
        try:
            claims = btp.issuer.verify(token.strip())
        except TokenError as exc:
            raise ProxyError(407, f"Proxy-Authorization: access token {exc}", challenge) from None
        if claims.get("client_id") != btp.config.connectivity_client:
            message = f"Proxy-Authorization: a token of client {claims.get('client_id')}, not the connectivity client"
            raise ProxyError(407, message, challenge)

    def _forwarded_headers(self) -> dict[str, str]:
        listed = {token.strip().lower() for token in self.headers.get("Connection", "").split(",")}
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in NOT_FORWARDED or lower in listed or lower.startswith("sap-connectivity-"):
                continue
            if name in headers:  # a repeated field: one line, as RFC 9110 allows (Cookie with its own separator)
                value = headers[name] + ("; " if lower == "cookie" else ", ") + value
            headers[name] = value
        return headers

    def _forward(self, url: str, headers: dict[str, str], body: bytes, virtual_host: str) -> None:
        try:
            response = self.server.http.request(
                self.command,
                url,
                headers=headers,
                data=body or None,
                stream=True,
                allow_redirects=False,
                timeout=BACKEND_TIMEOUT,
            )
            with response:
                content = response.raw.read(decode_content=False)  # as sent (still gzip if it was)
        except requests.RequestException as exc:
            self.log_message("backend %s: %s", url, exc)
            self._reply(502, f"Cloud Connector could not reach {virtual_host}")
            return
        self.send_response_only(response.status_code, response.reason)
        self.log_request(response.status_code, len(content))
        for name, value in response.raw.headers.items():  # each Set-Cookie on its own line
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        status = response.status_code
        if self.command == "HEAD":
            if "Content-Length" in response.raw.headers:  # the length a GET would have had
                self.send_header("Content-Length", response.raw.headers["Content-Length"])
        elif status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _reply(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)
