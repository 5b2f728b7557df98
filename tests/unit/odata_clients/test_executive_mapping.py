"""What the executive's gateways read from SAP's JSON: task objects, substitutes, the decision, overdue, the
search filter, and a requisition item's suppliers and accounting lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from odata_clients.gateways.purchase_requisitions import requisition_from_sap
from odata_clients.gateways.tasks import is_overdue, search_clause, task_from_sap
from odata_clients.models import Amount, TaskDecision, TaskObject

TASK = {
    "SAP__Origin": "LOCAL",
    "InstanceID": "000001129172",
    "Status": "READY",
    "CreatedByName": "David Moreau ",
    "SubstitutedUserName": "Anna Keller",
    "CompletionDeadLine": "/Date(1706659200000)/",  # 2024-01-31T00:00:00Z
}


def test_details_are_read_when_expanded_and_absent_from_a_list_row() -> None:
    row = task_from_sap(
        {
            **TASK,
            "TaskObjects": {"results": [{"ObjectID": "0010000101", "Type": "BUS2105", "Label": "PR 10000101"}]},
            "WorkflowLogs": {
                "results": [
                    {"EventOrder": 1, "PerformedBy": "REQ_DAVID", "Result": None, "ResultType": None},
                    {
                        "EventOrder": 2,
                        "PerformedBy": "EXEC_ANNA",
                        "Result": "Reject",
                        "ResultType": "NEGATIVE",
                        "Timestamp": "/Date(1706662800000)/",
                    },
                ]
            },
        }
    )
    assert (row.created_by_name, row.substituted_user) == ("David Moreau", "Anna Keller")
    assert row.objects == [TaskObject("0010000101", "BUS2105", "PR 10000101")]
    assert row.decision == TaskDecision("EXEC_ANNA", "Reject", "NEGATIVE", "2024-01-31T01:00:00Z")
    deferred = {"__deferred": {"uri": "https://sap/TaskCollection(...)/TaskObjects"}}
    listed = task_from_sap({**TASK, "TaskObjects": deferred, "WorkflowLogs": deferred, "SubstitutedUserName": ""})
    assert (listed.objects, listed.decision, listed.substituted_user) == ([], None, "")


def test_overdue_only_while_open_and_past_the_deadline() -> None:
    task = task_from_sap(TASK)
    deadline = dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
    assert is_overdue(task, deadline + dt.timedelta(seconds=1))
    assert not is_overdue(task, deadline)
    assert not is_overdue(task_from_sap({**TASK, "Status": "COMPLETED"}), deadline + dt.timedelta(days=1))
    assert not is_overdue(task_from_sap({**TASK, "CompletionDeadLine": None}), deadline + dt.timedelta(days=1))


def test_search_text_becomes_quoted_substringof_literals() -> None:
    assert search_clause("Moreau") == "(substringof('Moreau',TaskTitle) or substringof('Moreau',CreatedByName))"
    assert search_clause("O'Brien") == "(substringof('O''Brien',TaskTitle) or substringof('O''Brien',CreatedByName))"


def test_requisition_item_suppliers_requester_and_accounting_lines() -> None:
    requisition = requisition_from_sap(
        {
            "PurchaseRequisition": "10000001",
            "to_PurchaseReqnItem": {
                "results": [
                    {
                        "PurchaseRequisitionItem": "00010",
                        "CreatedByUser": "REQ_DAVID",
                        "FixedSupplier": "17300002",
                        "Supplier": "17300001",
                        "AccountAssignmentCategory": "K",
                        "PurReqnItemCurrency": "EUR",
                        "to_PurchaseReqnAcctAssgmt": {
                            "results": [
                                {
                                    "PurchaseReqnAcctAssgmtNumber": "01",
                                    "CostCenter": "10101101",
                                    "GLAccount": "0061008000",
                                    "MultipleAcctAssgmtDistrPercent": "60.0",
                                    "PurReqnNetAmount": "60.000",
                                    "PurReqnItemCurrency": "EUR",
                                },
                                {"PurchaseReqnAcctAssgmtNumber": "02", "CostCenter": "10101102", "IsDeleted": "X"},
                            ]
                        },
                    },
                    {"PurchaseRequisitionItem": "00020", "to_PurchaseReqnAcctAssgmt": {"results": []}},
                ]
            },
        }
    )
    first, second = requisition.items
    assert (first.created_by, first.fixed_supplier, first.desired_supplier) == ("REQ_DAVID", "17300002", "17300001")
    assert first.account_assignment_category == "K"
    [line] = first.account_assignments  # the deleted line charges nothing
    assert (line.number, line.cost_center, line.gl_account, line.wbs_element) == ("01", "10101101", "0061008000", "")
    assert line.share_percent == Decimal("60.0") and line.net_amount == Amount(Decimal("60.000"), "EUR")
    assert second.account_assignments == [] and second.fixed_supplier == ""
