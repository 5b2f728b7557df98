"""The integration admin's webhook endpoints: registration and its checks, the secret shown once, deliveries, retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue

from app.dev_idp import mint_token
from runtime.settings import Settings
from store import Webhooks
from tests.conftest import MockSap, local_settings, migrated_app
from workers import queues

WEBHOOKS = "/api/v1/admin/webhooks"
DELIVERIES = "/api/v1/admin/webhook-deliveries"
LEASE = timedelta(seconds=60)
REDIS_DB = 11  # this file's own database on the session's Redis server: no worker takes the jobs it enqueues

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def admin_settings(redis_url: str, mock_sap_server: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    return local_settings(
        redis_url, mock_sap_server, tmp_path, dev_idp_key_file, redis_db=REDIS_DB, log_level="WARNING"
    )


@pytest.fixture
def admin_app(admin_settings: Settings) -> Flask:
    app = migrated_app(admin_settings)
    app.extensions["redis"].flushdb()
    return app


@pytest.fixture
def api(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


@pytest.fixture
def as_role(admin_settings: Settings) -> Headers:
    def headers(role: str = "IntegrationAdmin", user: str = "INT_ADMIN", **attributes: list[str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(admin_settings, user, [role], attributes)}"}

    return headers


def register(api: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return api.post(
        WEBHOOKS, json={"url": "https://mes.example.com/hook", "event_types": ["*"], **body}, headers=headers
    )


def test_the_secret_is_shown_once_and_the_registration_audited(api: FlaskClient, as_role: Headers) -> None:
    admin = as_role()
    created = register(api, admin, event_types=["production-order.*", "writeback.dead"], description="MES line 1")
    assert created.status_code == 201, created.json
    secret = created.json["secret"]
    assert secret.startswith("whsec_")
    assert created.json["event_types"] == ["production-order.*", "writeback.dead"]
    assert created.json["created_by"] == "INT_ADMIN" and created.json["active"] is True

    listed = api.get(WEBHOOKS, headers=admin)
    assert listed.status_code == 200
    assert [hook["id"] for hook in listed.json["items"]] == [created.json["id"]]
    assert "secret" not in listed.json["items"][0] and secret not in listed.get_data(as_text=True)

    trail = api.get(f"/api/v1/admin/audit?object=Webhook:{created.json['id']}", headers=admin).json["items"]
    assert [(event["event"], event["actor"]) for event in trail] == [("webhook_registered", "INT_ADMIN")]
    assert secret not in str(trail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://mes.example.com/hook"}, "url"),
        ({"url": "ftp://mes.example.com/hook"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        ({"url": "https://mes.example.com/a hook"}, "url"),
        ({"url": "https://mes.example.com:99999/hook"}, "url"),
        ({"url": "https://mes.example.com/hook#part"}, "url"),
        ({"url": "https://x.example/" + "a" * 2048}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["production-order.deleted"]}, "event_types"),
        ({"event_types": ["production.*"]}, "event_types"),
        ({"event_types": "*"}, "event_types"),
        ({"description": "two\nlines"}, "description"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
def test_bad_registrations_are_422_naming_the_field(
    api: FlaskClient, as_role: Headers, body: dict[str, Any], field: str
) -> None:
    refused = register(api, as_role(), **body)
    assert refused.status_code == 422, refused.json
    assert field in refused.json["errors"]["json"]
    assert api.get(WEBHOOKS, headers=as_role()).json["items"] == []


def test_plain_http_only_to_this_machine_and_never_in_production(
    api: FlaskClient, admin_app: Flask, as_role: Headers
) -> None:
    for url in ("http://localhost:9000/hook", "http://127.0.0.1/hook"):
        assert register(api, as_role(), url=url).status_code == 201
    # What the check reads at request time; the rest of the app keeps its development wiring.
    admin_app.extensions["settings"] = admin_app.extensions["settings"].replace(env="production")
    refused = register(api, as_role(), url="http://localhost:9000/hook")
    assert refused.status_code == 422 and "url" in refused.json["errors"]["json"]
    # https still is fine, to a public address: an admin's URL must not reach inside (metadata, the intranet).
    assert register(api, as_role(), url="https://93.184.215.14/hook").status_code == 201
    for inside in ("https://169.254.169.254/latest/meta-data", "https://10.0.0.5/hook", "https://localhost/hook"):
        refused = register(api, as_role(), url=inside)
        assert refused.status_code == 422, inside
        assert "not a public address" in str(refused.json["errors"]["json"]["url"])


def test_only_the_integration_admin_may_touch_webhooks(api: FlaskClient, as_role: Headers) -> None:
    manager = as_role("PlantManager", user="PM_1010", Plant=["1010"])
    calls = [
        ("get", WEBHOOKS),
        ("post", WEBHOOKS),
        ("delete", f"{WEBHOOKS}/some-id"),
        ("get", DELIVERIES),
        ("post", f"{DELIVERIES}/some-id/retry"),
    ]
    for method, path in calls:
        assert getattr(api, method)(path, headers=manager).status_code == 403, (method, path)
        assert getattr(api, method)(path).status_code == 401, (method, path)


def test_a_deleted_webhook_is_gone_and_its_pending_deliveries_cancelled(
    api: FlaskClient, admin_app: Flask, as_role: Headers
) -> None:
    admin = as_role()
    webhook_id = register(api, admin).json["id"]
    hooks = Webhooks(admin_app.extensions["db_engine"])
    pending = hooks.plan(webhook_id, "1-0", "writeback.dead", {"id": "1-0"})
    assert pending is not None

    assert api.delete(f"{WEBHOOKS}/{webhook_id}", headers=admin).status_code == 204
    assert api.get(WEBHOOKS, headers=admin).json["items"] == []
    (cancelled,) = api.get(DELIVERIES, headers=admin).json["items"]
    assert cancelled["id"] == pending.id and cancelled["status"] == "cancelled"
    assert api.delete(f"{WEBHOOKS}/{webhook_id}", headers=admin).status_code == 404
    assert api.delete(f"{WEBHOOKS}/no-such-webhook", headers=admin).status_code == 404
    assert api.delete(f"{WEBHOOKS}/{'x' * 65}", headers=admin).status_code == 404


def test_deliveries_are_listed_newest_first_filtered_and_paged(
    api: FlaskClient, admin_app: Flask, as_role: Headers
) -> None:
    admin = as_role()
    first, second = register(api, admin).json["id"], register(api, admin).json["id"]
    hooks = Webhooks(admin_app.extensions["db_engine"])
    planned = [
        hooks.plan(webhook_id, f"{n}-0", "writeback.dead", {"n": n}) for n in (1, 2) for webhook_id in (first, second)
    ]
    ids = [delivery.id for delivery in planned if delivery is not None]
    hooks.start(ids[0], lease=LEASE)
    hooks.dead(ids[0], {"kind": "http", "status": 500, "message": "boom"})

    everything = api.get(f"{DELIVERIES}?include_total=true", headers=admin).json
    assert [d["id"] for d in everything["items"]] == ids[::-1] and everything["total"] == 4
    (dead,) = api.get(f"{DELIVERIES}?status=dead", headers=admin).json["items"]
    assert dead["id"] == ids[0] and dead["last_error"] == {"kind": "http", "status": 500, "message": "boom"}
    assert dead["payload"] == {"n": 1} and dead["attempts"] == 1
    of_second = api.get(f"{DELIVERIES}?webhook_id={second}", headers=admin).json["items"]
    assert [d["id"] for d in of_second] == [ids[3], ids[1]]

    page = api.get(f"{DELIVERIES}?limit=3", headers=admin).json
    rest = api.get(f"{DELIVERIES}?limit=3&cursor={page['next_cursor']}", headers=admin).json
    assert [d["id"] for d in page["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None
    assert api.get(f"{DELIVERIES}?status=lost", headers=admin).status_code == 400
    assert api.get(f"{DELIVERIES}?limit=3&status=dead&cursor={page['next_cursor']}", headers=admin).status_code == 400


def test_only_a_dead_delivery_is_retried(api: FlaskClient, admin_app: Flask, as_role: Headers) -> None:
    admin = as_role()
    webhook_id = register(api, admin).json["id"]
    hooks = Webhooks(admin_app.extensions["db_engine"])
    pending = hooks.plan(webhook_id, "1-0", "writeback.dead", {})
    dead = hooks.plan(webhook_id, "2-0", "writeback.dead", {})
    assert pending is not None and dead is not None
    hooks.start(dead.id, lease=LEASE)
    hooks.dead(dead.id, {"kind": "timeout", "status": None, "message": "slow"})

    refused = api.post(f"{DELIVERIES}/{pending.id}/retry", headers=admin)
    assert refused.status_code == 409 and "it is pending" in refused.json["message"]
    assert api.post(f"{DELIVERIES}/no-such-delivery/retry", headers=admin).status_code == 404

    retried = api.post(f"{DELIVERIES}/{dead.id}/retry", headers=admin)
    assert retried.status_code == 202
    assert retried.json["status"] == "pending" and retried.json["attempts"] == 0
    assert f"webhook-{dead.id}" in Queue(queues.NOTIFICATIONS, connection=admin_app.extensions["redis"]).get_job_ids()
    again = api.post(f"{DELIVERIES}/{dead.id}/retry", headers=admin)
    assert again.status_code == 409
    trail = api.get(f"/api/v1/admin/audit?object=Webhook:{webhook_id}", headers=admin).json["items"]
    assert [event["event"] for event in trail] == ["webhook_delivery_requeued", "webhook_registered"]
