"""A local Web Push service for tests: checks VAPID (RFC 8292), decrypts aes128gcm (RFC 8291), records each message.

A stand-in like mock_sap: it shares no code with the sender it tests (its own base64url, JWT and ECDSA checks).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_EXP_AHEAD = 24 * 3600  # RFC 8292 section 2: exp no more than 24 hours after the request
MAX_BODY = 4096  # RFC 8030 section 7.2: push services must accept at least this, may refuse more


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of a subscription: its ECDH key pair and auth secret (RFC 8291)."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)
    application_server_key: str | None  # set: the subscription accepts pushes signed with this key only

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64(point)

    def subscription_json(self) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives a page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": _b64(self.auth_secret)},
        }


@dataclass(frozen=True)
class PushMessage:
    token: str
    headers: dict[str, str]
    claims: dict[str, Any]  # the VAPID JWT's, verified
    vapid_key: str  # the Authorization header's k
    payload: bytes  # decrypted

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Refusal:
    token: str
    status: int
    reason: str


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class PushService:
    """POST /push/<token>; `gone(token)` makes a subscription answer 410, `script(token, 429, ...)` the next answers."""

    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}
        self.messages: list[PushMessage] = []
        self.refusals: list[Refusal] = []
        self.requests = 0
        self._gone: set[str] = set()
        self._scripted: dict[str, deque[tuple[int, str | None]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def subscriber(self, application_server_key: str | None = None) -> Subscriber:
        token = secrets.token_urlsafe(16)
        subscriber = Subscriber(
            token=token,
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
            application_server_key=application_server_key,
        )
        with self._lock:
            self.subscribers[token] = subscriber
        return subscriber

    def gone(self, token: str) -> None:
        """From now on the subscription answers 410 Gone (expired or unsubscribed in the browser)."""
        with self._lock:
            self._gone.add(token)

    def script(self, token: str, status: int, retry_after: str | None = None) -> None:
        """The next request for `token` is answered `status` (queued; later requests go on as usual)."""
        with self._lock:
            self._scripted[token].append((status, retry_after))

    def received(self, token: str) -> list[PushMessage]:
        with self._lock:
            return [message for message in self.messages if message.token == token]

    # -- the server --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers = service._receive(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        token = path.removeprefix("/push/")
        with self._lock:
            self.requests += 1
            subscriber = self.subscribers.get(token) if path.startswith("/push/") else None
            if subscriber is None:
                return 404, {}
            if token in self._gone:
                return 410, {}
            if self._scripted[token]:
                status, retry_after = self._scripted[token].popleft()
                return status, {"Retry-After": retry_after} if retry_after is not None else {}
        lower = {name.lower(): value for name, value in headers.items()}
        try:
            claims, key = self._check_vapid(lower.get("authorization", ""), subscriber)
            message = self._decrypt(lower, body, subscriber)
        except Refused as refused:
            with self._lock:
                self.refusals.append(Refusal(token, refused.status, str(refused)))
            return refused.status, {}
        with self._lock:
            self.messages.append(PushMessage(token, lower, claims, key, message))
            number = len(self.messages)
        return 201, {"Location": f"{self.origin}/message/{number}"}

    def _check_vapid(self, authorization: str, subscriber: Subscriber) -> tuple[dict[str, Any], str]:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, f"not a vapid Authorization: {scheme!r}")
        params = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        token, key = params.get("t", ""), params.get("k", "")
        try:
            signing_input, _, signature = token.rpartition(".")
            header_b64, _, claims_b64 = signing_input.partition(".")
            header, claims = json.loads(_unb64(header_b64)), json.loads(_unb64(claims_b64))
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
            raw = _unb64(signature)
        except ValueError as exc:
            raise Refused(401, f"unreadable VAPID token or key: {exc}") from None
        if header.get("alg") != "ES256" or len(raw) != 64:
            raise Refused(401, f"not an ES256 JWS: alg {header.get('alg')!r}, {len(raw)}-byte signature")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refused(401, "VAPID signature does not verify with k") from None
        now = time.time()
        if claims.get("aud") != self.origin:
            raise Refused(401, f"aud {claims.get('aud')!r} is not {self.origin!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not now < exp <= now + MAX_EXP_AHEAD:
            raise Refused(401, f"exp {exp!r} is not in the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise Refused(401, f"sub {claims.get('sub')!r} is not a mailto: or https: URI")
        if subscriber.application_server_key is not None and key != subscriber.application_server_key:
            raise Refused(403, "k is not the applicationServerKey the subscription was made with")
        return claims, key

    @staticmethod
    def _decrypt(headers: dict[str, str], body: bytes, subscriber: Subscriber) -> bytes:
        if "ttl" not in headers:
            raise Refused(400, "no TTL header (RFC 8030 section 5.2)")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(415, f"Content-Encoding {headers.get('content-encoding')!r}, not aes128gcm")
        if len(body) > MAX_BODY:
            raise Refused(413, f"{len(body)} bytes: more than {MAX_BODY}")
        try:
            plain: bytes = http_ece.decrypt(
                body, private_key=subscriber.private_key, auth_secret=subscriber.auth_secret, version="aes128gcm"
            )
        except Exception as exc:  # http_ece raises its own ECEException and cryptography's errors
            raise Refused(400, f"cannot decrypt: {type(exc).__name__}: {exc}") from None
        return plain


@contextmanager
def running_push_service() -> Iterator[PushService]:
    service = PushService()
    try:
        yield service
    finally:
        service.stop()
