"""The HTTP API: the token endpoint (XSUAA stand-in), the Destination service's "find a destination", admin."""

from __future__ import annotations

import base64
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from mock_btp.core import Btp, TokenError

USER_TOKEN_AUTHENTICATIONS = ("OAuth2JWTBearer", "OAuth2SAMLBearerAssertion")


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(ErrorMessage=message), status


def _token_error(message: str) -> list[dict[str, Any]]:
    return [{"type": "", "value": "", "error": message}]


def _bearer(kind: str, token: str, expires_in: int, **extra: Any) -> list[dict[str, Any]]:
    header = {"key": "Authorization", "value": f"Bearer {token}"}
    return [{"type": kind, "value": token, "http_header": header, "expires_in": str(expires_in), **extra}]


def create_app(btp: Btp) -> Flask:
    app = Flask("mock_btp")
    http = requests.Session()  # the Destination service's own calls to token service URLs
    http.trust_env = False

    @app.get("/health")
    def health() -> Response:
        return Response("ok", mimetype="text/plain")

    @app.get("/token_keys")
    def token_keys() -> Response:
        return jsonify(btp.issuer.jwks())

    @app.post("/oauth/token")
    def token() -> tuple[Response, int]:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username, auth.password
        else:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        client = btp.config.clients.get(client_id or "")
        if client is None or client.secret != secret:
            return jsonify(error="invalid_client", error_description="Bad credentials"), 401
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        assert client_id is not None
        claims = btp.issuer.claims(client_id, client.user_name)
        access_token = btp.issuer.sign(claims)
        with btp.stats.lock:
            btp.stats.token_requests[client_id] += 1
        body = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": btp.issuer.ttl,
            "scope": "uaa.resource",
            "jti": claims["jti"],
        }
        return jsonify(body), 200

    @app.get("/destination-configuration/v1/destinations/<name>")
    def find_destination(name: str) -> tuple[Response, int]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "Authorization: Bearer <access token> missing")
        try:
            claims = btp.issuer.verify(token.strip())
        except TokenError as exc:
            return _error(401, f"access token {exc}")
        if claims.get("client_id") != btp.config.destination_client:
            return _error(403, f"client {claims.get('client_id')} may not read destinations of this subaccount")
        with btp.stats.lock:
            btp.stats.destination_lookups[name] += 1
        destination = btp.config.destinations.get(name)
        if destination is None:
            return _error(404, "Configuration with the specified name was not found")
        body: dict[str, Any] = {
            "owner": {"SubaccountId": btp.subaccount_id, "InstanceId": None},
            "destinationConfiguration": destination,
        }
        auth_tokens = _auth_tokens(destination)
        if auth_tokens is not None:
            body["authTokens"] = auth_tokens
        return jsonify(body), 200

    def _auth_tokens(destination: dict[str, Any]) -> list[dict[str, Any]] | None:
        authentication = destination.get("Authentication")
        if authentication == "BasicAuthentication":
            b64 = base64.b64encode(f"{destination.get('User', '')}:{destination.get('Password', '')}".encode()).decode()
            return [{"type": "Basic", "value": b64, "http_header": {"key": "Authorization", "value": f"Basic {b64}"}}]
        if authentication == "OAuth2ClientCredentials":
            return _client_credentials(destination)
        if authentication in USER_TOKEN_AUTHENTICATIONS:
            user_token = request.headers.get("X-user-token", "").strip()
            if not user_token:
                return _token_error("missing X-user-token")
            try:
                user = btp.user_tokens.user_name(user_token)
            except TokenError as exc:
                return _token_error(f"user token {exc}")
            client_id = destination.get("clientId") or btp.config.destination_client
            return _bearer("Bearer", btp.issuer.issue(client_id, user), btp.issuer.ttl)
        return None  # PrincipalPropagation (the proxy does it), NoAuthentication, others

    def _client_credentials(destination: dict[str, Any]) -> list[dict[str, Any]]:
        # Like the real service: a client_credentials grant at the destination's token service URL, over HTTP.
        form = {"grant_type": "client_credentials"}
        if destination.get("scope"):
            form["scope"] = destination["scope"]
        try:
            response = http.post(
                destination.get("tokenServiceURL", ""),
                data=form,
                auth=(destination.get("clientId", ""), destination.get("clientSecret", "")),
                timeout=10,
            )
            answer = response.json() if response.content else {}
        except (requests.RequestException, ValueError) as exc:
            return _token_error(f"Retrieval of OAuthToken failed due to: {exc}")
        if response.status_code != 200 or "access_token" not in answer:
            why = answer.get("error") if isinstance(answer, dict) else None
            return _token_error(f"Retrieval of OAuthToken failed due to: {why or f'HTTP {response.status_code}'}")
        return _bearer(
            answer.get("token_type", "bearer"),
            answer["access_token"],
            answer.get("expires_in", 0),
            scope=answer.get("scope", ""),
        )

    @app.post("/mock-admin/revoke-tokens")
    def revoke_tokens() -> Response:
        return jsonify(revoked=btp.issuer.revoke_all())

    @app.get("/mock-admin/stats")
    def stats() -> Response:
        return jsonify(btp.stats.as_dict())

    @app.post("/mock-admin/reset-stats")
    def reset_stats() -> Response:
        btp.stats.reset()
        return jsonify(btp.stats.as_dict())

    @app.put("/mock-admin/destinations/<name>")
    def put_destination(name: str) -> tuple[Response, int]:
        configuration = request.get_json(silent=True)
        if not isinstance(configuration, dict):
            return _error(400, "the body must be a JSON object (a destination configuration)")
        status = 200 if name in btp.config.destinations else 201
        btp.config.destinations[name] = {**configuration, "Name": name}
        return jsonify(btp.config.destinations[name]), status

    @app.delete("/mock-admin/destinations/<name>")
    def delete_destination(name: str) -> tuple[Response, int]:
        if btp.config.destinations.pop(name, None) is None:
            return _error(404, "Configuration with the specified name was not found")
        return Response(status=204), 204

    return app
