"""`POST /mock-admin/tasks`: a new requisition-release task in a user's inbox, with its requisition, as seeded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from mock_sap.data.approvals import (
    LOG_CREATED,
    ORIGIN,
    PR_AWAITING_RELEASE,
    PR_OBJECT_TYPE,
    PR_RELEASE,
    PRIORITIES,
    TASK_DEFINITIONS,
    log_entry,
    user_name,
)
from mock_sap.data.catalog import PLANT_BY_CODE
from mock_sap.data.production import DAY_MS
from mock_sap.events import PURCHASE_REQUISITION_CREATED
from mock_sap.services.base import Context
from mock_sap.services.purchase_requisition import PurchaseRequisitionService
from mock_sap.services.purchase_requisition_model import ACCOUNT_ASSIGNMENT, HEADER, ITEM
from mock_sap.services.taskprocessing import TASK_META, TaskProcessingService
from mock_sap.services.taskprocessing_model import ATTRIBUTES, DESCRIPTIONS, TASK_OBJECTS, TASKS, WORKFLOW_LOGS

FIELDS = {"user", "title", "plant", "item_text", "quantity", "price", "requester", "priority", "comment_on_reject"}
DEFAULT_REQUESTER = "REQ_DAVID"
GL_ACCOUNT = "0061000000"  # consumables; the seed's default G/L account


def _scaled(value: object, name: str) -> int:
    """A positive decimal (JSON number or string) as the store keeps Edm.Decimal(…, 3): thousandths."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number") from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{name} must be positive")
    return int(number * 1000)


def _amount(scaled: int) -> str:
    return f"{scaled // 1000:,}.{(scaled % 1000) // 10:02d}"


def _next_number(keys: Iterable[object], width: int, first: int) -> str:
    """One above the highest numeric key in use (a reset forgets the new ones, so numbers restart then)."""
    numbers = [int(key) for key in keys if isinstance(key, str) and key.isdigit()]
    return f"{max(numbers, default=first) + 1:0{width}d}"


