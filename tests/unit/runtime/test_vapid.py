"""The VAPID key: configured as PEM or raw base64url, created once in development, never invented in production."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from runtime.settings import Settings
from runtime.vapid import PushUnavailable, application_server_key, private_key


def raw_b64(key: ec.EllipticCurvePrivateKey) -> str:
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(scalar).rstrip(b"=").decode()


def test_pem_and_raw_forms_of_one_key_give_one_public_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    from_pem = application_server_key(Settings(env="production", vapid_private_key=pem))
    from_raw = application_server_key(Settings(env="production", vapid_private_key=raw_b64(key)))
    assert from_pem == from_raw
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "configured",
    [
        "not a key",
        base64.urlsafe_b64encode(b"x" * 31).decode(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ],
)
def test_a_malformed_key_is_refused_without_echoing_it(configured: str) -> None:
    with pytest.raises(PushUnavailable) as refused:
        private_key(Settings(vapid_private_key=configured))
    assert "VAPID_PRIVATE_KEY" in str(refused.value) and configured not in str(refused.value)


def test_a_key_of_another_curve_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PushUnavailable, match="P-256"):
        private_key(Settings(vapid_private_key=other.decode()))


def test_development_keeps_its_key_in_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "vapid.pem"
    served = application_server_key(Settings(vapid_key_file=str(key_file)))
    assert key_file.stat().st_mode & 0o777 == 0o600
    # What every other process reads from the file is the key whose public half was served.
    kept = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(kept, ec.EllipticCurvePrivateKey)
    assert application_server_key(Settings(env="production", vapid_private_key=raw_b64(kept))) == served


def test_production_without_a_key_has_push_off(tmp_path: Path) -> None:
    settings = Settings(env="production", vapid_key_file=str(tmp_path / "vapid.pem"))
    with pytest.raises(PushUnavailable, match="VAPID_PRIVATE_KEY"):
        application_server_key(settings)
    assert not (tmp_path / "vapid.pem").exists()
