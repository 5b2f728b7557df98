"""Purchase requisitions (API_PURCHASEREQ_PROCESS_SRV): the business object behind an approval task."""

from __future__ import annotations

from decimal import Decimal

from odata_clients.gateways.base import Gateway, Row
from odata_clients.models import (
    Amount,
    PurchaseRequisition,
    PurchaseRequisitionAccountAssignment,
    PurchaseRequisitionItem,
)

HEADERS = "A_PurchaseRequisitionHeader"
NAV_ITEMS = "to_PurchaseReqnItem"
NAV_ACCOUNT_ASSIGNMENTS = "to_PurchaseReqnAcctAssgmt"


def account_assignment_from_row(row: Row) -> PurchaseRequisitionAccountAssignment:
    share = row.decimal("MultipleAcctAssgmtDistrPercent")
    return PurchaseRequisitionAccountAssignment(
        number=row.text("PurchaseReqnAcctAssgmtNumber"),
        cost_center=row.text("CostCenter"),
        wbs_element=row.text("WBSElement"),
        gl_account=row.text("GLAccount"),
        order_id=row.text("OrderID"),
        asset=row.text("MasterFixedAsset"),
        profit_center=row.text("ProfitCenter"),
        # SAP leaves the percentage initial (0) when the item is not distributed over several lines.
        share_percent=share if share else None,
        net_amount=row.amount("PurReqnNetAmount", "PurReqnItemCurrency"),
    )


def item_from_row(row: Row) -> PurchaseRequisitionItem:
    return PurchaseRequisitionItem(
        requisition_id=row.text("PurchaseRequisition"),
        item=row.text("PurchaseRequisitionItem"),
        description=row.text("PurchaseRequisitionItemText"),
        material=row.text("Material"),
        plant=row.text("Plant"),
        quantity=row.quantity_or_zero("RequestedQuantity", "BaseUnit"),
        price=row.amount("PurchaseRequisitionPrice", "PurReqnItemCurrency"),
        net_amount=row.amount("ItemNetAmount", "PurReqnItemCurrency"),
        delivery_date=row.date("DeliveryDate"),
        purchasing_group=row.text("PurchasingGroup"),
        requisitioner=row.text("RequisitionerName"),
        release_status=row.text("PurReqnReleaseStatus"),
        is_release_pending=row.boolean("ReleaseIsNotCompleted"),
        created_by=row.text("CreatedByUser"),
        fixed_supplier=row.text("FixedSupplier"),
        desired_supplier=row.text("Supplier"),
        account_assignment_category=row.text("AccountAssignmentCategory"),
        account_assignments=[
            account_assignment_from_row(line)
            for line in row.nav(NAV_ACCOUNT_ASSIGNMENTS)
            if line.text("IsDeleted") != "X"  # a deleted accounting line charges nothing
        ],
    )


def requisition_from_sap(entity: object) -> PurchaseRequisition:
    row = Row(entity)
    items = [item_from_row(item) for item in row.nav(NAV_ITEMS)]
    totals: dict[str, Decimal] = {}
    for item in items:
        if (amount := item.net_amount) is not None:
            totals[amount.currency] = totals.get(amount.currency, Decimal("0")) + amount.value
    return PurchaseRequisition(
        requisition_id=row.text("PurchaseRequisition"),
        requisition_type=row.text("PurchaseRequisitionType"),
        description=row.text("PurReqnDescription"),
        items=items,
        total_net_amounts=[Amount(value, currency) for currency, value in sorted(totals.items())],
    )


class PurchaseRequisitionsGateway(Gateway):
    """Header with its items and their accounting lines in one call ($expand)."""

    def get(self, requisition_id: str) -> PurchaseRequisition:
        expand = [NAV_ITEMS, f"{NAV_ITEMS}/{NAV_ACCOUNT_ASSIGNMENTS}"]
        return requisition_from_sap(self._get(HEADERS, requisition_id, expand=expand))
