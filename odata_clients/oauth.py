"""OAuth2 client-credentials tokens (authlib), cached until shortly before expiry, bounded by the caller's deadline."""

from __future__ import annotations

import threading
import time

import requests

from odata_clients.destinations import OAuth2ClientCredentials
from odata_clients.errors import SapAuthError, SapTimeout, SapUnavailable
from odata_clients.resilience import current_deadline


class ClientCredentialsToken:
    """An OAuth2 client-credentials token, fetched with authlib and cached until shortly before expiry."""

    def __init__(self, auth: OAuth2ClientCredentials, timeout: tuple[float, float], verify: bool | str) -> None:
        self._auth = auth
        self._timeout = timeout
        self._verify = verify
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at = 0.0

    def get(self, destination: str) -> str:
        # Bounded by the caller's deadline: threads waiting here (a hung token endpoint) are outside the
        # bulkhead, so an unbounded wait could hold every web thread.
        budget = current_deadline()
        if not self._lock.acquire(timeout=max(0.0, budget.remaining()) if budget is not None else -1):
            raise SapTimeout(f"no OAuth2 token for {destination} within the request's budget", destination=destination)
        try:
            return self._get(destination)
        finally:
            self._lock.release()

    def invalidate(self, token: str | None = None) -> None:
        """The server refused `token` (the current one when None) before its expiry (revoked, keys rotated): the
        next `get` fetches a new one."""
        with self._lock:
            if token is None or self._token == token:
                self._token, self._expires_at = "", 0.0

    def _get(self, destination: str) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        from authlib.integrations.requests_client import OAuth2Session

        session = OAuth2Session(self._auth.client_id, self._auth.client_secret, scope=self._auth.scope or None)
        try:
            token = session.fetch_token(
                self._auth.token_url,
                grant_type="client_credentials",
                timeout=within_deadline(self._timeout),
                verify=self._verify,
            )
        except requests.RequestException as exc:
            # The token endpoint is unreachable or slow: transient, not a credentials problem.
            raise SapUnavailable(
                f"OAuth2 token endpoint for {destination} did not answer ({type(exc).__name__})",
                destination=destination,
            ) from None
        except Exception as exc:  # authlib raises several unrelated types; none may leak secrets
            raise SapAuthError(
                f"OAuth2 token request for {destination} failed ({type(exc).__name__})",
                destination=destination,
            ) from None
        finally:
            session.close()
        self._token = str(token["access_token"])
        # Refresh 30 s early so a token never expires in flight.
        self._expires_at = time.monotonic() + max(0.0, float(token.get("expires_in", 300)) - 30.0)
        return self._token


def within_deadline(timeouts: tuple[float, float]) -> tuple[float, float]:
    """(connect, read) timeouts, each cut to the time the current deadline leaves (never zero: that means none)."""
    budget = current_deadline()
    if budget is None:
        return timeouts
    left = max(0.001, budget.remaining())
    return min(timeouts[0], left), min(timeouts[1], left)
