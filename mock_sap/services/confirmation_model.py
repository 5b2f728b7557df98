"""EDM model of API_PROD_ORDER_CONFIRMATION_2_SRV (names and types as in SAP's published API)."""

from __future__ import annotations

from mock_sap.edm import (
    ComplexType,
    EntitySet,
    EntityType,
    FunctionImport,
    NavigationProperty,
    Parameter,
    Property,
    ServiceModel,
    boolean,
    date,
    decimal,
    string,
    time,
    typed,
)

NS = "API_PROD_ORDER_CONFIRMATION_2_SRV"
CONFIRMATION = "ProdnOrdConf2"
MATERIAL_DOCUMENT_ITEM = "ProdnOrdConfMatlDocItm"


def _quantity(name: str, label: str) -> Property:
    return decimal(name, 13, 3, label=label)


def _work_quantities() -> list[Property]:
    props: list[Property] = []
    for n in range(1, 7):
        props += [
            string(f"OpWorkQuantityUnit{n}", 3, label=f"Confirmed Work Quantity Unit {n}"),
            string(f"WorkQuantityUnit{n}ISOCode", 3, label="ISO code"),
            string(f"WorkQuantityUnit{n}SAPCode", 3, label="Internal SAP Code"),
            decimal(f"OpConfirmedWorkQuantity{n}", 13, 3, label=f"Confirmed Work Quantity {n}"),
            boolean(f"NoFurtherOpWorkQuantity{n}IsExpd", label=f"No Remaining Work Quantity {n} Expected"),
        ]
    return props


def _confirmation_properties(keys_nullable: bool) -> list[Property]:
    return [
        string("ConfirmationGroup", 10, nullable=keys_nullable, label="Confirmation Group"),
        string("ConfirmationCount", 8, nullable=keys_nullable, label="Order Confirmation"),
        string("OrderID", 12, label="Manufacturing Order"),
        string("Sequence", 6, label="Sequence"),
        string("OrderOperation", 4, label="Operation"),
        string("OrderSuboperation", 4, label="Suboperation"),
        string("OrderType", 4, label="Order Type"),
        string("OrderOperationInternalID", 8, label="Operation Internal ID"),
        string("ConfirmationText", 40, label="Confirmation Text"),
        string("Language", 2, label="Language Key"),
        string("Material", 40, label="Material"),
        _quantity("OrderPlannedTotalQty", "Total Quantity"),
        string("ProductionUnit", 3, label="Production Unit"),
        string("FinalConfirmationType", 1, label="Final Confirmation Type"),
        boolean("IsFinalConfirmation", label="Final Confirmation"),
        boolean("OpenReservationsIsCleared", label="Clear Open Reservs."),
        boolean("IsReversed", label="Reversed"),
        boolean("IsReversal", label="Is a Cancellation"),
        boolean("APIConfHasNoGoodsMovements", label="No Goods Movement"),
        string("OrderConfirmationRecordType", 3, label="Record Type"),
        date("ConfirmationEntryDate", label="Entry Date"),
        time("ConfirmationEntryTime", label="Entry Time"),
        string("EnteredByUser", 12, label="Entered by User"),
        date("LastChangeDate", label="Last Change"),
        string("LastChangedByUser", 12, label="Changed By"),
        date("ConfirmationExternalEntryDate", label="Created on"),
        time("ConfirmationExternalEntryTime", label="Time"),
        string("EnteredByExternalUser", 12, label="Created by"),
        typed("ExternalSystemConfirmation", "Edm.Guid", label="External Key"),
        string("Plant", 4, label="Plant"),
        string("WorkCenterTypeCode", 2, label="Resource Object Type"),
        string("WorkCenter", 8, label="Work Center"),
        string("Personnel", 8, label="Personnel"),
        date("PostingDate", label="Posting Date"),
        date("ConfirmedExecutionStartDate", label="Confirmed Execution Start Date"),
        time("ConfirmedExecutionStartTime", label="Confirmed Execution Start Time"),
        date("ConfirmedExecutionEndDate", label="Confirmed Execution End Date"),
        time("ConfirmedExecutionEndTime", label="Confirmed Execution End Time"),
        string("ConfirmationUnit", 3, label="Confirmation Unit"),
        string("ConfirmationUnitISOCode", 3, label="ISO code"),
        string("ConfirmationUnitSAPCode", 3, label="Internal SAP Code"),
        _quantity("ConfirmationYieldQuantity", "Yield Quantity"),
        _quantity("ConfirmationScrapQuantity", "Scrap Quantity"),
        _quantity("ConfirmationReworkQuantity", "Rework Quantity"),
        string("VarianceReasonCode", 4, label="Variance Reason"),
        *_work_quantities(),
    ]


