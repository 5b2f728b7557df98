"""Web Push endpoints: the VAPID public key, subscribing the browser's PushSubscription JSON, unsubscribing."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from runtime.settings import DEV_ISSUER, Settings
from tests.conftest import MockSap, local_settings, migrated_app
from tests.push_service import PushService, running_push_service

PUBLIC_KEY = "/api/v1/push/public-key"
SUBSCRIPTIONS = "/api/v1/push/subscriptions"
ROLES = ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]


@pytest.fixture
def settings(redis_url: str, mock_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    # The development VAPID key in this test's folder, never the working tree's instance/.
    return local_settings(redis_url, mock_sap, tmp_path, dev_idp_key_file, vapid_key_file=str(tmp_path / "vapid.pem"))


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with running_push_service() as service:
        yield service


def bearer(app: Flask, user: str = "PM_1010", roles: list[str] | None = None, **attributes: Any) -> dict[str, str]:
    collections = ["PlantManager"] if roles is None else roles
    token = mint_token(app.extensions["settings"], user, collections, attributes or {"Plant": ["1010"]})
    return {"Authorization": f"Bearer {token}"}


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_public_key_is_a_p256_point_kept_in_a_private_file(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    response = client.get(PUBLIC_KEY, headers=bearer(app))
    assert response.status_code == 200, response.json
    point = unb64(response.json["public_key"])
    assert len(point) == 65 and point[0] == 4  # uncompressed, what pushManager.subscribe takes
    key_file = tmp_path / "vapid.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    # Another process (a worker, a second web instance) reads the same key: pushes verify against it.
    other = migrated_app(app.extensions["settings"])
    assert other.test_client().get(PUBLIC_KEY, headers=bearer(other)).json == response.json


@pytest.mark.parametrize("role", ROLES)
def test_every_business_role_may_subscribe(
    app: Flask, client: FlaskClient, push_service: PushService, role: str
) -> None:
    headers = bearer(app, user=f"user-{role}", roles=[role])
    assert client.get(PUBLIC_KEY, headers=headers).status_code == 200
    assert (
        client.post(SUBSCRIPTIONS, json=push_service.subscriber().subscription_json(), headers=headers).status_code
        == 201
    )
    assert len(client.get(SUBSCRIPTIONS, headers=headers).json["items"]) == 1


def test_a_token_without_a_role_is_refused(app: Flask, client: FlaskClient, push_service: PushService) -> None:
    headers = bearer(app, roles=[])
    subscription = push_service.subscriber().subscription_json()
    for response in (
        client.get(PUBLIC_KEY, headers=headers),
        client.get(SUBSCRIPTIONS, headers=headers),
        client.post(SUBSCRIPTIONS, json=subscription, headers=headers),
        client.delete(SUBSCRIPTIONS, json={"endpoint": subscription["endpoint"]}, headers=headers),
    ):
        assert response.status_code == 403, response.json
        assert "IntegrationAdmin" in response.json["message"]
    assert client.get(SUBSCRIPTIONS).status_code == 401


def test_subscribe_resubscribe_and_unsubscribe(app: Flask, client: FlaskClient, push_service: PushService) -> None:
    headers = bearer(app)
    subscriber = push_service.subscriber()
    body = subscriber.subscription_json()

    created = client.post(SUBSCRIPTIONS, json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["origin"] == push_service.origin
    assert set(created.json) == {"origin", "created_at"}

    # The same browser again (every app start re-sends it), with new keys: the same subscription, refreshed.
    renewed = {**body, "keys": push_service.subscriber().subscription_json()["keys"]}
    again = client.post(SUBSCRIPTIONS, json=renewed, headers=headers)
    assert again.status_code == 200, again.json
    assert again.json == created.json
    listed = client.get(SUBSCRIPTIONS, headers=headers)
    assert listed.status_code == 200
    assert listed.json == {"items": [created.json]}

    gone = client.delete(SUBSCRIPTIONS, json={"endpoint": body["endpoint"]}, headers=headers)
    assert gone.status_code == 204 and gone.data == b""
    assert client.get(SUBSCRIPTIONS, headers=headers).json == {"items": []}
    missing = client.delete(SUBSCRIPTIONS, json={"endpoint": body["endpoint"]}, headers=headers)
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_an_endpoint_subscribed_by_another_user_moves_to_them(
    app: Flask, client: FlaskClient, push_service: PushService
) -> None:
    anna, ben = bearer(app, user="ANNA"), bearer(app, user="BEN")
    body = push_service.subscriber().subscription_json()
    assert client.post(SUBSCRIPTIONS, json=body, headers=anna).status_code == 201
    # Ben cannot remove Anna's subscription, even knowing its endpoint.
    assert client.delete(SUBSCRIPTIONS, json={"endpoint": body["endpoint"]}, headers=ben).status_code == 404
    assert len(client.get(SUBSCRIPTIONS, headers=anna).json["items"]) == 1

    # Ben signs in on the same browser: its pushes are his now, no longer Anna's.
    assert client.post(SUBSCRIPTIONS, json=body, headers=ben).status_code == 201
    assert client.get(SUBSCRIPTIONS, headers=anna).json == {"items": []}
    assert len(client.get(SUBSCRIPTIONS, headers=ben).json["items"]) == 1
    assert client.delete(SUBSCRIPTIONS, json={"endpoint": body["endpoint"]}, headers=anna).status_code == 404


def test_keys_and_endpoints_are_never_answered(app: Flask, client: FlaskClient, push_service: PushService) -> None:
    headers = bearer(app)
    subscriber = push_service.subscriber()
    body = subscriber.subscription_json()
    answers = [
        client.post(SUBSCRIPTIONS, json=body, headers=headers),
        client.post(SUBSCRIPTIONS, json=body, headers=headers),
        client.get(SUBSCRIPTIONS, headers=headers),
    ]
    for response in answers:
        text = response.get_data(as_text=True)
        assert push_service.origin in text
        for secret in (subscriber.token, body["keys"]["p256dh"], body["keys"]["auth"]):
            assert secret not in text


def test_a_user_keeps_their_ten_newest_subscriptions(
    app: Flask, client: FlaskClient, push_service: PushService
) -> None:
    headers = bearer(app)
    bodies = [push_service.subscriber().subscription_json() for _ in range(11)]
    for body in bodies:
        assert client.post(SUBSCRIPTIONS, json=body, headers=headers).status_code == 201
    assert len(client.get(SUBSCRIPTIONS, headers=headers).json["items"]) == 10
    assert client.delete(SUBSCRIPTIONS, json={"endpoint": bodies[0]["endpoint"]}, headers=headers).status_code == 404
    assert client.delete(SUBSCRIPTIONS, json={"endpoint": bodies[-1]["endpoint"]}, headers=headers).status_code == 204


def _invalid(body: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    keys = body["keys"]
    not_on_curve = b64(b"\x04" + bytes(64))  # (0, 0) is not a point of P-256
    return [
        ("http to another host", {**body, "endpoint": "http://push.example.com/push/x"}, "endpoint"),
        ("not a URL scheme of ours", {**body, "endpoint": "ftp://push.example.com/x"}, "endpoint"),
        ("credentials in the URL", {**body, "endpoint": "https://user:pw@push.example.com/x"}, "endpoint"),
        ("spaces", {**body, "endpoint": "https://push.example.com/a b"}, "endpoint"),
        ("too long", {**body, "endpoint": "https://push.example.com/" + "a" * 2048}, "endpoint"),
        ("p256dh too short", {**body, "keys": {**keys, "p256dh": b64(os.urandom(33))}}, "keys"),
        ("p256dh not on the curve", {**body, "keys": {**keys, "p256dh": not_on_curve}}, "keys"),
        ("p256dh not base64url", {**body, "keys": {**keys, "p256dh": "!" * 87}}, "keys"),
        ("auth too long", {**body, "keys": {**keys, "auth": b64(os.urandom(17))}}, "keys"),
        ("no auth", {**body, "keys": {"p256dh": keys["p256dh"]}}, "keys"),
        ("an unknown key field", {**body, "keys": {**keys, "extra": "x"}}, "keys"),
        ("an unknown field", {**body, "subscriptionId": "x"}, "subscriptionId"),
        ("no keys", {"endpoint": body["endpoint"]}, "keys"),
        ("expirationTime not a number", {**body, "expirationTime": "soon"}, "expirationTime"),
    ]


def test_invalid_subscriptions_are_422_naming_the_field(
    app: Flask, client: FlaskClient, push_service: PushService
) -> None:
    headers = bearer(app)
    body = push_service.subscriber().subscription_json()
    for case, invalid, field in _invalid(body):
        response = client.post(SUBSCRIPTIONS, json=invalid, headers=headers)
        assert response.status_code == 422, case
        assert field in response.json["errors"]["json"], (case, response.json)
    assert client.get(SUBSCRIPTIONS, headers=headers).json == {"items": []}
    assert client.delete(SUBSCRIPTIONS, json={}, headers=headers).status_code == 422
    # The browser's own JSON, with an expiration time, is taken as it is.
    assert client.post(SUBSCRIPTIONS, json={**body, "expirationTime": 1.7e12}, headers=headers).status_code == 201


@pytest.fixture
def production_app(
    redis_url: str, mock_sap: MockSap, tmp_path: Path, dev_idp_key_file: str, dev_idp_jwks_url: str
) -> Flask:
    """Production: a real identity provider (the dev IdP's keys over JWKS) and no VAPID key configured."""
    settings = local_settings(
        redis_url,
        mock_sap,
        tmp_path,
        dev_idp_key_file,
        env="production",
        dev_idp=False,
        jwt_issuer=DEV_ISSUER,
        jwks_url=dev_idp_jwks_url,
        paging_secret="p" * 32,
        vapid_key_file=str(tmp_path / "vapid.pem"),
    )
    return migrated_app(settings)


def test_production_without_a_key_has_push_off(
    production_app: Flask, push_service: PushService, tmp_path: Path
) -> None:
    client, headers = production_app.test_client(), bearer(production_app)
    response = client.get(PUBLIC_KEY, headers=headers)
    assert response.status_code == 404
    assert "VAPID_PRIVATE_KEY" in response.json["message"]
    # Nothing could ever be pushed to a subscription: refused too, not stored to fail at every event.
    fcm = {**push_service.subscriber().subscription_json(), "endpoint": "https://fcm.googleapis.com/fcm/send/dG9rZW4"}
    refused = client.post(SUBSCRIPTIONS, json=fcm, headers=headers)
    assert refused.status_code == 404 and "VAPID_PRIVATE_KEY" in refused.json["message"]
    assert not (tmp_path / "vapid.pem").exists()  # production never invents a key


def test_production_accepts_only_browser_push_services(production_app: Flask, push_service: PushService) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    production_app.extensions["settings"] = production_app.extensions["settings"].replace(
        vapid_private_key=key.decode()
    )
    client, headers = production_app.test_client(), bearer(production_app)
    body = push_service.subscriber().subscription_json()
    local = client.post(SUBSCRIPTIONS, json=body, headers=headers)  # the stand-in: http to this machine
    assert local.status_code == 422 and "endpoint" in local.json["errors"]["json"]
    elsewhere = {**body, "endpoint": "https://internal.example.com/admin/reset"}
    assert client.post(SUBSCRIPTIONS, json=elsewhere, headers=headers).status_code == 422
    fcm = {**body, "endpoint": "https://fcm.googleapis.com/fcm/send/dG9rZW4"}
    created = client.post(SUBSCRIPTIONS, json=fcm, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["origin"] == "https://fcm.googleapis.com"
