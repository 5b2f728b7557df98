"""S/4HANA business events (CloudEvents 1.0, as SAP Event Mesh delivers them) turned into our notifications.

SAP's business events are notifications: `data` carries the object's key, not the object. What the audience
rules need (an order's plant, a confirmation's work centre) is read from SAP's OData API, like any read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from notifications import notices
from notifications.model import Notification
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.production_orders import ProductionOrdersGateway

SPEC_VERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion")
MAX_EVENTS = 100  # per batch delivery


class InvalidEvent(ValueError):
    """The body is not a CloudEvent we can read; the message says which part."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    data: Mapping[str, Any]

    @property
    def key(self) -> str:
        """CloudEvents 1.0: source + id identify an event; a redelivery repeats both."""
        return f"{self.source}|{self.id}"


def parse_structured(body: Any) -> CloudEvent:
    """One event in structured mode (`application/cloudevents+json`)."""
    if not isinstance(body, Mapping):
        raise InvalidEvent("a CloudEvent is a JSON object")
    return _event({name: body.get(name) for name in REQUIRED}, body.get("data"))


def parse_binary(headers: Mapping[str, str], body: Any) -> CloudEvent:
    """One event in binary mode: attributes in `ce-*` headers, `data` as the JSON body."""
    return _event({name: headers.get(f"ce-{name}") for name in REQUIRED}, body)


def parse_batch(body: Any) -> list[CloudEvent]:
    """Batched mode (`application/cloudevents-batch+json`): a JSON array of structured events."""
    if not isinstance(body, list):
        raise InvalidEvent("a CloudEvents batch is a JSON array")
    if len(body) > MAX_EVENTS:
        raise InvalidEvent(f"a batch holds at most {MAX_EVENTS} events, this one {len(body)}")
    return [parse_structured(item) for item in body]


def _event(attributes: Mapping[str, Any], data: Any) -> CloudEvent:
    missing = [name for name in REQUIRED if not isinstance(attributes.get(name), str) or not attributes[name]]
    if missing:
        raise InvalidEvent(f"CloudEvent attribute(s) missing or not strings: {', '.join(missing)}")
    if attributes["specversion"] != SPEC_VERSION:
        raise InvalidEvent(f"specversion {attributes['specversion']!r} is not supported; send 1.0")
    if data is not None and not isinstance(data, Mapping):
        raise InvalidEvent("data must be a JSON object")
    return CloudEvent(attributes["id"], attributes["source"], attributes["type"], data or {})


def _key(event: CloudEvent, name: str) -> str:
    value = event.data.get(name)
    if not isinstance(value, str | int) or not str(value).strip():
        raise InvalidEvent(f"{event.type} carries no {name} in data")
    return str(value).strip()


def order_notification(orders: ProductionOrdersGateway, kind: str, order_id: str, *, source_event: str) -> Notification:
    """`production-order.<kind>` with its audience read from SAP: the order's plant, and on a release the work
    centres of its operations (a release gives their supervisors work to confirm). The delta poller uses it too."""
    released = kind == "released"
    order = orders.get(order_id, with_operations=released, with_status=False)
    work_centers = [(op.plant or order.plant, op.work_center) for op in order.operations if op.work_center]
    return notices.production_order(
        kind, order.order_id, order.plant, work_centers=work_centers, source_event=source_event
    )


def _order(kind: str) -> Callable[[SapConnectivity, CloudEvent], list[Notification]]:
    def notify(sap: SapConnectivity, event: CloudEvent) -> list[Notification]:
        return [order_notification(sap.production_orders, kind, _key(event, "ProductionOrder"), source_event=event.key)]

    return notify


def _confirmation(kind: str) -> Callable[[SapConnectivity, CloudEvent], list[Notification]]:
    def notify(sap: SapConnectivity, event: CloudEvent) -> list[Notification]:
        found = sap.confirmations.get(_key(event, "ConfirmationGroup"), _key(event, "ConfirmationCount"))
        return [
            notices.confirmation(
                kind,
                order=found.order_id,
                operation=found.operation,
                confirmation_group=found.confirmation_group,
                confirmation_count=found.confirmation_count,
                plant=found.plant,
                work_center=found.work_center or None,
                source_event=event.key,
            )
        ]

    return notify


def _requisition(kind: str) -> Callable[[SapConnectivity, CloudEvent], list[Notification]]:
    def notify(sap: SapConnectivity, event: CloudEvent) -> list[Notification]:
        return [notices.purchase_requisition(kind, _key(event, "PurchaseRequisition"), source_event=event.key)]

    return notify


# SAP's event types (sap.s4.beh.<object>.v1.<Object>.<Operation>.v1) and how each becomes notifications.
HANDLERS: Mapping[str, Callable[[SapConnectivity, CloudEvent], list[Notification]]] = {
    "sap.s4.beh.productionorder.v1.ProductionOrder.Created.v1": _order("created"),
    "sap.s4.beh.productionorder.v1.ProductionOrder.Changed.v1": _order("changed"),
    "sap.s4.beh.productionorder.v1.ProductionOrder.Released.v1": _order("released"),
    "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Created.v1": _confirmation("created"),
    "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Cancelled.v1": _confirmation("cancelled"),
    "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Created.v1": _requisition("created"),
    "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Changed.v1": _requisition("changed"),
}


def notifications_for(sap: SapConnectivity, event: CloudEvent) -> list[Notification] | None:
    """The notifications an event makes; None for a type we do not handle. Raises SapError (SAP unreachable:
    the sender delivers again later) and InvalidEvent."""
    handler = HANDLERS.get(event.type)
    return handler(sap, event) if handler is not None else None
