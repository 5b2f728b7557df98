"""API_PURCHASEREQ_PROCESS_SRV: requisitions whose release state follows the approval tasks."""

from __future__ import annotations

from mock_sap.errors import ODataError, ServiceInfo
from mock_sap.services.base import Context, Service
from mock_sap.services.purchase_requisition_model import ACCOUNT_ASSIGNMENT, HEADER, ITEM, MODEL
from mock_sap.store import Row, Store, Table


class PurchaseRequisitionService(Service):
    name = "API_PURCHASEREQ_PROCESS_SRV"
    path = "/sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV"
    model = MODEL
    info = ServiceInfo("API_PURCHASEREQ_PROCESS_SRV", "MM-PUR-REQ")

    def __init__(self, store: Store, headers: Table, items: Table) -> None:
        super().__init__(store)
        # The items' accounting lines come from the store itself: the service is built with headers and items.
        self.tables = {HEADER: headers, ITEM: items, ACCOUNT_ASSIGNMENT: store[ACCOUNT_ASSIGNMENT]}

    def create(
        self, set_name: str, values: dict[str, object], deep: dict[str, list[dict[str, object]]], ctx: Context
    ) -> Row:
        # Creating requisitions is outside the scenario the mock plays (approvals read them only).
        raise ODataError(405, "/IWBEP/CM_MGW_RT/105", f"Creating '{set_name}' is not supported by this mock system")

    def update(self, set_name: str, row: Row, changes: dict[str, object], ctx: Context) -> Row:
        raise ODataError(405, "/IWBEP/CM_MGW_RT/105", f"Changing '{set_name}' is not supported by this mock system")
