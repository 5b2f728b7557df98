"""A token checked once is not verified again on its next requests, yet every answer is the full check's answer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.auth import AuthError, StaticKeys, TokenValidator, VerifiedTokens
from tests.integration.app.test_auth import ISSUER, XSAPPNAME, claims


class RotatingKeys(StaticKeys):
    """Keys a test replaces with a new key set, as JwksKeys does on a refresh."""

    def rotate(self, keys: KeySet) -> None:
        self._keys = keys


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)


def public(*keys: RSAKey) -> KeySet:
    return KeySet([RSAKey.import_key(key.as_dict(private=False)) for key in keys])


@pytest.fixture
def sign(signing_key: RSAKey) -> Callable[..., str]:
    def sign(**overrides: Any) -> str:
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims(jti=uuid.uuid4().hex, **overrides), signing_key)

    return sign


@pytest.fixture
def validator(signing_key: RSAKey) -> TokenValidator:
    return TokenValidator(ISSUER, XSAPPNAME, StaticKeys(public(signing_key)))


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature was verified, in order (joserfc's jwt.decode, spied on)."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(value: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(value)
        return decode(value, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def set_clock(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    """From here on the wall clock reads `now` (and runs on)."""
    wall = time.time
    offset = now - wall()
    monkeypatch.setattr(time, "time", lambda: wall() + offset)


def refusal(validator: TokenValidator, token: str, **kwargs: Any) -> str:
    with pytest.raises(AuthError) as refused:
        validator.validate(token, **kwargs)
    return str(refused.value)


def test_a_repeated_token_is_not_verified_again(
    validator: TokenValidator, sign: Callable[..., str], verifications: list[str]
) -> None:
    token = sign()
    first = validator.validate(token)
    assert validator.validate(token) is first
    assert validator.validate(token) is first
    assert verifications == [token]
    assert first.user_name == "pat.manager" and first.token == token


def test_the_cache_is_keyed_by_a_digest_never_by_the_token(validator: TokenValidator, sign: Callable[..., str]) -> None:
    token = sign()
    validator.validate(token)
    assert all(token not in repr(key) and len(key) == 32 for key in validator.verified._entries)


@pytest.mark.parametrize("cached", [False, True], ids=["fresh", "cached"])
@pytest.mark.parametrize(("past_exp", "refused"), [(29, False), (30, True), (3600, True)])
def test_expiry_is_judged_the_same_whether_cached_or_not(
    signing_key: RSAKey,
    sign: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    cached: bool,
    past_exp: int,
    refused: bool,
) -> None:
    validator = TokenValidator(ISSUER, XSAPPNAME, StaticKeys(public(signing_key)), leeway=30)
    now = int(time.time())
    token = sign(iat=now, nbf=now, exp=now + 600)
    if cached:
        validator.validate(token)
    set_clock(monkeypatch, now + 600 + past_exp + 0.5)  # inside the second exp + past_exp (the leeway is 30 s)
    if refused:
        assert refusal(validator, token) == "token has expired"
        assert refusal(validator, token) == "token has expired"  # and the refusal is not remembered either
    else:
        assert validator.validate(token).user_name == "pat.manager"


def test_a_token_with_one_character_changed_is_checked_in_full(
    validator: TokenValidator, sign: Callable[..., str], verifications: list[str]
) -> None:
    token = sign()
    validator.validate(token)
    header, payload, signature = token.split(".")
    swapped_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    middle = len(payload) // 2
    swapped_payload = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    tampered = [f"{header}.{payload}.{swapped_signature}", f"{header}.{swapped_payload}.{signature}"]
    for other in tampered:
        assert refusal(validator, other) == "token signature is invalid"
    assert verifications == [token, *tampered]
    assert len(validator.verified) == 1


def test_a_lower_lifetime_cap_is_applied_to_a_cached_token(
    validator: TokenValidator, sign: Callable[..., str], verifications: list[str]
) -> None:
    now = int(time.time())
    token = sign(iat=now, nbf=now, exp=now + 600)
    validator.validate(token)  # cached under the default cap of 24 h
    assert refusal(validator, token, max_lifetime=599) == (
        "token lifetime of 600 s (exp - iat) exceeds the accepted maximum of 599 s"
    )
    assert validator.validate(token, max_lifetime=600).token == token
    assert validator.validate(token).token == token
    assert verifications == [token, token]  # only the refusal checked again


def test_the_least_recently_used_token_goes_beyond_the_bound(
    signing_key: RSAKey, sign: Callable[..., str], verifications: list[str]
) -> None:
    validator = TokenValidator(ISSUER, XSAPPNAME, StaticKeys(public(signing_key)), verified=VerifiedTokens(2))
    first, second, third = sign(), sign(), sign()
    for token in (first, second, first, third):  # `first` used again: `second` is now the least recent
        validator.validate(token)
    assert len(validator.verified) == 2
    verifications.clear()
    for token in (first, third, second):
        validator.validate(token)
    assert verifications == [second]


def test_failed_validations_are_not_remembered(
    validator: TokenValidator, sign: Callable[..., str], verifications: list[str]
) -> None:
    token = sign(aud=["someone-else"])
    for _ in range(2):
        assert refusal(validator, token) == f"token audience does not include {XSAPPNAME!r}"
    assert verifications == [token, token]
    assert len(validator.verified) == 0


def test_refreshed_keys_make_a_cached_token_checked_again(
    signing_key: RSAKey, sign: Callable[..., str], verifications: list[str]
) -> None:
    keys = RotatingKeys(public(signing_key))
    validator = TokenValidator(ISSUER, XSAPPNAME, keys)
    token = sign()
    validator.validate(token)
    keys.rotate(public(signing_key))  # the issuer's keys fetched again, k1 still among them
    validator.validate(token)
    assert verifications == [token, token]
    keys.rotate(public(RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)))  # k1 withdrawn
    assert refusal(validator, token) == "token signed with unknown key id 'k1'"


def test_an_entry_older_than_its_ttl_is_checked_again(
    signing_key: RSAKey, sign: Callable[..., str], verifications: list[str]
) -> None:
    verified = VerifiedTokens(ttl_seconds=0.0)
    validator = TokenValidator(ISSUER, XSAPPNAME, StaticKeys(public(signing_key)), verified=verified)
    token = sign()
    validator.validate(token)
    validator.validate(token)
    assert verifications == [token, token]
    assert len(verified) == 0  # stale entries do not pile up either


def test_a_clock_stepped_back_gets_the_full_checks_answer(
    validator: TokenValidator, sign: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sign()
    validator.validate(token)
    set_clock(monkeypatch, time.time() - 3600)
    assert refusal(validator, token).startswith("token was issued in the future (iat is ")


def test_threads_share_the_cache_safely(signing_key: RSAKey, sign: Callable[..., str]) -> None:
    validator = TokenValidator(ISSUER, XSAPPNAME, StaticKeys(public(signing_key)), verified=VerifiedTokens(3))
    tokens = [sign(user_name=f"user{i}") for i in range(6)]
    problems: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for round_ in range(40):
                index = (offset + round_) % len(tokens)
                assert validator.validate(tokens[index]).user_name == f"user{index}"
        except BaseException as exc:  # reported by the main thread
            problems.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert len(validator.verified) <= 3
