"""JWT_MAX_LIFETIME caps the lifetime of accepted tokens; 24 h unless set."""

from __future__ import annotations

import pytest

from runtime.settings import ConfigError, from_env


def test_jwt_max_lifetime_defaults_to_a_day_and_can_be_set() -> None:
    assert from_env({}).jwt_max_lifetime == 86400
    assert from_env({"JWT_MAX_LIFETIME": "43200"}).jwt_max_lifetime == 43200


def test_jwt_max_lifetime_must_be_a_number() -> None:
    with pytest.raises(ConfigError, match="JWT_MAX_LIFETIME must be an integer"):
        from_env({"JWT_MAX_LIFETIME": "12h"})
