"""User propagation: the executive's own bearer token travels with each inbox call; never a shared identity."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import AuthKind, Principal, build_destination
from odata_clients.errors import SapAuthError
from odata_clients.http import record_calls

from .conftest import destination

if TYPE_CHECKING:
    from tests.conftest import MockSap

ISSUER = "https://tenant.authentication.example.com/oauth/token"
KID = "odata-clients-test-key"


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def jwks_url(signing_key: RSAKey) -> Iterator[str]:
    body = json.dumps({"keys": [signing_key.as_dict(private=False)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token_keys"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def trusting_mock(jwks_url: str, mock_sap_factory: Callable[..., MockSap]) -> MockSap:
    return mock_sap_factory("--trusted-issuer", ISSUER, "--trusted-jwks-url", jwks_url)


def principal(key: RSAKey, user: str) -> Principal:
    now = int(time.time())
    claims = {"iss": ISSUER, "iat": now, "exp": now + 600, "user_name": user.lower(), "origin": "idp"}
    return Principal(user, jwt.encode({"alg": "RS256", "typ": "JWT", "kid": KID}, claims, key))


@pytest.mark.slow
def test_inbox_calls_carry_the_callers_token(trusting_mock: MockSap, signing_key: RSAKey) -> None:
    user_destination = build_destination(
        "s4-user", trusting_mock.url, auth_kind=AuthKind.USER_PROPAGATION, backoff_base=0.01
    )
    sap = SapConnectivity(destination(trusting_mock.url), user=user_destination)
    try:
        anna, ben = principal(signing_key, "EXEC_ANNA"), principal(signing_key, "EXEC_BEN")
        with pytest.raises(SapAuthError):
            sap.tasks.list_open()  # no caller, no call
        with record_calls() as calls:
            anna_tasks = sap.tasks.for_user(anna).list_open().items
            ben_tasks = sap.tasks.for_user(ben).list_open().items
        assert anna_tasks and ben_tasks
        assert not {t.task_id for t in anna_tasks} & {t.task_id for t in ben_tasks}
        assert {c.auth_kind for c in calls} == {"user_propagation"}
        assert {c.on_behalf_of for c in calls} == {"EXEC_ANNA", "EXEC_BEN"}
        assert all(anna.token not in repr(c) for c in calls)
        task = next(t for t in anna_tasks if t.supports_claim)
        claimed = sap.tasks.for_user(anna).claim(task.task_id, task.origin)  # a write: CSRF per user
        assert claimed.status == "RESERVED"
        # the technical user reads the requisition behind Anna's task on the technical destination
        if task.object_id:
            assert sap.purchase_requisitions.get(task.object_id).items
    finally:
        sap.close()
