"""Conditional requests: ETag and 304 on /me and the writebacks, Retry-After while a writeback is not final."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from store import Store
from tests.integration.roles.conftest import Token, bearer

SUPERVISOR = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}


@pytest.fixture
def supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_ASSY1010", **SUPERVISOR))


def confirm_one(api: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    """A new writeback of the caller (nothing consumes its job: it stays accepted until the test moves it)."""
    items = api.get("/api/v1/work-orders?limit=50", headers=headers).json["items"]
    work = next(item for item in items if Decimal(item["quantity_to_go"]["value"]) >= 1)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]}
    response = api.post(
        f"/api/v1/work-orders/{work['id']}/confirmations",
        json=body,
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 202, response.json
    return response.json


def revalidate(api: FlaskClient, url: str, headers: dict[str, str]) -> tuple[TestResponse, TestResponse]:
    """GET, then GET again with the ETag the first answer gave."""
    first = api.get(url, headers=headers)
    assert first.status_code == 200, first.json
    assert first.headers.get("ETag"), f"GET {url} has no ETag"
    again = api.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]})
    return first, again


def test_me_has_an_etag_and_answers_304_while_the_token_says_the_same(api: FlaskClient, token: Token) -> None:
    pat = bearer(token("PlantManager", user="pat", Plant=["1010"]))
    first, again = revalidate(api, "/api/v1/me", pat)
    assert again.status_code == 304 and not again.data
    assert again.headers["ETag"] == first.headers["ETag"]  # RFC 9110: a 304 carries the ETag it confirms
    other = bearer(token("PlantManager", user="pat", Plant=["1010", "1020"]))
    changed = api.get("/api/v1/me", headers={**other, "If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.json["attributes"]["Plant"] == ["1010", "1020"]
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_writeback_list_answers_304_until_a_writeback_changes(api: FlaskClient, supervisor: dict[str, str]) -> None:
    command = confirm_one(api, supervisor)
    first, again = revalidate(api, "/api/v1/writebacks", supervisor)
    assert again.status_code == 304 and not again.data
    store: Store = api.application.extensions["store"]
    assert store.start_attempt(command["id"], actor="test-worker") is not None
    moved = api.get("/api/v1/writebacks", headers={**supervisor, "If-None-Match": first.headers["ETag"]})
    assert moved.status_code == 200
    assert next(item for item in moved.json["items"] if item["id"] == command["id"])["status"] == "running"


def retry_after(response: TestResponse) -> int | None:
    value = response.headers.get("Retry-After")
    return int(value) if value is not None else None


def test_retry_after_says_when_polling_is_worth_it_until_the_writeback_is_final(
    api: FlaskClient, supervisor: dict[str, str]
) -> None:
    store: Store = api.application.extensions["store"]
    command = confirm_one(api, supervisor)
    url = f"/api/v1/writebacks/{command['id']}"

    def poll() -> tuple[TestResponse, TestResponse]:
        first, again = revalidate(api, url, supervisor)
        assert again.status_code == 304 and not again.data
        assert again.headers.get("Retry-After") == first.headers.get("Retry-After"), "a 304 says it too"
        return first, again

    accepted, _ = poll()
    assert accepted.json["status"] == "accepted" and retry_after(accepted) == 1

    store.start_attempt(command["id"], actor="test-worker")
    running, _ = poll()
    assert running.json["status"] == "running" and retry_after(running) == 1
    assert running.headers["ETag"] != accepted.headers["ETag"]

    error = {"kind": "unavailable", "status": 503, "message": "SAP HTTP 503"}

    def retry_in(seconds: float) -> None:
        due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
        store.fail_transient(command["id"], error=error, next_attempt_at=due, actor="test-worker")

    retry_in(30)
    waiting = api.get(url, headers=supervisor)
    assert waiting.json["status"] == "accepted"
    # Until the retry is due; the slack is for a slow machine between the store write and the GET.
    assert 15 <= (retry_after(waiting) or 0) <= 30

    store.start_attempt(command["id"], actor="test-worker")
    retry_in(3600)
    assert retry_after(api.get(url, headers=supervisor)) == 60, "never more than a minute"

    store.start_attempt(command["id"], actor="test-worker")
    retry_in(-5)
    assert retry_after(api.get(url, headers=supervisor)) == 1, "a retry already due: soon"

    store.start_attempt(command["id"], actor="test-worker")
    store.sending(command["id"], "test-worker")
    store.in_doubt(
        command["id"],
        error=error,
        next_check_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20),
        actor="test-worker",
    )
    doubt = api.get(url, headers=supervisor)
    assert doubt.json["status"] == "in_doubt"
    assert 5 <= (retry_after(doubt) or 0) <= 20

    store.start_attempt(command["id"], actor="test-worker")
    store.succeed(command["id"], result={"confirmation": "1"}, actor="test-worker")
    final, again = revalidate(api, url, supervisor)
    assert final.json["status"] == "succeeded"
    assert again.status_code == 304
    assert "Retry-After" not in final.headers and "Retry-After" not in again.headers


def test_another_users_writeback_stays_invisible_with_an_etag_too(
    api: FlaskClient, supervisor: dict[str, str], token: Token
) -> None:
    command = confirm_one(api, supervisor)
    first = api.get(f"/api/v1/writebacks/{command['id']}", headers=supervisor)
    stranger = bearer(token("Supervisor", user="someone-else", **SUPERVISOR))
    response = api.get(
        f"/api/v1/writebacks/{command['id']}", headers={**stranger, "If-None-Match": first.headers["ETag"]}
    )
    assert response.status_code == 404, "a matching ETag must not reveal that someone else's writeback exists"


def test_if_none_match_compares_weakly(api: FlaskClient, token: Token) -> None:
    pat = bearer(token("PlantManager", user="pat", Plant=["1010"]))
    first = api.get("/api/v1/me", headers=pat)
    weak = api.get("/api/v1/me", headers={**pat, "If-None-Match": f"W/{first.headers['ETag']}"})
    assert weak.status_code == 304  # a cache or proxy may hand our ETag back weakened


def test_an_empty_cursor_is_refused_not_taken_for_the_first_page(api: FlaskClient, token: Token) -> None:
    pm = bearer(token("PlantManager", user="pat", Plant=["1010"]))
    response = api.get("/api/v1/production-orders?cursor=", headers=pm)
    assert response.status_code == 400 and "cursor" in response.json["errors"]["query"]


def test_probes_may_add_cache_busters(api: FlaskClient) -> None:
    assert api.get("/health/live?_=1732900000").status_code == 200


@pytest.mark.parametrize("limit", ["1_0", "\uff12", " 2", "+2", "2.0", "1e2"])
def test_limit_is_plain_ascii_digits(api: FlaskClient, token: Token, limit: str) -> None:
    pm = bearer(token("PlantManager", user="pat", Plant=["1010"]))
    response = api.get("/api/v1/production-orders", query_string={"limit": limit}, headers=pm)
    assert response.status_code == 400 and "limit" in response.json["errors"]["query"]
