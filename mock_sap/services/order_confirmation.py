"""API_PROD_ORDER_CONFIRMATION_2_SRV: post, read and cancel confirmations; they move order quantities."""

from __future__ import annotations

from mock_sap import language
from mock_sap.data.production import FIRST_ORDER, VARIANCE_REASONS, confirmation_group
from mock_sap.edm import FunctionImport
from mock_sap.errors import ServiceInfo, bad_request, business_error, sap_error
from mock_sap.events import CONFIRMATION_CANCELLED, CONFIRMATION_CREATED
from mock_sap.services.base import Context, FunctionResult, Service, last_change_stamp
from mock_sap.services.confirmation_model import CONFIRMATION, MATERIAL_DOCUMENT_ITEM, MODEL
from mock_sap.services.production_order import ProductionOrderService
from mock_sap.services.production_order_model import OPERATION, ORDER
from mock_sap.store import Row, Store, Table

# Fields the server fills itself; a client value is ignored as the API ignores it.
SERVER_FIELDS = frozenset(
    {
        "ConfirmationGroup",
        "ConfirmationCount",
        "OrderType",
        "OrderOperationInternalID",
        "ConfirmationEntryDate",
        "ConfirmationEntryTime",
        "EnteredByUser",
        "LastChangeDate",
        "LastChangedByUser",
        "IsReversed",
        "IsReversal",
        "OrderPlannedTotalQty",
    }
)


