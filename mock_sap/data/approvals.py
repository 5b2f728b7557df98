"""Seeded purchase requisitions and the executives' workflow inbox (tasks, definitions, attributes)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from mock_sap.data.catalog import DEPUTY, EXECUTIVES, MATERIALS, PLANTS, USER_NAMES, Plant
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

# What a text item is charged to (AccountAssignmentCategory): services to a project (P, a WBS element), other
# consumables to the requester's cost centre (K); stock materials carry none. G/L account by material group.
PROJECT_GROUPS = ("SERVICES",)
GL_ACCOUNTS = {
    "IT-HW": "0061008000",
    "SAFETY": "0061002000",
    "SERVICES": "0063003000",
    "RENTAL": "0063004000",
    "FURNITURE": "0061001000",
    "MRO": "0061003000",
}
CONTROLLING_AREA = "A000"
# Business object types of the objects attached to tasks (TaskObjects).
PR_OBJECT_TYPE = "BUS2105"  # purchase requisition
TRIP_OBJECT_TYPE = "BUS2089"  # employee trip


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
    account_assignments: list[tuple[object, ...]] = field(default_factory=list)
    task_objects: list[tuple[object, ...]] = field(default_factory=list)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Tasks that users receive as substitutes of the task's first owner.
    substitutes: dict[str, tuple[str, ...]] = field(default_factory=dict)
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
    account_assignment_type: EntityType,
    task_object_type: EntityType,
) -> ApprovalSeed:
    rng = random.Random(seed + 7)
    ref_ms = ms_from_date(reference)
    out = ApprovalSeed()
    hw, iw, tw = _Writer(header_type), _Writer(item_type), _Writer(task_type)
    dw, aw, sw = _Writer(definition_type), _Writer(attribute_type), _Writer(description_type)
    lw = _Writer(log_type)
    cw, ow = _Writer(account_assignment_type), _Writer(task_object_type)
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
        requester_index = rng.randrange(len(REQUESTERS))
        requester, requester_name = REQUESTERS[requester_index]
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
            item = f"{(n + 1) * 10:05d}"
            # Derived, not drawn: the seed's sequence for the data after it stays put.
            category = "" if material else "P" if group in PROJECT_GROUPS else "K"
            if category:
                charge(number, item, category, plant, requester_index, group, unit, quantity, amount)
            out.items.append(
                iw.row(
                    PurchaseRequisition=number,
                    PurchaseRequisitionItem=item,
                    PurReqnReleaseStatus=PR_RELEASED if released else PR_AWAITING_RELEASE,
                    PurchaseRequisitionType="NB",
                    PurchaseRequisitionItemText=text[:40],
                    AccountAssignmentCategory=category,
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
                    # A stock material comes from its source of supply (an info record's supplier).
                    FixedSupplier=f"{17300001 + (pr_counter + n) % 8:010d}" if material else "",
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

    def charge(
        number: str,
        item: str,
        category: str,
        plant: Plant,
        requester_index: int,
        group: str,
        unit: str,
        quantity: int,
        amount: int,
    ) -> None:
        """The item's accounting lines: a large cost-centre item is split 60/40 over two cost centres."""
        shares = (600, 400) if category == "K" and quantity >= 10_000 else (1000,)
        for line, share in enumerate(shares, start=1):
            centre = f"{plant.code}{1101 + (requester_index + line - 1) % len(REQUESTERS)}"
            out.account_assignments.append(
                cw.row(
                    PurchaseRequisition=number,
                    PurchaseRequisitionItem=item,
                    PurchaseReqnAcctAssgmtNumber=f"{line:02d}",
                    CostCenter=centre if category == "K" else "",
                    WBSElement=f"PRJ-{plant.code}-SVC-01" if category == "P" else "",
                    GLAccount=GL_ACCOUNTS.get(group, "0061000000"),
                    BaseUnit=unit,
                    Quantity=quantity * share // 1000,
                    # Decimal(3,1) as tenths: 600 is 60.0 %; a single line is not distributed (0).
                    MultipleAcctAssgmtDistrPercent=share if len(shares) > 1 else 0,
                    PurReqnItemCurrency=plant.currency,
                    PurReqnNetAmount=amount * share // 1000,
                    IsDeleted="",
                    ControllingArea=CONTROLLING_AREA,
                    ProfitCenter=f"YB{plant.code}",
                )
            )

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

    def pr_task(owners: tuple[str, ...]) -> str:
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
        out.task_objects.append(
            ow.row(
                SAP__Origin=ORIGIN,
                InstanceID=instance,
                ObjectID=number,
                Type=PR_OBJECT_TYPE,
                Label=f"Purchase Requisition {number.lstrip('0')}",
            )
        )
        if total >= 5_000_000 or rng.random() < 0.3:
            out.comment_on_reject.add(instance)
        return instance

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
            instance = new_task(
                TRAVEL_REQUEST,
                f"Travel request: {trip}",
                (executive,),
                f"Approve the travel request '{trip}'.",
                ("REQ_DAVID", "David Moreau"),
            )
            trip_number = f"{4711000 + task_counter:010d}"
            out.task_objects.append(
                ow.row(SAP__Origin=ORIGIN, InstanceID=instance, ObjectID=trip_number, Type=TRIP_OBJECT_TYPE, Label=trip)
            )
    # Tasks that two executives may both process: whoever decides first wins (a co-approver conflict).
    # The deputy shares one task with each executive, so the executives' own inboxes stay disjoint.
    # The deputy receives them as the executive's substitute (SubstitutedUserName in the deputy's inbox).
    for executive in EXECUTIVES:
        out.substitutes[pr_task((executive, DEPUTY))] = (DEPUTY,)
    # Requisitions already released earlier (no open task): history for the PR lists.
    for _ in range(10):
        new_requisition(released=True)
    return out
