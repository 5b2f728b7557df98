"""SAP entity <-> canonical dataclass mapping and $filter building, without HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from odata_clients.gateways.base import Row, function_messages
from odata_clients.gateways.confirmations import confirmation_from_sap, confirmation_to_sap, proposal_from_sap
from odata_clients.gateways.operations import operation_filter, operation_from_row
from odata_clients.gateways.production_orders import (
    order_by_clause,
    order_filter,
    order_from_sap,
    reschedule_to_sap,
)
from odata_clients.gateways.purchase_requisitions import requisition_from_sap
from odata_clients.gateways.tasks import task_from_sap
from odata_clients.models import ConfirmationRequest, Quantity, to_dict

ORDER = {
    "__metadata": {"etag": "W/\"'20240131140500'\"", "type": "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"},
    "ManufacturingOrder": "1000001",
    "ManufacturingOrderType": "PP01",
    "Material": "FG-100",
    "ProductionPlant": "1010",
    "Plant": "1010",
    "MRPController": "001",
    "ProductionSupervisor": "S01",
    "TotalQuantity": "100.000",
    "MfgOrderPlannedScrapQty": "2.500",
    "MfgOrderConfirmedYieldQty": "0.000",
    "ProductionUnit": "PC",
    "MfgOrderPlannedStartDate": "/Date(1706659200000)/",
    "MfgOrderPlannedStartTime": "PT08H00M00S",
    "MfgOrderPlannedEndDate": "/Date(1706832000000)/",
    "MfgOrderPlannedEndTime": "PT16H30M00S",
    "MfgOrderScheduledStartDate": None,
    "MfgOrderScheduledEndDate": None,
    "OrderIsCreated": "X",
    "OrderIsReleased": "",
    "OrderIsLocked": "",
    "LastChangeDateTime": "20240131140500",
    "to_ProductionOrderOperation": {
        "results": [
            {
                "OrderInternalBillOfOperations": "0000001234",
                "OrderIntBillOfOperationsItem": "00000001",
                "ManufacturingOrder": "1000001",
                "ManufacturingOrderOperation": "0010",
                "ManufacturingOrderSequence": "0",
                "MfgOrderOperationText": "Assemble",
                "WorkCenter": "ASSY1",
                "ProductionPlant": "1010",
                "OpPlannedTotalQuantity": "100.000",
                "OpTotalConfirmedYieldQty": "40.000",
                "OperationUnit": "PC",
                "OpErlstSchedldExecStrtDte": "/Date(1706659200000)/",
                "OpErlstSchedldExecEndDte": "/Date(1706745600000)/",
                "OperationIsReleased": "X",
                "OperationIsConfirmed": "",
                "OperationIsPartiallyConfirmed": "X",
            }
        ]
    },
    "to_ProductionOrderStatus": {
        "results": [{"StatusCode": "I0001", "StatusShortName": "CRTD", "StatusName": "Created", "IsUserStatus": False}]
    },
}


def test_order_from_sap_uses_canonical_names_and_types() -> None:
    order = order_from_sap(ORDER)
    assert order.order_id == "1000001"
    assert order.plant == "1010"
    assert order.planned_quantity == Quantity(Decimal("100.000"), "PC")
    assert order.planned_scrap == Quantity(Decimal("2.500"), "PC")
    assert order.planned_start == "2024-01-31"
    assert order.planned_start_time == "08:00:00"
    assert order.planned_end == "2024-02-02"
    assert order.scheduled_start is None
    assert order.is_created is True and order.is_released is False
    assert order.last_changed == "2024-01-31T14:05:00Z"
    assert order.etag == "W/\"'20240131140500'\""
    [operation] = order.operations
    assert operation.work_center == "ASSY1"
    assert operation.quantity_to_go == Quantity(Decimal("60.000"), "PC")
    assert operation.is_partially_confirmed
    assert order.statuses[0].short_name == "CRTD"
    data = to_dict(order)
    assert data["planned_quantity"] == {"value": "100.000", "unit": "PC"}
    assert "etag" in data
    json.dumps(data)  # JSON-ready: no Decimal, no datetime
    assert "float" not in json.dumps(data)


def test_order_filter_pushes_plants_and_escapes_literals() -> None:
    clause = order_filter(
        ["1010", "1020"],
        status="released",
        material="O'NEIL-1",
        start_from="2024-01-01",
        start_to="2024-01-31",
        changed_since="2024-01-15T10:00:00Z",
    )
    assert clause == (
        "(ProductionPlant eq '1010' or ProductionPlant eq '1020') and OrderIsReleased eq 'X'"
        " and Material eq 'O''NEIL-1'"
        " and MfgOrderPlannedStartDate ge datetime'2024-01-01T00:00:00'"
        " and MfgOrderPlannedStartDate le datetime'2024-01-31T00:00:00'"
        " and LastChangeDateTime ge '20240115100000'"
    )
    with pytest.raises(ValueError):
        order_filter([])
    with pytest.raises(ValueError):
        order_filter(["1010"], status="bogus")


def test_sorting_and_reschedule_payload() -> None:
    assert order_by_clause(["-planned_start", "order_id"]) == "MfgOrderPlannedStartDate desc,ManufacturingOrder asc"
    with pytest.raises(ValueError):
        order_by_clause(["TotalQuantity"])
    changes = reschedule_to_sap(planned_start="2024-03-01", planned_start_time="07:30:00")
    assert changes["MfgOrderPlannedStartTime"] == "PT07H30M00S"
    assert (
        order_from_sap(
            {"MfgOrderPlannedStartDate": changes["MfgOrderPlannedStartDate"], "TotalQuantity": "1.000"}
        ).planned_start
        == "2024-03-01"
    )
    with pytest.raises(ValueError):
        reschedule_to_sap()


def test_operation_filter() -> None:
    assert operation_filter(["WC1", "WC'2"]) == (
        "(WorkCenter eq 'WC1' or WorkCenter eq 'WC''2') and OperationIsReleased eq 'X' and OperationIsConfirmed eq ''"
    )
    with pytest.raises(ValueError):
        operation_filter([])


def test_operation_never_goes_negative_to_go() -> None:
    row = Row({"OpPlannedTotalQuantity": "10.000", "OpTotalConfirmedYieldQty": "12.000", "OperationUnit": "KG"})
    op = operation_from_row(row)
    assert op.quantity_to_go == Quantity(Decimal("0"), "KG")


def test_confirmation_round_trip() -> None:
    request = ConfirmationRequest(
        order_id="1000001",
        operation="0010",
        yield_quantity=Quantity(Decimal("12.5"), "PC"),
        scrap_quantity=Quantity(Decimal("0.5"), "PC"),
        external_id="0F8FAD5B-D9CB-469F-A165-70867728950E",
        is_final=True,
        posting_date="2024-01-31",
        execution_start="2024-01-31T08:00:00Z",
        text="shift A",
    )
    body = confirmation_to_sap(request)
    assert body["ConfirmationYieldQuantity"] == "12.500"
    assert body["ConfirmationScrapQuantity"] == "0.500"
    assert body["ExternalSystemConfirmation"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert body["IsFinalConfirmation"] is True
    assert body["ConfirmedExecutionStartTime"] == "PT08H00M00S"
    assert not any(isinstance(v, float) for v in body.values())
    # what SAP sends back for it, in wire form
    answer = {
        **{k: v for k, v in body.items() if not k.endswith("Date")},
        "PostingDate": "/Date(1706659200000)/",
        "ConfirmationGroup": "0000004711",
        "ConfirmationCount": "00000001",
        "IsReversed": False,
        "IsReversal": False,
    }
    confirmation = confirmation_from_sap(answer)
    assert confirmation.yield_quantity == request.yield_quantity
    assert confirmation.scrap_quantity == request.scrap_quantity
    assert confirmation.external_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert confirmation.posting_date == request.posting_date
    assert confirmation.is_final


def test_confirmation_rejects_mixed_units() -> None:
    with pytest.raises(ValueError, match="unit"):
        confirmation_to_sap(
            ConfirmationRequest(
                order_id="1",
                operation="0010",
                yield_quantity=Quantity(Decimal("1"), "PC"),
                scrap_quantity=Quantity(Decimal("1"), "KG"),
                external_id="0f8fad5b-d9cb-469f-a165-70867728950e",
            )
        )


def test_proposal_unwraps_function_name() -> None:
    proposal = proposal_from_sap(
        {
            "GetConfProposal": {
                "OrderID": "1000001",
                "OrderOperation": "0010",
                "ConfirmationYieldQuantity": "60.000",
                "ConfirmationUnit": "PC",
                "OpConfirmedWorkQuantity1": "1.500",
                "OpWorkQuantityUnit1": "H",
                "OpConfirmedWorkQuantity2": "0.000",
                "OpWorkQuantityUnit2": "",
                "ConfirmedExecutionStartDate": "/Date(1706659200000)/",
                "ConfirmedExecutionStartTime": "PT08H00M00S",
            }
        }
    )
    assert proposal.yield_quantity == Quantity(Decimal("60.000"), "PC")
    assert proposal.work_quantities == [Quantity(Decimal("1.500"), "H")]
    assert proposal.execution_start == "2024-01-31T08:00:00Z"


def test_task_and_requisition_mapping() -> None:
    task = task_from_sap(
        {
            "SAP__Origin": "LOCAL",
            "InstanceID": "000001129172",
            "TaskTitle": "Approve PR 10000001",
            "Priority": "HIGH",
            "Status": "READY",
            "CreatedOn": "/Date(1706659200000)/",
            "SupportsClaim": True,
            "SupportsForward": False,
        }
    )
    assert (task.origin, task.task_id, task.priority) == ("LOCAL", "000001129172", "HIGH")
    assert task.created_on == "2024-01-31T00:00:00Z"
    assert task.supports_claim and not task.supports_forward
    requisition = requisition_from_sap(
        {
            "PurchaseRequisition": "10000001",
            "to_PurchaseReqnItem": {
                "results": [
                    {
                        "PurchaseRequisition": "10000001",
                        "PurchaseRequisitionItem": "00010",
                        "RequestedQuantity": "5.000",
                        "BaseUnit": "EA",
                        "PurchaseRequisitionPrice": "19.990",
                        "ItemNetAmount": "99.950",
                        "PurReqnItemCurrency": "EUR",
                        "ReleaseIsNotCompleted": True,
                    },
                    {"PurchaseRequisitionItem": "00020", "ItemNetAmount": "0.050", "PurReqnItemCurrency": "EUR"},
                ]
            },
        }
    )
    assert requisition.items[0].quantity == Quantity(Decimal("5.000"), "EA")
    assert requisition.items[0].is_release_pending
    assert [to_dict(a) for a in requisition.total_net_amounts] == [{"value": "100.000", "currency": "EUR"}]


def test_function_messages() -> None:
    result = {
        "ReleaseOrder": {
            "SystemMessageType": "S",
            "SystemMessageIdentification": "CO",
            "SystemMessageNumber": "093",
            "SystemMessageLongText": "Order 1000001 released",
        }
    }
    [message] = function_messages(result, "ReleaseOrder")
    assert (message.type, message.code, message.text) == ("S", "CO/093", "Order 1000001 released")
    assert function_messages(None, "ReleaseOrder") == []
