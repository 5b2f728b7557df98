"""API_PRODUCTION_ORDER_2_SRV: orders with operations and statuses; release and rescheduling."""

from __future__ import annotations

from collections.abc import Sequence

from mock_sap import language
from mock_sap.edm import FunctionImport
from mock_sap.errors import ODataError, ServiceInfo, bad_request, sap_error
from mock_sap.events import PRODUCTION_ORDER_CHANGED, PRODUCTION_ORDER_RELEASED
from mock_sap.services.base import Context, FunctionResult, Service, last_change_stamp
from mock_sap.services.production_order_model import COMPONENT, MODEL, OPERATION, ORDER, STATUS, STATUS_TYPE
from mock_sap.store import Row, Store, Table

# (flag on the order, system status code), in the order SAP lists them; their names are in data/texts.py.
SYSTEM_STATUSES = (
    ("OrderIsCreated", "I0001"),
    ("OrderIsPartiallyReleased", "I0042"),
    ("OrderIsReleased", "I0002"),
    ("OrderIsPrinted", "I0007"),
    ("OrderIsPartiallyConfirmed", "I0010"),
    ("OrderIsConfirmed", "I0009"),
    ("OrderIsDelivered", "I0012"),
    ("OrderIsTechnicallyCompleted", "I0045"),
    ("OrderIsLocked", "I0043"),
)
ALWAYS = ("I0016", "I0028")  # pre-costed, settlement rule created

OPERATION_CHANGEABLE = frozenset(
    {
        "MfgOrderOperationText",
        "WorkCenter",
        "OpErlstSchedldExecStrtDte",
        "OpErlstSchedldExecStrtTme",
        "OpErlstSchedldExecEndDte",
        "OpErlstSchedldExecEndTme",
    }
)

# Fields a PATCH/MERGE/PUT on an order may change (what the BAPI behind the API supports).
RESCHEDULABLE = frozenset(
    {
        "MfgOrderPlannedStartDate",
        "MfgOrderPlannedStartTime",
        "MfgOrderPlannedEndDate",
        "MfgOrderPlannedEndTime",
        "TotalQuantity",
        "MfgOrderPlannedScrapQty",
        "ManufacturingOrderImportance",
        "ProductionSupervisor",
        "MRPController",
        "StorageLocation",
        "ProductionVersion",
    }
)


# Dates SAP's scheduling sets on an operation; rescheduling the order moves them (actual dates are history).
OPERATION_SCHEDULED_DATES = ("OpErlstSchedldExecStrtDte", "OpErlstSchedldExecEndDte")


def _schedule_shift(applied: dict[str, object], old_start: object, old_end: object) -> int:
    """How far (ms) rescheduling moves the operations: forward from a new start, else backward from a new end.

    Every operation moves by the same amount, so their sequence and durations stay as scheduled.
    """
    for name, old in (("MfgOrderPlannedStartDate", old_start), ("MfgOrderPlannedEndDate", old_end)):
        if name in applied:
            new = applied[name]
            return new - old if isinstance(new, int) and isinstance(old, int) else 0
    return 0


def _scaled(value: object) -> int:
    """A stored Edm.Decimal (an int scaled by 10**Scale); ABAP's initial value 0 for none."""
    return value if isinstance(value, int) else 0


def function_message(kind: str, message_class: str, number: str, text: str, *variables: str) -> dict[str, object]:
    values: dict[str, object] = {
        "SystemMessageType": kind,
        "SystemMessageIdentification": message_class,
        "SystemMessageNumber": number,
        "SystemMessageLongText": text,
    }
    for n in range(1, 5):
        values[f"SystemMessageVariable{n}"] = variables[n - 1] if n <= len(variables) else ""
    return values


