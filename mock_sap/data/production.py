"""Seeded production orders, operations and confirmations, dated relative to the reference date."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from mock_sap.data.catalog import MATERIALS, OPERATION_TEXTS, PLANTS, UNITS
from mock_sap.edm import EntityType, ms_from_date

DAY_MS = 86_400_000
# Reasons for variance (SAP Customizing OPK5, table TRUG/TRUGT), the same in every plant of the mock. SAP
# publishes no OData API for them; a confirmation's VarianceReasonCode must be one of them.
VARIANCE_REASONS = {
    "0001": "Machine malfunction",
    "0002": "Material defect",
    "0003": "Operating error",
    "0004": "Setup scrap",
}
FIRST_ORDER = 1_000_000

# Order life-cycle states and their share of the seed.
CREATED, PARTIALLY_RELEASED, RELEASED, PARTIALLY_CONFIRMED, CONFIRMED, TECO = range(6)
STATE_WEIGHTS = (
    (CREATED, 30),
    (PARTIALLY_RELEASED, 0),
    (RELEASED, 30),
    (PARTIALLY_CONFIRMED, 20),
    (CONFIRMED, 10),
    (TECO, 10),
)


# Components an order consumes: material, BOM item text, base unit, quantity per piece of the order (x1000).
COMPONENT_MATERIALS = (
    ("RM-STEEL-02", "Steel sheet 2 mm", "KG", 1500),
    ("RM-BOLT-M8", "Hex bolt M8x30", "PC", 8000),
    ("RM-BEARING-62", "Ball bearing 6204", "PC", 2000),
    ("RM-GASKET-40", "Gasket DN40", "PC", 1000),
    ("RM-CABLE-15", "Cable 1.5 mm2", "M", 3000),
    ("RM-PAINT-07", "Powder paint RAL 7035", "KG", 250),
    ("RM-PCB-100", "Controller board", "PC", 1000),
    ("SG-SHAFT-40", "Drive shaft, milled", "PC", 1000),
)
# Of the components still to be issued, the share whose availability check confirmed less than is needed.
MISSING_SHARE = 0.05


@dataclass
class ProductionSeed:
    orders: list[tuple[object, ...]]
    operations: list[tuple[object, ...]]
    confirmations: list[tuple[object, ...]]
    components: list[tuple[object, ...]] = field(default_factory=list)


def order_number(i: int) -> str:
    return str(FIRST_ORDER + i)


def confirmation_group(order_index: int, operation_index: int) -> str:
    """SAP's RUECK: one confirmation number per operation (order-derived so it needs no lookup table)."""
    return f"{(order_index + 1) * 10 + operation_index:010d}"


def stamp(ms: int, seconds: int) -> str:
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms, seconds=seconds)
    return moment.strftime("%Y%m%d%H%M%S")


class _Writer:
    """Fills a tuple in property order from keyword values, starting from the type's defaults."""

    def __init__(self, entity_type: EntityType) -> None:
        self.defaults = entity_type.default_row()
        self.index = entity_type.index

    def row(self, **values: object) -> tuple[object, ...]:
        row = list(self.defaults)
        index = self.index
        for name, value in values.items():
            row[index[name]] = value
        return tuple(row)