CONFIRMATION_TYPE = EntityType(
    "ProdnOrdConf2Type",
    keys=("ConfirmationGroup", "ConfirmationCount"),
    label="Confirmation",
    properties=_confirmation_properties(keys_nullable=False),
    navigations=[
        NavigationProperty(
            "to_ProdnOrdConfMatlDocItm",
            "ProdnOrdConfMatlDocItmType",
            to_many=True,
            association="assoc_ProdnOrdConf2_MatlDocItm",
            join=(("ConfirmationGroup", "ConfirmationGroup"), ("ConfirmationCount", "ConfirmationCount")),
        )
    ],
)

MATERIAL_DOCUMENT_ITEM_TYPE = EntityType(
    "ProdnOrdConfMatlDocItmType",
    keys=("ConfirmationGroup", "ConfirmationCount", "MaterialDocument", "MaterialDocumentItem", "MaterialDocumentYear"),
    label="Goods Movement",
    properties=[
        string("ConfirmationGroup", 10, nullable=False, label="Confirmation Group"),
        string("ConfirmationCount", 8, nullable=False, label="Order Confirmation"),
        string("MaterialDocument", 10, nullable=False, label="Material Document"),
        string("MaterialDocumentItem", 4, nullable=False, label="Material Doc. Item"),
        string("MaterialDocumentYear", 4, nullable=False, label="Material Doc. Year"),
        string("OrderID", 12, label="Order"),
        string("Material", 40, label="Material"),
        string("Plant", 4, label="Plant"),
        string("StorageLocation", 4, label="Storage Location"),
        string("Batch", 10, label="Batch"),
        string("GoodsMovementType", 3, label="Movement Type"),
        string("EntryUnit", 3, label="Unit of Entry"),
        string("EntryUnitISOCode", 3, label="ISO code"),
        string("EntryUnitSAPCode", 3, label="Internal SAP Code"),
        decimal("QuantityInEntryUnit", 13, 3, label="Quantity in Unit of Entry"),
        string("MaterialDocumentItemText", 50, label="Item Text"),
    ],
)

PROPOSAL_TYPE = ComplexType("AProductionorderconf2", _confirmation_properties(keys_nullable=True))


def _optional(name: str, edm_type: str = "Edm.String", **kw: object) -> Parameter:
    return Parameter(name, edm_type, nullable=True, **kw)  # type: ignore[arg-type]


_PROPOSAL_PARAMETERS = (
    _optional("ConfirmationGroup"),
    _optional("OrderID"),
    _optional("OrderOperation"),
    _optional("Sequence"),
    _optional("OrderSuboperation"),
    _optional("OrderConfirmationRecordType"),
    _optional("ConfirmationUnit"),
    _optional("ConfirmationUnitISOCode"),
    _optional("ConfirmationUnitSAPCode"),
    _optional("ConfirmationYieldQuantity", "Edm.Decimal", precision=13, scale=3),
    _optional("ConfirmationScrapQuantity", "Edm.Decimal", precision=13, scale=3),
    _optional("ConfirmationReworkQuantity", "Edm.Decimal", precision=13, scale=3),
    _optional("QuantityIsToBeProposed", "Edm.Boolean"),
    _optional("ActivityIsToBeProposed", "Edm.Boolean"),
    _optional("DateAndTimeIsToBeProposed", "Edm.Boolean"),
    _optional("PersonnelIsToBeProposed", "Edm.Boolean"),
)

MODEL = ServiceModel(
    name=NS,
    namespace=NS,
    container=f"{NS}_Entities",
    entity_types=[CONFIRMATION_TYPE, MATERIAL_DOCUMENT_ITEM_TYPE],
    complex_types=[PROPOSAL_TYPE],
    entity_sets=[
        EntitySet(CONFIRMATION, CONFIRMATION_TYPE.name, updatable=False, deletable=False),
        EntitySet(
            MATERIAL_DOCUMENT_ITEM, MATERIAL_DOCUMENT_ITEM_TYPE.name, creatable=False, updatable=False, deletable=False
        ),
    ],
    function_imports=[
        FunctionImport(
            "CancelProdnOrdConf",
            f"{NS}.ProdnOrdConf2Type",
            "POST",
            (
                Parameter("ConfirmationGroup", "Edm.String", nullable=False),
                Parameter("ConfirmationCount", "Edm.String", nullable=False),
                _optional("PostingDate", "Edm.DateTime", precision=0),
                _optional("ConfirmationText"),
                _optional("ExternalSystemConfirmation", "Edm.Guid"),
            ),
            entity_set=CONFIRMATION,
        ),
        FunctionImport("GetConfProposal", f"{NS}.AProductionorderconf2", "POST", _PROPOSAL_PARAMETERS),
    ],
)