def create_task(
    body: object, inbox: TaskProcessingService, requisitions: PurchaseRequisitionService, now: dt.datetime
) -> dict[str, object]:
    """Create the requisition and the task in one transaction; the PR's Created event follows its commit."""
    if not isinstance(body, dict):
        raise ValueError("the body is a JSON object")
    unknown = set(body) - FIELDS
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    user = str(body.get("user") or "").upper()
    requester = str(body.get("requester") or DEFAULT_REQUESTER).upper()
    for name, value in (("user", user), ("requester", requester)):
        if value not in inbox.known_users:
            raise ValueError(f"{name} {value or '(empty)'} is not a user of this system")
    plant = PLANT_BY_CODE.get(str(body.get("plant") or "1010"))
    if plant is None:
        raise ValueError(f"plant must be one of {sorted(PLANT_BY_CODE)}")
    priority = str(body.get("priority") or "MEDIUM").upper()
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {sorted(PRIORITIES)}")
    quantity = _scaled(body.get("quantity", 1), "quantity")
    price = _scaled(body.get("price", "1250.00"), "price")
    item_text = str(body.get("item_text") or "Laptop for new engineer")[:40]
    total = quantity * price // 1000
    ctx = Context(user=requester, now=now)
    requester_name = user_name(requester)

    with inbox.store.transaction():
        number = _next_number((key[0] for key in requisitions.tables[HEADER].keys), 10, 10000100)
        default_title = f"Purchase Requisition {number.lstrip('0')} ({_amount(total)} {plant.currency})"
        title = str(body.get("title") or default_title)
        requisitions.insert_row(
            HEADER,
            {
                "PurchaseRequisition": number,
                "PurchaseRequisitionType": "NB",
                "PurReqnDescription": f"Requisition {requester_name}"[:40],
                "SourceDetermination": False,
            },
        )
        requisitions.insert_row(
            ITEM,
            {
                "PurchaseRequisition": number,
                "PurchaseRequisitionItem": "00010",
                "PurReqnReleaseStatus": PR_AWAITING_RELEASE,
                "PurchaseRequisitionType": "NB",
                "PurchaseRequisitionItemText": item_text,
                "AccountAssignmentCategory": "K",  # a consumable charged to the requester's cost centre
                "Material": "",
                "MaterialGroup": "IT-HW",
                "RequestedQuantity": quantity,
                "BaseUnit": "PC",
                "PurchaseRequisitionPrice": price,
                "PurReqnPriceQuantity": 1,
                "PurchasingOrganization": plant.company_code,
                "PurchasingGroup": "001",
                "Plant": plant.code,
                "CompanyCode": plant.company_code,
                "DeliveryDate": ctx.today_ms + 14 * DAY_MS,
                "CreationDate": ctx.today_ms,
                "ProcessingStatus": "N",
                "RequisitionerName": requester_name[:12],
                "CreatedByUser": requester,
                "PurReqCreationDate": ctx.today_ms,
                "PurReqnItemCurrency": plant.currency,
                "IsClosed": False,
                "ReleaseIsNotCompleted": True,
                "ReleaseStrategy": "S1",
                "ItemNetAmount": total,
                "LastChangeDateTime": int(now.timestamp() * 1000),
            },
        )
        requisitions.insert_row(
            ACCOUNT_ASSIGNMENT,
            {
                "PurchaseRequisition": number,
                "PurchaseRequisitionItem": "00010",
                "PurchaseReqnAcctAssgmtNumber": "01",
                "CostCenter": f"{plant.code}1101",
                "GLAccount": GL_ACCOUNT,
                "BaseUnit": "PC",
                "Quantity": quantity,
                "MultipleAcctAssgmtDistrPercent": 0,
                "PurReqnItemCurrency": plant.currency,
                "PurReqnNetAmount": total,
                "IsDeleted": "",
                "ControllingArea": "A000",
                "ProfitCenter": f"YB{plant.code}",
            },
        )
        requisitions.emit(PURCHASE_REQUISITION_CREATED, {"PurchaseRequisition": number})
        instance = _next_number((key[1] for key in inbox.tables[TASKS].keys), 12, 1129100)
        _insert_task(inbox, instance, title, number, (requester, requester_name), priority, ctx)
        for name, value in (
            ("PurchaseRequisition", number),
            ("TotalNetAmount", f"{total // 1000}.{total % 1000:03d}"),
            ("Currency", plant.currency),
            ("Requisitioner", requester_name),
        ):
            inbox.insert_row(ATTRIBUTES, {"SAP__Origin": ORIGIN, "InstanceID": instance, "Name": name, "Value": value})
        inbox.insert_row(
            TASK_OBJECTS,
            {
                "SAP__Origin": ORIGIN,
                "InstanceID": instance,
                "ObjectID": number,
                "Type": PR_OBJECT_TYPE,
                "Label": f"Purchase Requisition {number.lstrip('0')}",
            },
        )
        inbox.insert_row(
            TASK_META,
            {
                "InstanceID": instance,
                "Owners": (user,),
                "CommentOnReject": bool(body.get("comment_on_reject", False)),
                "PurchaseRequisition": number,
                "Substitutes": (),
            },
        )
    return {"SAP__Origin": ORIGIN, "InstanceID": instance, "PurchaseRequisition": number, "TaskTitle": title}


def _insert_task(
    inbox: TaskProcessingService,
    instance: str,
    title: str,
    requisition: str,
    created_by: tuple[str, str],
    priority: str,
    ctx: Context,
) -> None:
    created = int(ctx.now.timestamp() * 1000)
    inbox.insert_row(
        TASKS,
        {
            "SAP__Origin": ORIGIN,
            "InstanceID": instance,
            "TaskDefinitionID": PR_RELEASE,
            "TaskDefinitionName": TASK_DEFINITIONS[PR_RELEASE][0],
            "Status": "READY",
            "TaskTitle": title,
            "HasComments": False,
            "HasAttachments": False,
            "HasPotentialOwners": True,
            "SupportsClaim": True,
            "SupportsRelease": True,
            "SupportsForward": True,
            "SupportsComments": True,
            "SupportsAttachments": False,
            "CreatedOn": created,
            "CreatedBy": created_by[0],
            "CreatedByName": created_by[1],
            "Processor": "",
            "CompletionDeadLine": created + 7 * DAY_MS,
            "IsEscalated": False,
            "SubstitutedUserName": "",
            "Priority": priority,
            "PriorityNumber": PRIORITIES[priority],
            "GUI_Link": "",
        },
    )
    inbox.insert_row(
        DESCRIPTIONS,
        {
            "SAP__Origin": ORIGIN,
            "InstanceID": instance,
            "Description": f"Please release purchase requisition {requisition} requested by {created_by[1]}.",
        },
    )
    creation = log_entry(ORIGIN, instance, 1, created_by[0], LOG_CREATED, created, name=created_by[1])
    inbox.insert_row(WORKFLOW_LOGS, creation)
