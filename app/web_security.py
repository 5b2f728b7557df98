"""CORS from an allow-list, and the security headers every response carries."""

from __future__ import annotations

from flask import Flask, Response, abort, request

ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID"
EXPOSED_HEADERS = "ETag, Location, Retry-After, X-Request-ID"
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