class OrderConfirmationService(Service):
    name = "API_PROD_ORDER_CONFIRMATION_2_SRV"
    path = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV"
    model = MODEL
    info = ServiceInfo("API_PROD_ORDER_CONFIRMATION_2_SRV", "PP-SFC-EXE-CNF")

    def __init__(self, store: Store, confirmations: Table, items: Table, orders: ProductionOrderService) -> None:
        super().__init__(store)
        self.tables = {CONFIRMATION: confirmations, MATERIAL_DOCUMENT_ITEM: items}
        self.confirmations = confirmations
        self.production = orders
        self._c = confirmations.entity_type.index
        self._o = orders.orders.entity_type.index
        self._p = orders.operations.entity_type.index

    def locked_target(self, set_name: str | None, function: str | None) -> bool:
        return function != "GetConfProposal"

    # -- helpers ----------------------------------------------------------------------------
    def _operation(self, order: Row, operation: object, sequence: object) -> tuple[int, Row]:
        p = self._p
        number = order[self._o["ManufacturingOrder"]]
        if not operation:
            raise sap_error("RU/012", target="OrderOperation")
        for n, op in enumerate(self.production.operations_of(order)):
            if op[p["ManufacturingOrderOperation"]] == operation and (
                not sequence or op[p["ManufacturingOrderSequence"]] == sequence
            ):
                return n, op
        raise sap_error("RU/201", operation, number, target="OrderOperation")

    def _order(self, number: object) -> Row:
        if not number:
            raise sap_error("RU/011", target="OrderID")
        order = self.production.orders.get((number,))
        if order is None:
            raise sap_error("RU/101", number, target="OrderID")
        return order

    def _has_final_confirmation(self, order: Row, op: Row) -> bool:
        """Whether a final confirmation of the operation is neither cancelled nor a cancellation."""
        c, o, p = self._c, self._o, self._p
        return any(
            row[c["IsFinalConfirmation"]] and not row[c["IsReversed"]] and not row[c["IsReversal"]]
            for row in self.confirmations.lookup("OrderID", order[o["ManufacturingOrder"]]) or []
            if row[c["OrderOperation"]] == op[p["ManufacturingOrderOperation"]]
        )

    def _next_count(self, group: str) -> str:
        counts = [
            int(str(row[self._c["ConfirmationCount"]]))
            for row in self.confirmations.lookup("ConfirmationGroup", group) or []
        ]
        return f"{max(counts, default=0) + 1:08d}"

    def _apply_quantity(self, order: Row, op: Row, delta: int, final: bool | None, ctx: Context) -> None:
        """Move the operation's and order's confirmed yield and status flags by `delta`."""
        p, o = self._p, self._o
        total = max(0, int(op[p["OpTotalConfirmedYieldQty"]] or 0) + delta)  # type: ignore[call-overload]
        if final is None:  # a cancellation: final again only if a final confirmation still stands
            confirmed = self._has_final_confirmation(order, op)
        else:
            confirmed = final or op[p["OperationIsConfirmed"]] == "X"
        changes: dict[str, object] = {
            "OpTotalConfirmedYieldQty": total,
            "OperationIsConfirmed": "X" if confirmed else "",
            "OperationIsPartiallyConfirmed": "" if confirmed or total == 0 else "X",
            "LastChangeDateTime": last_change_stamp(ctx.now, op[p["LastChangeDateTime"]]),
        }
        if total and op[p["OpActualExecutionStartDate"]] is None:
            changes["OpActualExecutionStartDate"] = ctx.today_ms
            changes["OpActualExecutionStartTime"] = ctx.seconds_of_day
        if confirmed:
            changes["OpActualExecutionEndDate"] = ctx.today_ms
            changes["OpActualExecutionEndTime"] = ctx.seconds_of_day
        self.production.replace_row(OPERATION, op, **changes)
        operations = self.production.operations_of(order)
        all_confirmed = all(x[p["OperationIsConfirmed"]] == "X" for x in operations)
        any_confirmed = any(
            x[p["OperationIsConfirmed"]] == "X" or x[p["OperationIsPartiallyConfirmed"]] == "X" for x in operations
        )
        self.production.replace_row(
            ORDER,
            order,
            # SAP reports the yield of the last operation (the milestone) as the order's confirmed yield.
            MfgOrderConfirmedYieldQty=operations[-1][p["OpTotalConfirmedYieldQty"]],
            OrderIsConfirmed="X" if all_confirmed else "",
            OrderIsPartiallyConfirmed="X" if any_confirmed and not all_confirmed else "",
            LastChangeDateTime=last_change_stamp(ctx.now, order[o["LastChangeDateTime"]]),
        )

    # -- POST ProdnOrdConf2 -------------------------------------------------------------------
    def create(
        self, set_name: str, values: dict[str, object], deep: dict[str, list[dict[str, object]]], ctx: Context
    ) -> Row:
        if set_name != CONFIRMATION:
            return super().create(set_name, values, deep, ctx)
        o, p = self._o, self._p
        order = self._order(values.get("OrderID"))
        number = str(order[o["ManufacturingOrder"]])
        n, op = self._operation(order, values.get("OrderOperation"), values.get("Sequence"))
        operation = op[p["ManufacturingOrderOperation"]]
        if order[o["OrderIsTechnicallyCompleted"]] == "X" or order[o["OrderIsClosed"]] == "X":
            raise sap_error("RU/155", number)
        if op[p["OperationIsReleased"]] != "X":
            raise sap_error("RU/150", operation, number, target="OrderOperation")
        if op[p["OperationIsConfirmed"]] == "X":
            raise sap_error("RU/507", operation, number)
        quantities = {
            name: int(values.get(name) or 0)  # type: ignore[call-overload]
            for name in ("ConfirmationYieldQuantity", "ConfirmationScrapQuantity", "ConfirmationReworkQuantity")
        }
        if any(q < 0 for q in quantities.values()):
            raise sap_error("RU/036")
        reason = values.get("VarianceReasonCode")
        if reason and reason not in VARIANCE_REASONS:
            plant = values.get("Plant") or op[p["ProductionPlant"]]
            raise business_error(  # message number not verified against SAP (no source at hand)
                "RU/340", f"Reason for variance {reason} is not defined for plant {plant}", target="VarianceReasonCode"
            )
        unit = values.get("ConfirmationUnit") or op[p["OperationUnit"]]
        if unit != op[p["OperationUnit"]]:
            raise sap_error("RU/022", unit, op[p["OperationUnit"]])
        planned = int(op[p["OpPlannedTotalQuantity"]] or 0)  # type: ignore[call-overload]
        confirmed = int(op[p["OpTotalConfirmedYieldQty"]] or 0)  # type: ignore[call-overload]
        if planned and confirmed + quantities["ConfirmationYieldQuantity"] > planned:
            # SAP's overdelivery check: a warning (tolerance not set), the posting still goes through.
            ctx.message(
                "RU/505",
                language.text("RU/505", number, operation),
                "warning",
            )
        final = bool(values.get("IsFinalConfirmation")) or values.get("FinalConfirmationType") in ("X", "1")
        group = confirmation_group(int(number) - FIRST_ORDER, n)
        row_values = {k: v for k, v in values.items() if k not in SERVER_FIELDS}
        row_values.update(
            ConfirmationGroup=group,
            ConfirmationCount=self._next_count(group),
            OrderID=number,
            Sequence=op[p["ManufacturingOrderSequence"]],
            OrderOperation=operation,
            OrderType=order[o["ManufacturingOrderType"]],
            OrderOperationInternalID=op[p["OrderIntBillOfOperationsItem"]],
            Material=order[o["Material"]],
            OrderPlannedTotalQty=order[o["TotalQuantity"]],
            ProductionUnit=order[o["ProductionUnit"]],
            Plant=values.get("Plant") or op[p["ProductionPlant"]],
            WorkCenter=values.get("WorkCenter") or op[p["WorkCenter"]],
            ConfirmationUnit=unit,
            ConfirmationUnitISOCode=op[p["OperationUnitISOCode"]],
            ConfirmationUnitSAPCode=unit,
            FinalConfirmationType="X" if final else "",
            IsFinalConfirmation=final,
            IsReversed=False,
            IsReversal=False,
            ConfirmationEntryDate=ctx.today_ms,
            ConfirmationEntryTime=ctx.seconds_of_day,
            EnteredByUser=ctx.user,
            PostingDate=values.get("PostingDate") or ctx.today_ms,
            **quantities,
        )
        row = self.insert_row(CONFIRMATION, row_values)
        for index, item in enumerate(deep.get("to_ProdnOrdConfMatlDocItm", []), start=1):
            self.insert_row(
                MATERIAL_DOCUMENT_ITEM,
                {
                    **item,
                    "ConfirmationGroup": group,
                    "ConfirmationCount": row_values["ConfirmationCount"],
                    "MaterialDocument": f"49{int(group) % 10**8:08d}",
                    "MaterialDocumentItem": f"{index:04d}",
                    "MaterialDocumentYear": str(ctx.now.year),
                    "OrderID": number,
                },
            )
        self._apply_quantity(order, op, quantities["ConfirmationYieldQuantity"], final, ctx)
        ctx.message("RU/100", language.text("RU/100", number), "success")
        self._emit(CONFIRMATION_CREATED, group, row_values["ConfirmationCount"])
        return row

    def _emit(self, event_type: str, group: object, count: object) -> None:
        # The confirmation's key as the API names it; order, operation and plant are read from ProdnOrdConf2.
        self.emit(event_type, {"ConfirmationGroup": str(group), "ConfirmationCount": str(count)})

    # -- function imports ------------------------------------------------------------------
    def call(self, function: FunctionImport, params: dict[str, object], ctx: Context) -> FunctionResult:
        if function.name == "CancelProdnOrdConf":
            return FunctionResult(entity_set=CONFIRMATION, rows=[self.cancel(params, ctx)])
        if function.name == "GetConfProposal":
            return FunctionResult(complex_values=[self.proposal(params, ctx)])
        return super().call(function, params, ctx)

    def cancel(self, params: dict[str, object], ctx: Context) -> Row:
        c = self._c
        key = (params.get("ConfirmationGroup"), params.get("ConfirmationCount"))
        original = self.confirmations.get(key)
        if original is None:
            raise sap_error("RU/140", key[0], key[1])
        if original[c["IsReversed"]] or original[c["IsReversal"]]:
            raise sap_error("RU/141", key[0], key[1])
        order = self._order(original[c["OrderID"]])
        _, op = self._operation(order, original[c["OrderOperation"]], original[c["Sequence"]])
        self.replace_row(
            CONFIRMATION, original, IsReversed=True, LastChangeDate=ctx.today_ms, LastChangedByUser=ctx.user
        )
        group = str(key[0])
        values = dict(zip(self.confirmations.entity_type.index, original, strict=True))
        values.update(
            ConfirmationCount=self._next_count(group),
            IsReversal=True,
            IsReversed=False,
            ConfirmationText=params.get("ConfirmationText") or original[c["ConfirmationText"]],
            ExternalSystemConfirmation=params.get("ExternalSystemConfirmation"),
            PostingDate=params.get("PostingDate") or ctx.today_ms,
            ConfirmationEntryDate=ctx.today_ms,
            ConfirmationEntryTime=ctx.seconds_of_day,
            EnteredByUser=ctx.user,
        )
        reversal = self.insert_row(CONFIRMATION, values)
        self._apply_quantity(order, op, -int(original[c["ConfirmationYieldQuantity"]] or 0), None, ctx)  # type: ignore[call-overload]
        ctx.message("RU/110", language.text("RU/110", group), "success")
        self._emit(CONFIRMATION_CANCELLED, group, key[1])  # the cancelled confirmation, not its reversal record
        return reversal

    def proposal(self, params: dict[str, object], ctx: Context) -> dict[str, object]:
        p, o = self._p, self._o
        order = self._order(params.get("OrderID"))
        n, op = self._operation(order, params.get("OrderOperation"), params.get("Sequence"))
        if params.get("ConfirmationYieldQuantity") is not None and not params.get("QuantityIsToBeProposed"):
            yield_quantity = int(params["ConfirmationYieldQuantity"])  # type: ignore[call-overload]
        else:
            planned = int(op[p["OpPlannedTotalQuantity"]] or 0)  # type: ignore[call-overload]
            yield_quantity = max(0, planned - int(op[p["OpTotalConfirmedYieldQty"]] or 0))  # type: ignore[call-overload]
        standard = int(op[p["WorkCenterStandardWorkQty1"]] or 0)  # type: ignore[call-overload]
        number = str(order[o["ManufacturingOrder"]])
        values: dict[str, object] = {prop.name: None for prop in self.model.complex["AProductionorderconf2"].properties}
        values.update(
            ConfirmationGroup=confirmation_group(int(number) - FIRST_ORDER, n),
            ConfirmationCount="",
            OrderID=number,
            Sequence=op[p["ManufacturingOrderSequence"]],
            OrderOperation=op[p["ManufacturingOrderOperation"]],
            OrderSuboperation="",
            OrderType=order[o["ManufacturingOrderType"]],
            OrderOperationInternalID=op[p["OrderIntBillOfOperationsItem"]],
            Material=order[o["Material"]],
            OrderPlannedTotalQty=order[o["TotalQuantity"]],
            ProductionUnit=order[o["ProductionUnit"]],
            Plant=op[p["ProductionPlant"]],
            WorkCenter=op[p["WorkCenter"]],
            Personnel="",
            PostingDate=ctx.today_ms,
            ConfirmedExecutionStartDate=ctx.today_ms,
            ConfirmedExecutionStartTime=ctx.seconds_of_day,
            ConfirmedExecutionEndDate=ctx.today_ms,
            ConfirmedExecutionEndTime=ctx.seconds_of_day,
            ConfirmationUnit=op[p["OperationUnit"]],
            ConfirmationUnitISOCode=op[p["OperationUnitISOCode"]],
            ConfirmationUnitSAPCode=op[p["OperationUnitSAPCode"]],
            ConfirmationYieldQuantity=yield_quantity,
            ConfirmationScrapQuantity=int(params.get("ConfirmationScrapQuantity") or 0),  # type: ignore[call-overload]
            ConfirmationReworkQuantity=int(params.get("ConfirmationReworkQuantity") or 0),  # type: ignore[call-overload]
            OpWorkQuantityUnit1=op[p["WorkCenterStandardWorkQtyUnit1"]],
            WorkQuantityUnit1ISOCode=op[p["WorkCenterStandardWorkQtyUnit1"]],
            WorkQuantityUnit1SAPCode=op[p["WorkCenterStandardWorkQtyUnit1"]],
            # Standard minutes per unit times the yield: quantities are stored in thousandths.
            OpConfirmedWorkQuantity1=standard * yield_quantity // 1000,
        )
        if not values["ConfirmationUnit"]:
            raise bad_request("Operation has no unit")
        return values
