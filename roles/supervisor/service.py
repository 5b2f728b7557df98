"""Supervisor use cases, without Flask: released operations at the caller's work centres only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from access.policy import Forbidden, NotInScope, Principal, Role, check_work_center, require_attributes
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.keyset import KeysetPage, Position
from odata_clients.gateways.operations import DEFAULT_OPERATION_SORT
from odata_clients.models import Confirmation, ConfirmationProposal, Operation
from roles.common import SAP_KEY
from store import Command, Store

ID_SEPARATOR = "-"


@dataclass(frozen=True)
class WorkOrder:
    """An operation seen as a work order; its API id is `<order>-<operation>`."""

    operation_record: Operation
    material: str = ""  # what the order produces (SAP keeps it on the order, not the operation)

    @property
    def id(self) -> str:
        return f"{self.operation_record.order_id}{ID_SEPARATOR}{self.operation_record.operation}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.operation_record, name)


def split_id(work_order: str) -> tuple[str, str]:
    order_id, sep, operation = work_order.rpartition(ID_SEPARATOR)
    if not sep or not SAP_KEY.match(order_id) or not operation.isalnum() or len(operation) > 4:
        raise NotInScope(f"{work_order!r} is not a work order id")
    return order_id, operation


def scope(principal: Principal, requested: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(plants, work centres) to query: the caller's, or the requested subset of their work centres."""
    require_attributes(principal, Role.SUPERVISOR)
    foreign = [centre for centre in requested if centre not in principal.work_centers]
    if foreign:
        raise Forbidden(f"work centre(s) {', '.join(foreign)} are not among yours; query only your own")
    return principal.plants, tuple(requested) or principal.work_centers


def list_work_orders(
    sap: SapConnectivity,
    principal: Principal,
    *,
    work_centers: Sequence[str] = (),
    order_id: str | None = None,
    include_confirmed: bool = False,
    starts_by: dt.date | None = None,
    sort: Sequence[str] = DEFAULT_OPERATION_SORT,
    limit: int,
    after: Position | None = None,
    count: bool = False,
) -> KeysetPage[WorkOrder]:
    plants, centres = scope(principal, work_centers)
    page = sap.operations.list_released(
        centres,
        plants=plants,
        order_id=order_id,
        include_confirmed=include_confirmed,
        starts_by=starts_by,
        sort=sort,
        top=limit,
        after=after,
        count=count,
    )
    materials = sap.operations.materials_of({op.order_id for op in page.items})
    return KeysetPage([WorkOrder(op, materials.get(op.order_id, "")) for op in page.items], page.total, page.next_after)


def operation_in_scope(sap: SapConnectivity, principal: Principal, work_order: str) -> Operation:
    """One operation at the caller's work centres; elsewhere it is indistinguishable from none."""
    scope(principal)
    order_id, operation = split_id(work_order)
    record = sap.operations.get(order_id, operation)
    check_work_center(principal, record.plant, record.work_center)
    return record


def get_work_order(sap: SapConnectivity, principal: Principal, work_order: str) -> WorkOrder:
    """The work order as the detail view shows it: the operation and the material its order produces."""
    record = operation_in_scope(sap, principal, work_order)
    return WorkOrder(record, sap.operations.materials_of([record.order_id]).get(record.order_id, ""))


# -- confirmations of one operation: history, proposal, scrap reasons ------------------------------------

CONFIRMATION_ID = "-"  # <ConfirmationGroup>-<ConfirmationCount>, SAP's key
HISTORY_LIMIT = 100
SCRAP_REASONS = Path(__file__).with_name("scrap_reasons.json")


@dataclass(frozen=True)
class ConfirmationRecord:
    """A confirmation as SAP has it, and who asked for it when it came through our writebacks."""

    confirmation: Confirmation
    command: Command | None

    @property
    def id(self) -> str:
        return f"{self.confirmation.confirmation_group}{CONFIRMATION_ID}{self.confirmation.confirmation_count}"

    @property
    def confirmed_by(self) -> str:
        return self.command.requested_by if self.command else self.confirmation.entered_by

    @property
    def writeback_id(self) -> str | None:
        return self.command.id if self.command else None

    @property
    def cancellable(self) -> bool:
        return not (self.confirmation.is_reversed or self.confirmation.is_reversal)

    # The API's names for SAP's fields.
    yield_quantity = property(lambda self: self.confirmation.yield_quantity)
    scrap_quantity = property(lambda self: self.confirmation.scrap_quantity)
    scrap_reason = property(lambda self: self.confirmation.variance_reason)
    final = property(lambda self: self.confirmation.is_final)
    text = property(lambda self: self.confirmation.text)
    posting_date = property(lambda self: self.confirmation.posting_date)
    entered_at = property(lambda self: self.confirmation.entered_at)
    is_cancelled = property(lambda self: self.confirmation.is_reversed)
    is_cancellation = property(lambda self: self.confirmation.is_reversal)


def split_confirmation_id(confirmation_id: str) -> tuple[str, str]:
    group, sep, count = confirmation_id.partition(CONFIRMATION_ID)
    digits = group.isascii() and group.isdigit() and count.isascii() and count.isdigit()
    if not sep or not (digits and len(group) <= 10 and len(count) <= 8):
        raise NotInScope(f"{confirmation_id!r} is not a confirmation id (ConfirmationGroup-ConfirmationCount)")
    return group, count


def confirmation_history(
    sap: SapConnectivity, store: Store, principal: Principal, work_order: str
) -> list[ConfirmationRecord]:
    """The operation's confirmations, newest first; our writebacks say who asked for the ones they posted."""
    record = operation_in_scope(sap, principal, work_order)
    confirmations = sap.confirmations.for_operation(record.order_id, record.operation, top=HISTORY_LIMIT)
    commands = store.get_many({c.external_id for c in confirmations if c.external_id})
    records = [ConfirmationRecord(c, commands.get(c.external_id) if c.external_id else None) for c in confirmations]
    return sorted(records, key=lambda r: (r.confirmation.entered_at or "", r.id), reverse=True)


def confirmation_proposal(sap: SapConnectivity, principal: Principal, work_order: str) -> ConfirmationProposal:
    """SAP's proposal for the next confirmation of the operation (GetConfProposal): quantity to go, activities."""
    record = operation_in_scope(sap, principal, work_order)
    return sap.confirmations.proposal(record.order_id, record.operation, sequence=record.sequence or "0")


@cache
def scrap_reasons() -> list[dict[str, str]]:
    reasons: list[dict[str, str]] = json.loads(SCRAP_REASONS.read_text())["reasons"]
    return reasons
