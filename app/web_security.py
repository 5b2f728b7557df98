"""CORS from an allow-list, guards on request bodies, and the security headers every response carries."""

from __future__ import annotations

import re
from itertools import accumulate

from flask import Flask, Response, abort, request

MAX_JSON_DEPTH = 32  # our deepest body (a mass decision) is 3 levels; Python's json recurses per level
MAX_JSON_NUMBER_DIGITS = 100  # Python's json raises ValueError (a 500 via webargs) past 4300 digits
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_DEPTH_STEP = [1 if byte in b"[{" else -1 for byte in range(256)]
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_JSON_NUMBER_DIGITS + 1))

# traceparent/tracestate: a browser app's OpenTelemetry instrumentation continues its trace through us.
ALLOWED_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID, traceparent, tracestate"
)
# WWW-Authenticate: a browser app reads why its token was refused (expired, wrong audience) from the 401.
EXPOSED_HEADERS = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-ID"
ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def init_web_security(app: Flask, cors_origins: tuple[str, ...], production: bool) -> None:
    allowed = frozenset(cors_origins)

    @app.before_request
    def refuse_oversized_body() -> None:
        # Checked before routing so no view (or 405 path) ever reads a body over the limit.
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413, description=f"request body over {limit} bytes")

    @app.before_request
    def refuse_non_json_body() -> None:
        # Without this a JSON body sent as text/plain is silently ignored and reads as "field missing".
        has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
        if request.path.startswith("/api/") and has_body and not request.is_json:
            abort(415, description="send the body as JSON with Content-Type: application/json")

    @app.before_request
    def refuse_unparseable_json() -> None:
        # Before any view parses it: Python's json recurses once per nesting level (RecursionError, a 500).
        if request.is_json and (request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "")):
            if problem := json_body_problem(request.get_data(cache=True)):
                abort(400, description=problem)

    @app.after_request
    def add_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                response.headers["Access-Control-Max-Age"] = "600"
        response.vary.add("Origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            # Personal data: never in shared caches; clients revalidate with If-None-Match.
            response.headers.setdefault("Cache-Control", "private, no-cache")
            response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def json_body_problem(body: bytes) -> str | None:
    """Why a JSON body must not reach the parser (too deep, an absurd number), judged without parsing it."""
    skeleton = _JSON_STRING.sub(b'""', body)  # brackets and digits inside strings are text
    brackets = skeleton.translate(None, _NOT_A_BRACKET)
    depth = max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)
    if depth > MAX_JSON_DEPTH:
        return f"JSON body nested deeper than {MAX_JSON_DEPTH} levels"
    if _LONG_NUMBER.search(skeleton):
        return f"JSON body has a number of more than {MAX_JSON_NUMBER_DIGITS} digits"
    return None
