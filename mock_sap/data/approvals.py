"""Seeded purchase requisitions and the executives' workflow inbox (tasks, definitions, attributes)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from mock_sap.data.catalog import DEPUTY, EXECUTIVES, MATERIALS, PLANTS, USER_NAMES
from mock_sap.data.production import DAY_MS, _Writer
from mock_sap.edm import EntityType, ms_from_date

ORIGIN = "LOCAL"
PR_RELEASE = "TS00007986"
LEAVE_REQUEST = "TS12300097"
TRAVEL_REQUEST = "TS20000118"

TASK_DEFINITIONS = {
    PR_RELEASE: ("Release of Purchase Requisition", "PR"),
    LEAVE_REQUEST: ("Approve Leave Request", "HR"),
    TRAVEL_REQUEST: ("Approve Travel Request", "TRV"),
}
PRIORITIES = {"VERY_HIGH": 1, "HIGH": 3, "MEDIUM": 5, "LOW": 7}
OPEN_STATUSES = ("READY", "RESERVED", "IN_PROGRESS")
ESCALATION_DELAY_DAYS = 3

# Processing state of a requisition item (BANPR) as the mock uses it.
PR_AWAITING_RELEASE = "03"
PR_RELEASED = "05"
PR_REFUSED = "08"

SERVICE_ITEMS = (
    ("Laptop for new engineer", "IT-HW", "PC", 1_450_000),
    ("Safety shoes, size mix", "SAFETY", "PC", 89_000),
    ("Calibration service", "SERVICES", "H", 120_000),
    ("Forklift rental, monthly", "RENTAL", "PC", 2_300_000),
    ("Office chairs", "FURNITURE", "PC", 310_000),
    ("Lubricant drum 200 L", "MRO", "L", 7_500),
)
REQUESTERS = (("REQ_DAVID", "David Moreau"), ("PM_1010", "Petra Lange"), ("PM_1710", "Sam Rivera"))
LEAVE_PEOPLE = ("Jonas Weber", "Mia Schulz", "Lena Fischer", "Tom Becker", "Ava Martin", "Noah Klein")
TRAVEL_TRIPS = ("Customer visit Lyon", "Trade fair Hannover", "Supplier audit Shenzhen", "Plant visit Palo Alto")


# A task's workflow log as SAP's work item history words it; every event is complete when logged.
LOG_CREATED = "Work item created"
LOG_RESERVED = "Work item reserved by {name}"
LOG_RELEASED = "Reservation of work item cancelled by {name}"
LOG_FORWARDED = "Work item forwarded by {name} to {target}"
LOG_DECIDED = "Work item completed by {name} with decision '{text}'"
LOG_STATUS = "COMPLETED"


def log_entry(
    origin: str,
    instance: str,
    event_order: int,
    user: str,
    description: str,
    at_ms: int,
    result: str | None = None,
    result_type: str | None = None,
    name: str | None = None,
) -> dict[str, object]:
    """The values of one WorkflowLog row; `result`/`result_type` only for a decision."""
    return {
        "SAP__Origin": origin,
        "InstanceID": instance,
        "EventOrder": event_order,
        "ReferenceInstanceID": instance,
        "PerformedBy": user,
        "PerformedByName": name or user_name(user),
        "Status": LOG_STATUS,
        "Timestamp": at_ms,
        "Description": description,
        "SupportsNavigation": False,
        "Result": result,
        "ResultType": result_type,
        "CreationTimestamp": at_ms,
        "EndTimestamp": at_ms,
    }


def user_name(user: str) -> str:
    return USER_NAMES.get(user, user)


@dataclass
class ApprovalSeed:
    headers: list[tuple[object, ...]] = field(default_factory=list)
    items: list[tuple[object, ...]] = field(default_factory=list)
    tasks: list[tuple[object, ...]] = field(default_factory=list)
    definitions: list[tuple[object, ...]] = field(default_factory=list)
    attributes: list[tuple[object, ...]] = field(default_factory=list)
    descriptions: list[tuple[object, ...]] = field(default_factory=list)
    logs: list[tuple[object, ...]] = field(default_factory=list)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    comment_on_reject: set[str] = field(default_factory=set)
    task_requisition: dict[str, str] = field(default_factory=dict)


def generate_approvals(
    seed: int,
    reference: dt.date,
    header_type: EntityType,
    item_type: EntityType,
    task_type: EntityType,
    definition_type: EntityType,
    attribute_type: EntityType,
    description_type: EntityType,
    log_type: EntityType,
) -> ApprovalSeed:
    rng = random.Random(seed + 7)
    ref_ms = ms_from_date(reference)
    out = ApprovalSeed()
    hw, iw, tw = _Writer(header_type), _Writer(item_type), _Writer(task_type)
    dw, aw, sw = _Writer(definition_type), _Writer(attribute_type), _Writer(description_type)
    lw = _Writer(log_type)
    for definition_id, (name, category) in TASK_DEFINITIONS.items():
        out.definitions.append(
            dw.row(SAP__Origin=ORIGIN, TaskDefinitionID=definition_id, TaskName=name, Category=category)
        )

    pr_counter = 0
    task_counter = 0

    def new_requisition(released: bool) -> tuple[str, int, str, str]:
        nonlocal pr_counter
        pr_counter += 1
        number = f"{10000100 + pr_counter:010d}"
        plant = PLANTS[rng.randrange(len(PLANTS))]
        requester, requester_name = REQUESTERS[rng.randrange(len(REQUESTERS))]
        created = ref_ms - rng.randint(1, 20) * DAY_MS
        total = 0
        item_count = rng.randint(1, 4)
        out.headers.append(
            hw.row(
                PurchaseRequisition=number,
                PurchaseRequisitionType="NB",
                PurReqnDescription=f"Requisition {requester_name}",
                SourceDetermination=False,
            )
        )
        for n in range(item_count):
            if rng.random() < 0.5:
                material, text, unit = MATERIALS[rng.randrange(len(MATERIALS))]
                group, price = "L001", rng.choice((45_500, 120_000, 880_000, 1_250_000))
            else:
                text, group, unit, price = SERVICE_ITEMS[rng.randrange(len(SERVICE_ITEMS))]
                material = ""
            quantity = rng.choice((1, 2, 5, 10, 20)) * 1000
            amount = quantity * price // 1000
            total += amount
            out.items.append(
                iw.row(
                    PurchaseRequisition=number,
                    PurchaseRequisitionItem=f"{(n + 1) * 10:05d}",
                    PurReqnReleaseStatus=PR_RELEASED if released else PR_AWAITING_RELEASE,
                    PurchaseRequisitionType="NB",
                    PurchaseRequisitionItemText=text[:40],
                    AccountAssignmentCategory="" if material else "K",
                    Material=material,
                    MaterialGroup=group,
                    RequestedQuantity=quantity,
                    BaseUnit=unit,
                    PurchaseRequisitionPrice=price,
                    PurReqnPriceQuantity=1,
                    PurchaseRequisitionReleaseDate=created + DAY_MS if released else None,
                    PurchasingOrganization=plant.company_code,
                    PurchasingGroup="001",
                    Plant=plant.code,
                    CompanyCode=plant.company_code,
                    DeliveryDate=ref_ms + rng.randint(7, 45) * DAY_MS,
                    CreationDate=created,
                    ProcessingStatus="N",
                    Supplier=f"{17300001 + rng.randrange(8):010d}" if rng.random() < 0.5 else "",
                    RequisitionerName=requester_name[:12],
                    CreatedByUser=requester,
                    PurReqCreationDate=created,
                    PurReqnItemCurrency=plant.currency,
                    IsClosed=False,
                    ReleaseIsNotCompleted=not released,
                    ReleaseStrategy="S1",
                    ItemNetAmount=amount,
                    LastChangeDateTime=created + 3_600_000,
                )
            )
        return number, total, plant.currency, requester_name

    def new_task(
        definition: str, title: str, owners: tuple[str, ...], description: str, created_by: tuple[str, str]
    ) -> str:
        nonlocal task_counter
        task_counter += 1
        instance = f"{1129100 + task_counter:012d}"
        priority = rng.choice(("VERY_HIGH", "HIGH", "HIGH", "MEDIUM", "MEDIUM", "MEDIUM", "LOW"))
        status = rng.choice(("READY", "READY", "READY", "READY", "RESERVED", "IN_PROGRESS"))
        processor = owners[0] if status != "READY" and len(owners) == 1 else ""
        if not processor:
            status = "READY"
        created = ref_ms - rng.randint(0, 14) * DAY_MS - rng.randint(0, 86_399) * 1000
        out.tasks.append(
            tw.row(
                SAP__Origin=ORIGIN,
                InstanceID=instance,
                TaskDefinitionID=definition,
                TaskDefinitionName=TASK_DEFINITIONS[definition][0],
                Status=status,
                TaskTitle=title,
                HasComments=False,
                HasAttachments=definition == TRAVEL_REQUEST,
                HasPotentialOwners=True,
                SupportsClaim=True,
                SupportsRelease=True,
                SupportsForward=True,
                SupportsComments=True,
                SupportsAttachments=False,
                CreatedOn=created,
                CreatedBy=created_by[0],
                CreatedByName=created_by[1],
                Processor=processor,
                CompletionDeadLine=created + 7 * DAY_MS,
                # Derived, not drawn (the seed's sequence stays put): SAP's deadline monitoring escalates a
                # task some time after its deadline passed; here, three days after.
                IsEscalated=created + 7 * DAY_MS < ref_ms - ESCALATION_DELAY_DAYS * DAY_MS,
                SubstitutedUserName="",
                Priority=priority,
                PriorityNumber=PRIORITIES[priority],
                GUI_Link="",
            )
        )
        out.descriptions.append(sw.row(SAP__Origin=ORIGIN, InstanceID=instance, Description=description))
        # No random draws here: the log must not shift the seed's sequence for the data after it.
        # The creator's name as the task shows it (CreatedByName), so both views of the task agree.
        creation = log_entry(ORIGIN, instance, 1, created_by[0], LOG_CREATED, created, name=created_by[1])
        out.logs.append(lw.row(**creation))
        if processor:
            reserved = created + (ref_ms - created) // 2
            name = user_name(processor)
            out.logs.append(
                lw.row(**log_entry(ORIGIN, instance, 2, processor, LOG_RESERVED.format(name=name), reserved))
            )
        out.owners[instance] = owners
        return instance

    def pr_task(owners: tuple[str, ...]) -> None:
        number, total, currency, requester = new_requisition(released=False)
        amount = f"{total // 1000:,}.{(total % 1000) // 10:02d}"
        instance = new_task(
            PR_RELEASE,
            f"Purchase Requisition {number.lstrip('0')} ({amount} {currency})",
            owners,
            f"Please release purchase requisition {number} requested by {requester}.",
            (REQUESTERS[0][0], requester),
        )
        out.task_requisition[instance] = number
        for name, value in (
            ("PurchaseRequisition", number),
            ("TotalNetAmount", f"{total // 1000}.{total % 1000:03d}"),
            ("Currency", currency),
            ("Requisitioner", requester),
        ):
            out.attributes.append(aw.row(SAP__Origin=ORIGIN, InstanceID=instance, Name=name, Value=value))
        if total >= 5_000_000 or rng.random() < 0.3:
            out.comment_on_reject.add(instance)

    for executive in EXECUTIVES:
        for _ in range(10):
            pr_task((executive,))
        for _ in range(2):
            person = LEAVE_PEOPLE[rng.randrange(len(LEAVE_PEOPLE))]
            days = rng.randint(1, 10)
            instance = new_task(
                LEAVE_REQUEST,
                f"Leave request of {person}: {days} day(s)",
                (executive,),
                f"{person} requests {days} day(s) of annual leave.",
                ("REQ_DAVID", person),
            )
            out.comment_on_reject.add(instance)
        for _ in range(2):
            trip = TRAVEL_TRIPS[rng.randrange(len(TRAVEL_TRIPS))]
            new_task(
                TRAVEL_REQUEST,
                f"Travel request: {trip}",
                (executive,),
                f"Approve the travel request '{trip}'.",
                ("REQ_DAVID", "David Moreau"),
            )
    # Tasks that two executives may both process: whoever decides first wins (a co-approver conflict).
    # The deputy shares one task with each executive, so the executives' own inboxes stay disjoint.
    for executive in EXECUTIVES:
        pr_task((executive, DEPUTY))
    # Requisitions already released earlier (no open task): history for the PR lists.
    for _ in range(10):
        new_requisition(released=True)
    return out
