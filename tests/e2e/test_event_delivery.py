"""Web Push and webhooks end to end: a writeback finished by a real `python -m workers` process is pushed to the
requester's device (a local push service that checks the VAPID signature and decrypts the message) and posted,
signed, to an admin's webhook, which answers 500 twice before it takes it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from tests.conftest import migrated_app
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.workers.test_webhook_delivery import Receiver
from tests.push_service import running_push_service

__all__ = ["workers"]  # the fixture


@pytest.fixture
def api(workers: Workers) -> FlaskClient:
    return migrated_app(workers.context.settings).test_client()


@pytest.mark.slow
def test_a_finished_writeback_is_pushed_to_the_device_and_posted_to_the_webhook(
    api: FlaskClient, workers: Workers
) -> None:
    workers.start(WEBHOOK_BACKOFF_BASE="0.2", WEBHOOK_BACKOFF_MAX="0.5")
    settings = workers.context.settings
    supervisor = {
        "Authorization": "Bearer "
        + mint_token(settings, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]})
    }
    admin = {"Authorization": "Bearer " + mint_token(settings, "OPS_ADMIN", ["IntegrationAdmin"], {})}
    receiver = Receiver(500, 500, 200)
    with running_push_service() as push_service:
        try:
            # The app on the phone subscribes, with the API's VAPID public key.
            key = api.get("/api/v1/push/public-key", headers=supervisor).json["public_key"]
            device = push_service.subscriber(application_server_key=key)
            subscribed = api.post("/api/v1/push/subscriptions", json=device.subscription_json(), headers=supervisor)
            assert subscribed.status_code == 201, subscribed.json
            # Another system wants every writeback outcome.
            hook = {"url": receiver.url, "event_types": ["writeback.*"], "description": "MES"}
            registered = api.post("/api/v1/admin/webhooks", json=hook, headers=admin)
            assert registered.status_code == 201, registered.json
            receiver.secret = registered.json["secret"]

            work = next(
                item
                for item in api.get("/api/v1/work-orders?limit=50", headers=supervisor).json["items"]
                if Decimal(item["quantity_to_go"]["value"]) >= 1
            )
            posted = api.post(
                f"/api/v1/work-orders/{work['id']}/confirmations",
                json={"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]},
                headers={**supervisor, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert posted.status_code == 202, posted.json
            command_id = posted.json["id"]
            assert workers.ended(command_id).status.value == "succeeded"

            (message,) = poll(lambda: push_service.received(device.token), 30, "the push message")
            assert message.claims["aud"] == push_service.origin and message.claims["sub"].startswith("mailto:")
            pushed = message.json()
            assert pushed["type"] == "writeback.succeeded" and pushed["data"]["id"] == command_id
            assert pushed["title"] and pushed["body"]

            seen = poll(lambda: len(receiver.seen) >= 3 and receiver.seen, 30, "three webhook attempts")
            assert [s["verified"] for s in seen] == [True, True, True]
            assert len({s["id"] for s in seen}) == 1  # one event, retried with its id
            assert seen[0]["body"]["type"] == "writeback.succeeded" and seen[0]["body"]["data"]["id"] == command_id

            def delivered() -> bool:
                listed = api.get("/api/v1/admin/webhook-deliveries?status=succeeded", headers=admin).json["items"]
                return any(d["event_id"] == seen[0]["id"] and d["attempts"] == 3 for d in listed)

            poll(delivered, 10, "the delivery recorded as succeeded after 3 attempts")
        finally:
            receiver.close()
