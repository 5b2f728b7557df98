"""Composition root of odata_clients: one SapHttp per destination, one pyodata client per service."""

from __future__ import annotations

from pathlib import Path

from odata_clients.clients import (
    CONFIRMATIONS,
    PRODUCTION_ORDERS,
    PURCHASE_REQUISITIONS,
    TASKPROCESSING,
    ODataClient,
    ServiceSpec,
    metadata_from_dir,
)
from odata_clients.destinations import Destination
from odata_clients.gateways import (
    ConfirmationsGateway,
    OperationsGateway,
    ProductionOrdersGateway,
    PurchaseRequisitionsGateway,
    TasksGateway,
)
from odata_clients.http import SapHttp


class SapConnectivity:
    """Build once per process (web app or worker) and share; every gateway is thread-safe.

    `technical` serves production orders, operations, confirmations and purchase requisitions.
    `user` (a user-propagation destination) serves the inbox, which must act as the executive;
    without it the inbox also uses `technical` (development against named Basic users, tests).
    """

    def __init__(
        self,
        technical: Destination,
        user: Destination | None = None,
        *,
        metadata_dir: str | Path | None = None,
    ) -> None:
        self.technical_http = SapHttp(technical)
        # One bulkhead for both: the limit is on calls to the SAP system per process, whoever they act as.
        self.user_http = (
            SapHttp(user, bulkhead=self.technical_http.bulkhead) if user is not None else self.technical_http
        )
        self._metadata_dir = metadata_dir
        self.clients = {
            spec.name: self._client(self.user_http if spec is TASKPROCESSING else self.technical_http, spec)
            for spec in (TASKPROCESSING, PURCHASE_REQUISITIONS, PRODUCTION_ORDERS, CONFIRMATIONS)
        }
        self.tasks = TasksGateway(self.clients[TASKPROCESSING.name])
        self.purchase_requisitions = PurchaseRequisitionsGateway(self.clients[PURCHASE_REQUISITIONS.name])
        self.production_orders = ProductionOrdersGateway(self.clients[PRODUCTION_ORDERS.name])
        self.operations = OperationsGateway(self.clients[PRODUCTION_ORDERS.name])
        self.confirmations = ConfirmationsGateway(self.clients[CONFIRMATIONS.name])

    def _client(self, http: SapHttp, spec: ServiceSpec) -> ODataClient:
        return ODataClient(http, spec, metadata=metadata_from_dir(self._metadata_dir, spec))

    def preload(self) -> None:
        """Parse every technical service's metadata now (the inbox's needs a user unless it is on file)."""
        for client in self.clients.values():
            if client.http is self.technical_http or client.has_local_metadata:
                client.load()

    def close(self) -> None:
        self.technical_http.close()
        if self.user_http is not self.technical_http:
            self.user_http.close()