class ProductionOrderService(Service):
    name = "API_PRODUCTION_ORDER_2_SRV"
    path = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
    model = MODEL
    info = ServiceInfo("API_PRODUCTION_ORDER_2_SRV", "PP-SFC-EXE-CNF")

    def __init__(self, store: Store, orders: Table, operations: Table, components: Table | None = None) -> None:
        super().__init__(store)
        self.tables = {ORDER: orders, OPERATION: operations}
        # The seed's component table unless one is given (a store without one serves no components).
        self.components = components if components is not None else store.tables.get(COMPONENT)
        if self.components is not None:
            self.tables[COMPONENT] = self.components
        self.orders, self.operations = orders, operations
        self._order = orders.entity_type.index
        self._op = operations.entity_type.index
        self._status_writer = STATUS_TYPE.default_row

    # -- statuses are derived from the order's flags, so they can never disagree with them ------
    def statuses(self, order: Row) -> list[Row]:
        """The order's system statuses, named in the request's logon language."""
        number = order[self._order["ManufacturingOrder"]]
        codes = [code for flag_name, code in SYSTEM_STATUSES if order[self._order[flag_name]] == "X"]
        return [(number, code, False, *language.status_text(code)) for code in (*codes, *ALWAYS)]

    def collection(self, set_name: str, ctx: Context) -> Sequence[Row]:
        if set_name == STATUS:
            return [status for order in self.orders.rows for status in self.statuses(order)]
        return super().collection(set_name, ctx)

    def index_lookup(self, set_name: str, ctx: Context):  # type: ignore[no-untyped-def]
        if set_name == STATUS:

            def lookup(column: str, value: object) -> list[Row] | None:
                if column != "ManufacturingOrder":
                    return None
                order = self.orders.get((value,))
                return self.statuses(order) if order is not None else []

            return lookup
        return super().index_lookup(set_name, ctx)

    def get(self, set_name: str, key: tuple[object, ...], ctx: Context) -> Row | None:
        if set_name == STATUS:
            order = self.orders.get((key[0],))
            if order is None:
                return None
            return next((s for s in self.statuses(order) if s[1] == key[1]), None)
        return super().get(set_name, key, ctx)

    def order(self, number: object) -> Row:
        row = self.orders.get((number,))
        if row is None:
            raise sap_error("CO/004", number, status=404)
        return row

    def missing_components(self, order: Row, operation: object = None) -> list[Row]:
        """Components (of `operation`, or all) the last availability check could not fully confirm.

        Still needed (not finally issued, not deleted, more required than withdrawn) and confirmed for less than
        the quantity still to be issued: what SAP's missing parts list shows. The API has no missing-part flag;
        this is the same reading of the component's ATP result a client can do.
        """
        if self.components is None:
            return []
        c = self.components.entity_type.index
        rows = self.components.lookup("ManufacturingOrder", order[self._order["ManufacturingOrder"]]) or []
        missing = []
        for row in rows:
            if row[c["ReservationIsFinallyIssued"]] or row[c["MatlCompIsMarkedForDeletion"]]:
                continue
            if operation is not None and row[c["ManufacturingOrderOperation"]] != operation:
                continue
            still_needed = _scaled(row[c["RequiredQuantity"]]) - _scaled(row[c["WithdrawnQuantity"]])
            if still_needed > 0 and _scaled(row[c["ConfirmedAvailableQuantity"]]) < still_needed:
                missing.append(row)
        return missing

    def operations_of(self, order: Row) -> list[Row]:
        return self.operations.lookup("ManufacturingOrder", order[self._order["ManufacturingOrder"]]) or []

    # -- writes ---------------------------------------------------------------------------------
    def update(self, set_name: str, row: Row, changes: dict[str, object], ctx: Context) -> Row:
        if set_name == OPERATION:
            return self.update_operation(row, changes, ctx)
        if set_name != ORDER:
            raise ODataError(405, "/IWBEP/CM_MGW_RT/105", f"Updates of '{set_name}' are not supported")
        o = self._order
        number = row[o["ManufacturingOrder"]]
        if row[o["OrderIsTechnicallyCompleted"]] == "X" or row[o["OrderIsClosed"]] == "X":
            raise sap_error("CO/208", number)
        applied = {name: value for name, value in changes.items() if name in RESCHEDULABLE}
        old_start, old_end = row[o["MfgOrderPlannedStartDate"]], row[o["MfgOrderPlannedEndDate"]]
        shift = _schedule_shift(applied, old_start, old_end)
        if (
            "MfgOrderPlannedStartDate" in applied
            and "MfgOrderPlannedEndDate" not in applied
            and isinstance(old_start, int)
            and isinstance(old_end, int)
            and isinstance(applied["MfgOrderPlannedStartDate"], int)
        ):
            # Moving only the start reschedules the order: its duration is kept.
            applied["MfgOrderPlannedEndDate"] = old_end + applied["MfgOrderPlannedStartDate"] - old_start
        start = applied.get("MfgOrderPlannedStartDate", old_start)
        end = applied.get("MfgOrderPlannedEndDate", old_end)
        if isinstance(start, int) and isinstance(end, int) and start > end:
            raise sap_error("CO/079")
        quantity = applied.get("TotalQuantity")
        if isinstance(quantity, int) and quantity <= 0:
            raise sap_error("CO/011")
        if "MfgOrderPlannedStartDate" in applied:
            applied["MfgOrderScheduledStartDate"] = applied["MfgOrderPlannedStartDate"]
        if "MfgOrderPlannedEndDate" in applied:
            applied["MfgOrderScheduledEndDate"] = applied["MfgOrderPlannedEndDate"]
        applied["LastChangeDateTime"] = last_change_stamp(ctx.now, row[o["LastChangeDateTime"]])
        new = self.replace_row(ORDER, row, **applied)
        if shift or isinstance(quantity, int):
            for op in self.operations_of(row):
                self._follow_order(op, shift, quantity if isinstance(quantity, int) else None, ctx)
        ctx.message("CO/100", language.text("CO/100", number), "success")
        self.emit_order(PRODUCTION_ORDER_CHANGED, number)
        return new

    def emit_order(self, event_type: str, number: object) -> None:
        # SAP's notification events carry the key only; the plant and the rest are read over OData.
        self.emit(event_type, {"ProductionOrder": str(number)})

    def _follow_order(self, op: Row, shift: int, quantity: int | None, ctx: Context) -> None:
        """An operation after its order changed: dates moved by `shift` ms, the new quantity, a new ETag."""
        p = self._op
        changes: dict[str, object] = {}
        for name in OPERATION_SCHEDULED_DATES:
            value = op[p[name]]
            if shift and isinstance(value, int):
                changes[name] = value + shift
        if quantity is not None:
            changes["OpPlannedTotalQuantity"] = quantity
        changes["LastChangeDateTime"] = last_change_stamp(ctx.now, op[p["LastChangeDateTime"]])
        self.replace_row(OPERATION, op, **changes)

    def update_operation(self, row: Row, changes: dict[str, object], ctx: Context) -> Row:
        p = self._op
        applied = {name: value for name, value in changes.items() if name in OPERATION_CHANGEABLE}
        if "WorkCenter" in applied:
            plant = str(row[p["ProductionPlant"]])
            if not str(applied["WorkCenter"]).endswith(plant):
                raise sap_error("CR/020", applied["WorkCenter"], plant)
        applied["LastChangeDateTime"] = last_change_stamp(ctx.now, row[p["LastChangeDateTime"]])
        new = self.replace_row(OPERATION, row, **applied)
        ctx.message("CO/100", language.text("CO/100#operation", row[p["ManufacturingOrderOperation"]]), "success")
        self.emit_order(PRODUCTION_ORDER_CHANGED, row[p["ManufacturingOrder"]])  # operations are part of the order
        return new

    def call(self, function: FunctionImport, params: dict[str, object], ctx: Context) -> FunctionResult:
        if not params.get("ManufacturingOrder"):
            raise bad_request("Mandatory parameter 'ManufacturingOrder' is missing", code="/IWBEP/CM_MGW_RT/012")
        order = self.order(params.get("ManufacturingOrder"))
        if function.name == "ReleaseOrder":
            message = self.release(order, None, ctx)
        elif function.name == "ReleaseOperation":
            message = self.release(order, params.get("ManufacturingOrderOperation"), ctx)
        elif function.name == "TechlyCmpltOrder":
            message = self.complete_technically(order, ctx)
        else:
            return super().call(function, params, ctx)
        return FunctionResult(complex_values=[message])

    def release(self, order: Row, operation: object, ctx: Context) -> dict[str, object]:
        o, p = self._order, self._op
        number = str(order[o["ManufacturingOrder"]])
        if order[o["OrderIsTechnicallyCompleted"]] == "X" or order[o["OrderIsClosed"]] == "X":
            raise sap_error("CO/208#release", number)
        if order[o["OrderIsMarkedForDeletion"]] == "X":
            raise sap_error("CO/209", number)
        operations = self.operations_of(order)
        if operation is not None:
            targets = [op for op in operations if op[p["ManufacturingOrderOperation"]] == operation]
            if not targets:
                raise sap_error("CO/041", operation, number)
        else:
            targets = operations
        if order[o["OrderIsReleased"]] == "X" or all(op[p["OperationIsReleased"]] == "X" for op in targets):
            if operation is not None:
                raise sap_error("CO/093#operation-already", operation, number)
            raise sap_error("CO/093#already", number)
        # The availability check at release, with the Customizing "release even if parts are missing" (SAP can
        # also be set to refuse the release, or to let the user decide): SAP releases and warns, warning first.
        missing = self.missing_components(order, operation)
        if missing:
            c = self.components.entity_type.index  # type: ignore[union-attr]
            materials = ", ".join(sorted({str(row[c["Material"]]) for row in missing}))
            ctx.message("CO/263", language.text("CO/263", number, len(missing), materials[:50]), "warning")
        for op in targets:
            self.replace_row(
                OPERATION,
                op,
                OperationIsReleased="X",
                OperationIsCreated="",
                LastChangeDateTime=last_change_stamp(ctx.now, op[p["LastChangeDateTime"]]),
            )
        released_all = all(op[p["OperationIsReleased"]] == "X" for op in self.operations_of(order))
        self.replace_row(
            ORDER,
            order,
            OrderIsReleased="X" if released_all else "",
            OrderIsPartiallyReleased="" if released_all else "X",
            OrderIsCreated="",
            MfgOrderActualReleaseDate=order[o["MfgOrderActualReleaseDate"]] or ctx.today_ms,
            LastChangeDateTime=last_change_stamp(ctx.now, order[o["LastChangeDateTime"]]),
        )
        # Released once the whole order is; releasing some operations only changes it.
        self.emit_order(PRODUCTION_ORDER_RELEASED if released_all else PRODUCTION_ORDER_CHANGED, number)
        if operation is None:
            text = language.text("CO/093", number)
            ctx.message("CO/093", text)
            return function_message("S", "CO", "093", text, number)
        text = language.text("CO/094", operation, number)
        ctx.message("CO/094", text)
        return function_message("S", "CO", "094", text, str(operation), number)

    def complete_technically(self, order: Row, ctx: Context) -> dict[str, object]:
        o = self._order
        number = str(order[o["ManufacturingOrder"]])
        if order[o["OrderIsTechnicallyCompleted"]] == "X":
            raise sap_error("CO/230", number)
        self.replace_row(
            ORDER,
            order,
            OrderIsTechnicallyCompleted="X",
            LastChangeDateTime=last_change_stamp(ctx.now, order[o["LastChangeDateTime"]]),
        )
        for op in self.operations_of(order):
            self.replace_row(OPERATION, op, OperationIsTechlyCompleted="X")
        self.emit_order(PRODUCTION_ORDER_CHANGED, number)
        text = language.text("CO/231", number)
        ctx.message("CO/231", text)
        return function_message("S", "CO", "231", text, number)
