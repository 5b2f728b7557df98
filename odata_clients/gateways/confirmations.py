"""Production-order confirmations (API_PROD_ORDER_CONFIRMATION_2_SRV): create, find, cancel, propose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from odata_clients import convert
from odata_clients.gateways.base import Gateway, Row, property_type, string_param
from odata_clients.models import Confirmation, ConfirmationProposal, ConfirmationRequest, Quantity

CONFIRMATIONS = "ProdnOrdConf2"


def confirmation_from_sap(entity: object) -> Confirmation:
    row = Row(entity)
    unit = "ConfirmationUnit"
    return Confirmation(
        confirmation_group=row.text("ConfirmationGroup"),
        confirmation_count=row.text("ConfirmationCount"),
        order_id=row.text("OrderID"),
        operation=row.text("OrderOperation"),
        sequence=row.text("Sequence"),
        plant=row.text("Plant"),
        work_center=row.text("WorkCenter"),
        yield_quantity=row.quantity("ConfirmationYieldQuantity", unit),
        scrap_quantity=row.quantity("ConfirmationScrapQuantity", unit),
        rework_quantity=row.quantity("ConfirmationReworkQuantity", unit),
        is_final=row.boolean("IsFinalConfirmation"),
        is_reversed=row.boolean("IsReversed"),
        is_reversal=row.boolean("IsReversal"),
        posting_date=row.date("PostingDate"),
        text=row.text("ConfirmationText"),
        personnel=row.text("Personnel"),
        external_id=row.guid("ExternalSystemConfirmation"),
        entered_by=row.text("EnteredByUser"),
        variance_reason=row.text("VarianceReasonCode"),
        entered_at=_moment(row.date("ConfirmationEntryDate"), row.time("ConfirmationEntryTime")),
    )


def _moment(date: str | None, time: str | None) -> str | None:
    """SAP's date and time fields of one moment (UTC in the API's entities) as one ISO 8601 timestamp."""
    return f"{date}T{time or '00:00:00'}Z" if date else None


def confirmation_to_sap(request: ConfirmationRequest) -> dict[str, Any]:
    """Canonical request -> ProdnOrdConf2 create payload (values as pyodata's to_json expects them)."""
    units = {q.unit for q in (request.yield_quantity, request.scrap_quantity, request.rework_quantity) if q}
    if len(units) != 1:
        raise ValueError(f"yield, scrap and rework must share one unit, got {sorted(units)}")
    body: dict[str, Any] = {
        "OrderID": request.order_id,
        "OrderOperation": request.operation,
        "Sequence": request.sequence,
        "ConfirmationUnit": request.yield_quantity.unit,
        "ConfirmationYieldQuantity": convert.decimal_to_sap(request.yield_quantity.value),
        "IsFinalConfirmation": request.is_final,
        "ExternalSystemConfirmation": convert.guid_to_sap(request.external_id),
    }
    if request.scrap_quantity is not None:
        body["ConfirmationScrapQuantity"] = convert.decimal_to_sap(request.scrap_quantity.value)
    if request.rework_quantity is not None:
        body["ConfirmationReworkQuantity"] = convert.decimal_to_sap(request.rework_quantity.value)
    if request.posting_date:
        body["PostingDate"] = convert.date_to_sap(request.posting_date)
    if request.execution_start:
        start = convert.datetime_to_sap(request.execution_start)
        body["ConfirmedExecutionStartDate"] = convert.date_to_sap(start.date())
        body["ConfirmedExecutionStartTime"] = convert.time_to_sap(start.time())
    if request.execution_end:
        end = convert.datetime_to_sap(request.execution_end)
        body["ConfirmedExecutionEndDate"] = convert.date_to_sap(end.date())
        body["ConfirmedExecutionEndTime"] = convert.time_to_sap(end.time())
    for key, value in (
        ("ConfirmationText", request.text),
        ("Personnel", request.personnel),
        ("WorkCenter", request.work_center),
        ("Plant", request.plant),
        ("VarianceReasonCode", request.variance_reason),
    ):
        if value:
            body[key] = value
    return body


def proposal_from_sap(result: Any) -> ConfirmationProposal:
    data = result.get("GetConfProposal", result) if isinstance(result, Mapping) else {}
    row = Row(data if isinstance(data, Mapping) else {})
    work = [
        q
        for n in range(1, 7)
        if (q := row.quantity(f"OpConfirmedWorkQuantity{n}", f"OpWorkQuantityUnit{n}")) is not None
        and row.text(f"OpWorkQuantityUnit{n}")
    ]
    return ConfirmationProposal(
        order_id=row.text("OrderID"),
        operation=row.text("OrderOperation"),
        sequence=row.text("Sequence"),
        yield_quantity=row.quantity("ConfirmationYieldQuantity", "ConfirmationUnit"),
        scrap_quantity=row.quantity("ConfirmationScrapQuantity", "ConfirmationUnit"),
        rework_quantity=row.quantity("ConfirmationReworkQuantity", "ConfirmationUnit"),
        work_quantities=work,
        execution_start=_moment(row.date("ConfirmedExecutionStartDate"), row.time("ConfirmedExecutionStartTime")),
        execution_end=_moment(row.date("ConfirmedExecutionEndDate"), row.time("ConfirmedExecutionEndTime")),
    )


class ConfirmationsGateway(Gateway):
    """ProdnOrdConf2: POST only (no PATCH/DELETE in SAP); reversal is CancelProdnOrdConf."""

    def create(self, request: ConfirmationRequest) -> Confirmation:
        """Post a confirmation. Never retried here; before a worker re-tries, it calls find_by_external_id."""
        create = self._service().entity_sets.ProdnOrdConf2.create_entity()
        create.set(**confirmation_to_sap(request))
        return confirmation_from_sap(self._run(create))

    def find_by_external_id(self, external_id: str) -> Confirmation | None:
        """The confirmation posted with this ExternalSystemConfirmation UUID, if SAP has it."""
        guid = convert.guid_to_sap(external_id)
        kind = property_type(self.client, self.principal, CONFIRMATIONS, "ExternalSystemConfirmation")
        literal = convert.guid_literal(guid) if kind == "Edm.Guid" else string_param(guid)
        entities, _ = self._query(CONFIRMATIONS, filter=f"ExternalSystemConfirmation eq {literal}", top=2)
        return confirmation_from_sap(entities[0]) if entities else None

    def get(self, confirmation_group: str, confirmation_count: str) -> Confirmation:
        return confirmation_from_sap(
            self._get(CONFIRMATIONS, {"ConfirmationGroup": confirmation_group, "ConfirmationCount": confirmation_count})
        )

    def for_operation(self, order_id: str, operation: str | None = None, *, top: int = 100) -> list[Confirmation]:
        """The newest `top` confirmations of the order (or one operation): an operation's confirmations share
        their ConfirmationGroup and count up, so the highest counts are the newest."""
        clause = convert.and_all(
            convert.eq("OrderID", order_id), convert.eq("OrderOperation", operation) if operation else None
        )
        order = "ConfirmationGroup desc,ConfirmationCount desc"
        entities, _ = self._query(CONFIRMATIONS, filter=clause, order_by=order, top=top)
        return [confirmation_from_sap(e) for e in entities]

    def cancel(
        self,
        confirmation_group: str,
        confirmation_count: str,
        *,
        text: str = "",
        external_id: str | None = None,
        posting_date: str | None = None,
    ) -> Confirmation:
        """CancelProdnOrdConf: SAP posts a reversal and returns it."""
        params = {
            "ConfirmationGroup": string_param(confirmation_group),
            "ConfirmationCount": string_param(confirmation_count),
        }
        if text:
            params["ConfirmationText"] = string_param(text)
        if external_id:
            params["ExternalSystemConfirmation"] = self._guid_param("CancelProdnOrdConf", external_id)
        if posting_date:
            params["PostingDate"] = convert.datetime_literal(posting_date)
        result = self._function("CancelProdnOrdConf", params)
        if isinstance(result, Mapping) and "CancelProdnOrdConf" in result:
            result = result["CancelProdnOrdConf"]
        return confirmation_from_sap(result)

    def proposal(
        self,
        order_id: str,
        operation: str,
        *,
        sequence: str = "0",
        yield_quantity: Quantity | None = None,
    ) -> ConfirmationProposal:
        """GetConfProposal: SAP's suggestion of quantities, activities and dates for a confirmation."""
        params = {
            "OrderID": string_param(order_id),
            "OrderOperation": string_param(operation),
            "Sequence": string_param(sequence),
            "QuantityIsToBeProposed": "true" if yield_quantity is None else "false",
            "ActivityIsToBeProposed": "true",
            "DateAndTimeIsToBeProposed": "true",
        }
        if yield_quantity is not None:
            params["ConfirmationYieldQuantity"] = convert.decimal_literal(yield_quantity.value)
            params["ConfirmationUnit"] = string_param(yield_quantity.unit)
        return proposal_from_sap(self._function("GetConfProposal", params))

    def _guid_param(self, function: str, value: str) -> str:
        guid = convert.guid_to_sap(value)
        schema = self._service().schema
        try:
            kind = str(schema.function_import(function).get_parameter("ExternalSystemConfirmation").typ.name)
        except KeyError:
            kind = "Edm.Guid"
        return convert.guid_literal(guid) if kind == "Edm.Guid" else string_param(guid)
