"""Webhook signatures: the Standard Webhooks reference vector, and what a receiver's check refuses."""

from __future__ import annotations

import pytest

from notifications.signing import SignatureError, sign, verify
from notifications.types import valid_pattern

# The test vector the Standard Webhooks reference libraries share: matching it means any of them verifies us.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(timestamp), "Webhook-Signature": signature}


def test_signs_like_the_reference_libraries() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_verifies_the_reference_vector_and_any_one_of_several_signatures() -> None:
    verify(SECRET, headers(), BODY, now=TIMESTAMP + 10)
    rotating = f"v1,{'A' * 43}= {SIGNATURE} v1a,c29tZXRoaW5nIGVsc2U="
    verify(SECRET, headers(rotating), BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("secret", "sent", "body", "now", "reason"),
    [
        (SECRET, headers(), b'{"test": 2432232315}', TIMESTAMP, "no signature matches"),
        ("whsec_" + "B" * 32, headers(), BODY, TIMESTAMP, "no signature matches"),
        (SECRET, headers(msg_id="msg_other"), BODY, TIMESTAMP, "no signature matches"),
        (SECRET, headers(SIGNATURE.replace("v1,", "v2,")), BODY, TIMESTAMP, "no signature matches"),
        (SECRET, headers(), BODY, TIMESTAMP + 301, "away from now"),
        (SECRET, headers(), BODY, TIMESTAMP - 301, "away from now"),
        (SECRET, headers(timestamp=-1), BODY, TIMESTAMP, "not unix seconds"),
        (SECRET, {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)}, BODY, TIMESTAMP, "missing"),
        ("whsec_not base64!", headers(), BODY, TIMESTAMP, "not whsec_"),
    ],
)
def test_refuses_what_the_secret_did_not_sign_recently(
    secret: str, sent: dict[str, str], body: bytes, now: float, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(secret, sent, body, now=now)


def test_an_id_with_a_dot_is_never_signed() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        sign(SECRET, "msg.1", TIMESTAMP, BODY)


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [
        ("*", True),
        ("writeback.dead", True),
        ("production-order.*", True),
        ("purchase-requisition.*", True),
        ("writeback.unknown", False),
        ("production.*", False),  # a prefix of no type up to its dot
        ("*.released", False),
        (".*", False),
        ("writeback.**", False),
    ],
)
def test_subscription_patterns(pattern: str, valid: bool) -> None:
    assert valid_pattern(pattern) is valid
