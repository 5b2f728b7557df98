"""The cursor-signing key: PAGING_SECRET, or in development a secret kept once per machine beside the dev IdP key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.paging import SECRET_FILE, paging_key
from runtime.settings import ConfigError, Settings


def test_development_keeps_one_secret_beside_the_dev_idp_key(tmp_path: Path) -> None:
    settings = Settings(dev_idp_key_file=str(tmp_path / "keys" / "dev-idp-key.json"))
    first = paging_key(settings)
    secret_file = tmp_path / "keys" / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert paging_key(settings) == first, "the next process (or restart) signs with the same key"
    assert paging_key(Settings(dev_idp_key_file=str(tmp_path / "other" / "k.json"))) != first


def test_a_configured_secret_wins_and_production_needs_one(tmp_path: Path) -> None:
    configured = Settings(paging_secret="s" * 32, dev_idp_key_file=str(tmp_path / "k.json"))
    assert paging_key(configured) == paging_key(configured.replace(env="production"))
    assert not (tmp_path / SECRET_FILE).exists(), "no file when the secret is configured"
    with pytest.raises(ConfigError, match="PAGING_SECRET"):
        paging_key(Settings(env="production", dev_idp_key_file=str(tmp_path / "k.json")))
    assert paging_key(configured) != paging_key(configured.replace(paging_secret="t" * 32))
