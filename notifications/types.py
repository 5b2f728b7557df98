"""The notification types apps and webhooks receive, each with what it means; the only source of valid types."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ALL = "*"  # a webhook subscribed to "*" receives every type, including ones added later

NOTIFICATION_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "writeback.succeeded": "A writeback command was applied in SAP",
        "writeback.rejected": "SAP refused a writeback command for a business reason; it is not retried",
        "writeback.conflict": "A writeback command met a newer change in SAP (412, or decided elsewhere first)",
        "writeback.dead": "A writeback command ran out of retries and waits in the dead-letter list",
        "production-order.created": "A production order was created in SAP",
        "production-order.changed": "A production order was changed in SAP (dates, quantities, status)",
        "production-order.released": "A production order was released in SAP",
        "confirmation.created": "A production order operation was confirmed in SAP",
        "confirmation.cancelled": "A confirmation of a production order operation was cancelled in SAP",
        "approval.created": "A workflow task reached an approver's inbox in SAP",
        "purchase-requisition.created": "A purchase requisition was created in SAP",
        "purchase-requisition.changed": "A purchase requisition was changed in SAP",
    }
)


def valid_pattern(pattern: str) -> bool:
    """A subscription pattern: "*", a known type, or "<prefix>.*" where some known type starts with "<prefix>."."""
    if pattern == ALL or pattern in NOTIFICATION_TYPES:
        return True
    prefix = pattern.removesuffix(".*")
    return prefix != pattern and "*" not in prefix and any(t.startswith(f"{prefix}.") for t in NOTIFICATION_TYPES)
