"""How long a JWKS response is trusted: its Cache-Control max-age, bounded; the default otherwise."""

from __future__ import annotations

import pytest

from app.auth import bearer_challenge, jwks_ttl

BOUNDS = (60.0, 3600.0)


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        (None, 300.0),
        ("", 300.0),
        ("public, max-age=600", 600.0),
        ("max-age=600, must-revalidate", 600.0),
        ('max-age="120"', 120.0),
        ("MAX-AGE=900", 900.0),
        ("max-age=5", 60.0),  # below the lower bound: a flapping IdP must not make us fetch per request
        ("max-age=0", 60.0),
        ("max-age=86400", 3600.0),  # above the upper bound: a withdrawn key would be trusted for a day
        ("max-age=99999999999999", 300.0),  # absurd: ignored, the default applies
        ("no-cache", 60.0),
        ("no-store", 60.0),
        ("s-maxage=30", 300.0),  # for shared caches, not for us
        ("max-age=abc", 300.0),
    ],
)
def test_ttl(cache_control: str | None, seconds: float) -> None:
    assert jwks_ttl(cache_control, 300.0, BOUNDS) == seconds


def test_the_challenge_is_always_a_valid_header_value() -> None:
    challenge = bearer_challenge("token signed with unknown key id '€\"\\\x00'")
    assert challenge == 'Bearer error="invalid_token", error_description="token signed with unknown key id \'????\'"'
