"""Gateways: one per business object; canonical dataclasses in, canonical dataclasses out."""

from __future__ import annotations

from odata_clients.gateways.confirmations import ConfirmationsGateway
from odata_clients.gateways.operations import OperationsGateway
from odata_clients.gateways.production_orders import ProductionOrdersGateway
from odata_clients.gateways.purchase_requisitions import PurchaseRequisitionsGateway
from odata_clients.gateways.tasks import TasksGateway

__all__ = [
    "ConfirmationsGateway",
    "OperationsGateway",
    "ProductionOrdersGateway",
    "PurchaseRequisitionsGateway",
    "TasksGateway",
]