def generate_production(
    count: int,
    seed: int,
    reference: dt.date,
    order_type: EntityType,
    operation_type: EntityType,
    confirmation_type: EntityType,
    component_type: EntityType | None = None,
) -> ProductionSeed:
    rng = random.Random(seed)
    # Components draw from their own generator, so the orders, operations and confirmations of a seed stay
    # what they were before components existed.
    component_rng = random.Random(f"components-{seed}")
    comp_w = _Writer(component_type) if component_type is not None else None
    components: list[tuple[object, ...]] = []
    ref_ms = ms_from_date(reference)
    orders_w, ops_w, conf_w = _Writer(order_type), _Writer(operation_type), _Writer(confirmation_type)
    states = [state for state, weight in STATE_WEIGHTS for _ in range(weight)]
    orders: list[tuple[object, ...]] = []
    operations: list[tuple[object, ...]] = []
    confirmations: list[tuple[object, ...]] = []
    for i in range(count):
        plant = PLANTS[i % len(PLANTS)]
        material, _, unit = MATERIALS[rng.randrange(len(MATERIALS))]
        state = states[rng.randrange(len(states))]
        number = order_number(i)
        routing = f"{i + 1:010d}"
        created = ref_ms - rng.randint(1, 60) * DAY_MS
        start = created + rng.randint(0, 40) * DAY_MS
        if state >= PARTIALLY_CONFIRMED:
            start = min(start, ref_ms - rng.randint(0, 10) * DAY_MS)
        end = start + rng.randint(1, 10) * DAY_MS
        quantity = rng.choice((10, 20, 25, 50, 100, 120, 200, 250, 500)) * 1000
        if unit != "PC":
            quantity += rng.randrange(0, 1000)
        released = state >= RELEASED
        op_count = rng.randint(2, 5)
        released_ops = op_count if released else (rng.randint(1, op_count - 1) if state == PARTIALLY_RELEASED else 0)
        if state == PARTIALLY_CONFIRMED:
            confirmed_ops = rng.randint(0, op_count - 1)
        elif state >= CONFIRMED:
            confirmed_ops = op_count
        else:
            confirmed_ops = 0
        change_seconds = rng.randrange(6 * 3600, 18 * 3600)
        last_change = stamp(max(created, min(ref_ms - DAY_MS, start)), change_seconds)
        order_yield = 0
        for n in range(op_count):
            work_center = plant.work_centers[(n + i) % len(plant.work_centers)]
            op_start = start + (end - start) * n // op_count
            op_end = start + (end - start) * (n + 1) // op_count
            partial = n == confirmed_ops and state == PARTIALLY_CONFIRMED and n < released_ops
            confirmed_yield = quantity if n < confirmed_ops else (quantity // 2 // 1000 * 1000 if partial else 0)
            if n == op_count - 1:
                order_yield = confirmed_yield
            op_released = n < released_ops
            operations.append(
                ops_w.row(
                    OrderInternalBillOfOperations=routing,
                    OrderIntBillOfOperationsItem=f"{n + 1:08d}",
                    ManufacturingOrder=number,
                    ManufacturingOrderSequence="0",
                    ManufacturingOrderOperation=f"{(n + 1) * 10:04d}",
                    ManufacturingOrderCategory="10",
                    ManufacturingOrderType="PP01",
                    MfgOrderOperationText=OPERATION_TEXTS[work_center[:4]],
                    OperationIsCreated="" if op_released else "X",
                    OperationIsReleased="X" if op_released else "",
                    OperationIsConfirmed="X" if n < confirmed_ops else "",
                    OperationIsPartiallyConfirmed="X" if partial else "",
                    OperationIsTechlyCompleted="X" if state == TECO else "",
                    OperationIsScheduled="X",
                    ProductionPlant=plant.code,
                    WorkCenterInternalID=f"{10000000 + (PLANTS.index(plant) * 10) + (n + i) % len(plant.work_centers)}",
                    WorkCenterTypeCode="A",
                    WorkCenter=work_center,
                    OperationControlProfile="PP01",
                    OpErlstSchedldExecStrtDte=op_start,
                    OpErlstSchedldExecStrtTme=8 * 3600,
                    OpErlstSchedldExecEndDte=op_end,
                    OpErlstSchedldExecEndTme=16 * 3600,
                    OpActualExecutionStartDate=op_start if confirmed_yield else None,
                    OpActualExecutionStartTime=8 * 3600 if confirmed_yield else None,
                    OpActualExecutionEndDate=op_end if n < confirmed_ops else None,
                    OpActualExecutionEndTime=16 * 3600 if n < confirmed_ops else None,
                    OperationUnit=unit,
                    OperationUnitISOCode=UNITS[unit],
                    OperationUnitSAPCode=unit,
                    OpPlannedTotalQuantity=quantity,
                    OpTotalConfirmedYieldQty=confirmed_yield,
                    WorkCenterStandardWorkQtyUnit1="MIN",
                    WorkCenterStandardWorkQty1=rng.choice((5, 10, 12, 15, 30, 45)) * 1000,
                    LastChangeDateTime=last_change,
                )
            )
            if confirmed_yield:
                confirmations.append(
                    conf_w.row(
                        ConfirmationGroup=confirmation_group(i, n),
                        ConfirmationCount="00000001",
                        OrderID=number,
                        Sequence="0",
                        OrderOperation=f"{(n + 1) * 10:04d}",
                        OrderType="PP01",
                        OrderOperationInternalID=f"{n + 1:08d}",
                        ConfirmationText="Seeded confirmation",
                        Material=material,
                        OrderPlannedTotalQty=quantity,
                        ProductionUnit=unit,
                        FinalConfirmationType="X" if n < confirmed_ops else "",
                        IsFinalConfirmation=n < confirmed_ops,
                        ConfirmationEntryDate=op_end,
                        ConfirmationEntryTime=15 * 3600,
                        EnteredByUser=f"SUP_{work_center}",
                        ExternalSystemConfirmation=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        Plant=plant.code,
                        WorkCenter=work_center,
                        PostingDate=op_end,
                        ConfirmedExecutionStartDate=op_start,
                        ConfirmedExecutionStartTime=8 * 3600,
                        ConfirmedExecutionEndDate=op_end,
                        ConfirmedExecutionEndTime=15 * 3600,
                        ConfirmationUnit=unit,
                        ConfirmationUnitISOCode=UNITS[unit],
                        ConfirmationUnitSAPCode=unit,
                        ConfirmationYieldQuantity=confirmed_yield,
                    )
                )
        orders.append(
            orders_w.row(
                ManufacturingOrder=number,
                ManufacturingOrderCategory="10",
                ManufacturingOrderType="PP01",
                ManufacturingOrderImportance=rng.choice(("1", "2", "3", "3", "3")),
                OrderIsCreated="" if released_ops else "X",
                OrderIsReleased="X" if released else "",
                OrderIsPartiallyReleased="X" if state == PARTIALLY_RELEASED else "",
                OrderIsPrinted="X" if released else "",
                OrderIsConfirmed="X" if state >= CONFIRMED else "",
                OrderIsPartiallyConfirmed="X"
                if state == PARTIALLY_CONFIRMED and (confirmed_ops or order_yield)
                else "",
                OrderIsTechnicallyCompleted="X" if state == TECO else "",
                OrderIsDelivered="X" if state == TECO else "",
                OrderIsScheduled="X",
                MfgOrderCreationDate=created,
                MfgOrderCreationTime=change_seconds,
                LastChangeDateTime=last_change,
                Material=material,
                StorageLocation="0001",
                OrderInternalBillOfOperations=routing,
                ProductionPlant=plant.code,
                Plant=plant.code,
                MRPController=f"{rng.randint(1, 3):03d}",
                ProductionSupervisor=f"{rng.randint(1, 4):03d}",
                ProductionVersion="0001",
                PlannedOrder=f"{rng.randint(1, 9_999_999):010d}" if rng.random() < 0.6 else "",
                CompanyCode=plant.company_code,
                ProfitCenter=f"YB{plant.code}",
                MfgOrderPlannedStartDate=start,
                MfgOrderPlannedStartTime=0,
                MfgOrderPlannedEndDate=end,
                MfgOrderPlannedEndTime=0,
                MfgOrderScheduledStartDate=start,
                MfgOrderScheduledStartTime=8 * 3600,
                MfgOrderScheduledEndDate=end,
                MfgOrderScheduledEndTime=16 * 3600,
                MfgOrderActualReleaseDate=min(start, ref_ms) if released_ops else None,
                ProductionUnit=unit,
                ProductionUnitISOCode=UNITS[unit],
                ProductionUnitSAPCode=unit,
                TotalQuantity=quantity,
                MfgOrderPlannedScrapQty=0,
                MfgOrderConfirmedYieldQty=order_yield,
            )
        )
        if comp_w is not None:
            components += _components(
                comp_w, component_rng, number, routing, plant.code, state, quantity, start, last_change
            )
    return ProductionSeed(orders, operations, confirmations, components)


def _components(
    writer: _Writer,
    rng: random.Random,
    number: str,
    routing: str,
    plant: str,
    state: int,
    quantity: int,
    start: int,
    last_change: str,
) -> list[tuple[object, ...]]:
    """An order's reservation items: what it needs, what was issued, what the availability check confirmed.

    Confirmed and completed orders have everything issued; a partially confirmed one half of it. Of what is
    still to be issued, MISSING_SHARE is short: the check confirmed none, a quarter or half of it.
    """
    rows = []
    picked = rng.sample(range(len(COMPONENT_MATERIALS)), rng.randint(2, 4))
    for n, which in enumerate(picked):
        material, text, unit, per_piece = COMPONENT_MATERIALS[which]
        required = quantity * per_piece // 1000
        if state >= CONFIRMED:
            withdrawn = required
        elif state == PARTIALLY_CONFIRMED:
            withdrawn = required // 2
        else:
            withdrawn = 0
        still_needed = required - withdrawn
        short = still_needed > 0 and rng.random() < MISSING_SHARE
        confirmed = still_needed * rng.choice((0, 1, 2)) // 4 if short else still_needed
        rows.append(
            writer.row(
                Reservation=routing,
                ReservationItem=f"{n + 1:04d}",
                ReservationRecordType="",
                Material=material,
                Plant=plant,
                ManufacturingOrderCategory="10",
                ManufacturingOrderType="PP01",
                ManufacturingOrder=number,
                ManufacturingOrderSequence="0",
                ManufacturingOrderOperation="0010",
                ProductionPlant=plant,
                OrderInternalBillOfOperations=routing,
                MatlCompRequirementDate=start,
                MatlCompRequirementTime=8 * 3600,
                ReservationIsFinallyIssued=state >= CONFIRMED,
                MatlCompIsMarkedForDeletion=False,
                MatlCompIsMarkedForBackflush=material.startswith("RM-BOLT"),
                BOMItemDescription=text,
                StorageLocation="0001",
                BaseUnit=unit,
                BaseUnitISOCode=UNITS[unit],
                BaseUnitSAPCode=unit,
                RequiredQuantity=required,
                WithdrawnQuantity=withdrawn,
                ConfirmedAvailableQuantity=confirmed,
                LastChangeDateTime=last_change,
            )
        )
    return rows
