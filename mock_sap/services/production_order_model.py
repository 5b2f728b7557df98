"""EDM model of API_PRODUCTION_ORDER_2_SRV (a faithful subset: real names, types and facets)."""

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
    flag,
    string,
    time,
)

NS = "API_PRODUCTION_ORDER_2_SRV"
ORDER = "A_ProductionOrder_2"
OPERATION = "A_ProductionOrderOperation_2"
STATUS = "A_ProductionOrderStatus_2"
# The RAP-based component set (reached from an order over to_ProductionOrderComponentExt4): it carries the result of
# the availability check per component (ConfirmedAvailableQuantity). The API has no missing-part flag anywhere.
COMPONENT = "A_ProductionOrderComponent_4"


def _unit(name: str, label: str) -> list[Property]:
    return [
        string(name, 3, label=label, semantics="unit-of-measure"),
        string(f"{name}ISOCode", 3, label="ISO Code", display_format="UpperCase"),
        string(f"{name}SAPCode", 3, label="Internal SAP Code"),
    ]


ORDER_TYPE = EntityType(
    "A_ProductionOrder_2Type",
    keys=("ManufacturingOrder",),
    label="Production Order",
    properties=[
        string("ManufacturingOrder", 12, nullable=False, display_format="UpperCase", label="Production Order"),
        string("ManufacturingOrderCategory", 2, display_format="NonNegative", label="Order Category"),
        string("ManufacturingOrderType", 4, display_format="UpperCase", label="Order Type"),
        string("ManufacturingOrderImportance", 1, display_format="UpperCase", label="Order Importance"),
        flag("OrderIsCreated"),
        flag("OrderIsReleased"),
        flag("OrderIsPrinted"),
        flag("OrderIsConfirmed"),
        flag("OrderIsPartiallyConfirmed"),
        flag("OrderIsDelivered"),
        flag("OrderIsDeleted"),
        flag("OrderIsPartiallyReleased"),
        flag("OrderIsLocked"),
        flag("OrderIsTechnicallyCompleted"),
        flag("OrderIsClosed"),
        flag("OrderIsPartiallyDelivered"),
        flag("OrderIsMarkedForDeletion"),
        flag("OrderIsScheduled"),
        date("MfgOrderCreationDate", label="Order Creation Date"),
        time("MfgOrderCreationTime", label="Order Creation Time"),
        string("LastChangeDateTime", 14, concurrency_fixed=True),
        string("Material", 40, display_format="UpperCase", label="Material", quickinfo="Material Number for Order"),
        string("StorageLocation", 4, display_format="UpperCase", label="Storage Location"),
        string("OrderInternalBillOfOperations", 10, display_format="NonNegative", label="Order Internal ID"),
        string("ProductionPlant", 4, display_format="UpperCase", label="Production Plant"),
        string("Plant", 4, display_format="UpperCase", label="Planning Plant", quickinfo="Planning Plant for an Order"),
        string("MRPController", 3, display_format="UpperCase", label="MRP Controller"),
        string("ProductionSupervisor", 3, display_format="UpperCase", label="Production Supervisor"),
        string("ProductionVersion", 4, display_format="UpperCase", label="Production Version"),
        string("PlannedOrder", 10, display_format="UpperCase", label="Planned Order"),
        string("SalesOrder", 10, display_format="UpperCase", label="Sales Order"),
        string("SalesOrderItem", 6, display_format="NonNegative", label="Sales Order Item"),
        string("CompanyCode", 4, display_format="UpperCase", label="Company Code"),
        string("ProfitCenter", 10, display_format="UpperCase", label="Profit Center"),
        date("MfgOrderPlannedStartDate", label="Planned Start Date"),
        time("MfgOrderPlannedStartTime", label="Planned Start Time"),
        date("MfgOrderPlannedEndDate", label="Planned End Date"),
        time("MfgOrderPlannedEndTime", label="Planned End Time"),
        date("MfgOrderScheduledStartDate", label="Scheduled Start Date"),
        time("MfgOrderScheduledStartTime", label="Scheduled Start Time"),
        date("MfgOrderScheduledEndDate", label="Scheduled End Date"),
        time("MfgOrderScheduledEndTime", label="Scheduled End Time"),
        date("MfgOrderActualReleaseDate", label="Actual Release Date"),
        *_unit("ProductionUnit", "Production Unit"),
        decimal("TotalQuantity", 13, 3, unit="ProductionUnit", label="Total Quantity"),
        decimal("MfgOrderPlannedScrapQty", 13, 3, unit="ProductionUnit", label="Scrap Quantity"),
        decimal("MfgOrderConfirmedYieldQty", 13, 3, unit="ProductionUnit", label="Confirmed Yield"),
        string("CustomerName", 80, label="Name of Customer"),
    ],
    navigations=[
        NavigationProperty(
            "to_ProductionOrderOperation",
            "A_ProductionOrderOperation_2Type",
            to_many=True,
            association="assoc_E53DC734265B7A59243229B745AB1B9E",
            join=(("ManufacturingOrder", "ManufacturingOrder"),),
        ),
        NavigationProperty(
            "to_ProductionOrderStatus",
            "A_ProductionOrderStatus_2Type",
            to_many=True,
            association="assoc_9DB25913A41F517C778A0056AA33D0B3",
            join=(("ManufacturingOrder", "ManufacturingOrder"),),
        ),
        NavigationProperty(
            "to_ProductionOrderComponentExt4",
            "A_ProductionOrderComponent_4Type",
            to_many=True,
            association="assoc_11392B63090B7AA3881D5DF7EAABE964",
            join=(("ManufacturingOrder", "ManufacturingOrder"),),
        ),
    ],
)

OPERATION_TYPE = EntityType(
    "A_ProductionOrderOperation_2Type",
    keys=("OrderInternalBillOfOperations", "OrderIntBillOfOperationsItem"),
    label="Production Order Operations",
    properties=[
        string(
            "OrderInternalBillOfOperations", 10, nullable=False, display_format="NonNegative", label="Order Internal ID"
        ),
        string(
            "OrderIntBillOfOperationsItem",
            8,
            nullable=False,
            display_format="NonNegative",
            label="Operation Internal ID",
        ),
        string("ManufacturingOrder", 12, display_format="UpperCase", label="Production Order"),
        string("ManufacturingOrderSequence", 6, display_format="UpperCase", label="Sequence"),
        string(
            "ManufacturingOrderOperation",
            4,
            display_format="UpperCase",
            label="Operation",
            text="MfgOrderOperationText",
        ),
        string("ManufacturingOrderSubOperation", 4, display_format="UpperCase", label="Suboperation"),
        string("ManufacturingOrderCategory", 2, display_format="NonNegative", label="Order Category"),
        string("ManufacturingOrderType", 4, display_format="UpperCase", label="Order Type"),
        string("MfgOrderOperationText", 40, label="Operation Text"),
        flag("OperationIsCreated"),
        flag("OperationIsReleased"),
        flag("OperationIsPrinted"),
        flag("OperationIsConfirmed"),
        flag("OperationIsPartiallyConfirmed"),
        flag("OperationIsDeleted"),
        flag("OperationIsTechlyCompleted"),
        flag("OperationIsClosed"),
        flag("OperationIsScheduled"),
        string("ProductionPlant", 4, display_format="UpperCase", label="Production Plant"),
        string("WorkCenterInternalID", 8, display_format="NonNegative", label="Work Center Internal"),
        string("WorkCenterTypeCode", 1, label="Work Center Type Code"),
        string("WorkCenter", 8, display_format="UpperCase", label="Work Center"),
        string("OperationControlProfile", 4, display_format="UpperCase", label="Control Profile"),
        date("OpErlstSchedldExecStrtDte", label="Execution Start Date"),
        time("OpErlstSchedldExecStrtTme", label="Execution Start Time"),
        date("OpErlstSchedldExecEndDte", label="Execution End Date"),
        time("OpErlstSchedldExecEndTme", label="Execution End Time"),
        date("OpActualExecutionStartDate", label="Confirmed Execution Start Date"),
        time("OpActualExecutionStartTime", label="Confirmed Execution Start Time"),
        date("OpActualExecutionEndDate", label="Confirmed Execution End Date"),
        time("OpActualExecutionEndTime", label="Confirmed Execution End Time"),
        string("OperationUnit", 3, label="Operation Unit", semantics="unit-of-measure"),
        string("OperationUnitISOCode", 3, display_format="UpperCase", label="ISO Code"),
        string("OperationUnitSAPCode", 3, label="Internal SAP Code"),
        decimal("OpPlannedTotalQuantity", 13, 3, unit="OperationUnit", label="Operation Quantity"),
        decimal("OpTotalConfirmedYieldQty", 13, 3, unit="OperationUnit", label="Confirmed Yield"),
        string("WorkCenterStandardWorkQtyUnit1", 3, label="Work Quantity Unit 1", semantics="unit-of-measure"),
        decimal("WorkCenterStandardWorkQty1", 9, 3, unit="WorkCenterStandardWorkQtyUnit1", label="Standard Value"),
        string("LastChangeDateTime", 14, concurrency_fixed=True),
    ],
)

STATUS_TYPE = EntityType(
    "A_ProductionOrderStatus_2Type",
    keys=("ManufacturingOrder", "StatusCode"),
    label="Production Order Status",
    properties=[
        string("ManufacturingOrder", 12, nullable=False, display_format="UpperCase", label="Production Order"),
        string("StatusCode", 5, nullable=False, display_format="UpperCase", label="Status", quickinfo="Object status"),
        boolean("IsUserStatus", label="Is User Status"),
        string("StatusShortName", 4, label="Status"),
        string("StatusName", 30, label="Status"),
    ],
)

COMPONENT_TYPE = EntityType(
    "A_ProductionOrderComponent_4Type",
    keys=("Reservation", "ReservationItem", "ReservationRecordType"),
    label="Production Order Components Using RAP BO",
    properties=[
        string(
            "Reservation",
            10,
            nullable=False,
            display_format="NonNegative",
            label="Reservation",
            quickinfo="Number of reservation/dependent requirements",
        ),
        string("ReservationItem", 4, nullable=False, display_format="NonNegative", label="Reservation Item"),
        string("ReservationRecordType", 1, nullable=False, display_format="UpperCase", label="Reservation Record Type"),
        string("Material", 40, display_format="UpperCase", label="Material", quickinfo="Material Number"),
        string("Plant", 4, display_format="UpperCase", label="Plant"),
        string(
            "ManufacturingOrderCategory",
            2,
            display_format="NonNegative",
            label="Order Category",
            quickinfo="Manufacturing Order Category",
        ),
        string(
            "ManufacturingOrderType",
            4,
            display_format="UpperCase",
            label="Order Type",
            quickinfo="Manufacturing Order Type",
        ),
        string("ManufacturingOrder", 12, display_format="UpperCase", label="Production Order"),
        string("ManufacturingOrderSequence", 6, display_format="UpperCase", label="Sequence"),
        string(
            "ManufacturingOrderOperation",
            4,
            display_format="UpperCase",
            label="Operation or Phase",
            quickinfo="Operation or Phase Number",
        ),
        string("ProductionPlant", 4, display_format="UpperCase", label="Production Plant"),
        string("OrderInternalBillOfOperations", 10, display_format="NonNegative", label="Order Internal ID"),
        date("MatlCompRequirementDate", label="Requirement Date", quickinfo="Material Component Requirement Date"),
        time("MatlCompRequirementTime", label="Requirement Time", quickinfo="Material Component Requirement Time"),
        boolean("ReservationIsFinallyIssued", label="Final Issue", quickinfo="Final Issue for Reservation"),
        boolean("MatlCompIsMarkedForDeletion", label="Marked for Deletion"),
        boolean("MatlCompIsMarkedForBackflush", label="Backflush", quickinfo="Indicator: Backflush"),
        string("BOMItemDescription", 40, label="BOM Item Text", quickinfo="BOM Item Text (Line 1)"),
        string("StorageLocation", 4, display_format="UpperCase", label="Storage Location"),
        string("BaseUnit", 3, label="Base Unit of Measure", semantics="unit-of-measure"),
        string(
            "BaseUnitISOCode",
            3,
            display_format="UpperCase",
            label="ISO Code",
            quickinfo="ISO Code for Unit of Measurement",
        ),
        string(
            "BaseUnitSAPCode",
            3,
            label="Internal SAP Code",
            quickinfo="Unit of Measurement, Internal SAP Code (No Conversion)",
        ),
        decimal("RequiredQuantity", 13, 3, unit="BaseUnit", label="Requirement Quantity"),
        decimal("WithdrawnQuantity", 13, 3, unit="BaseUnit", label="Withdrawn Quantity"),
        decimal("ConfirmedAvailableQuantity", 15, 3, unit="BaseUnit", label="Available Quantity"),
        string("LastChangeDateTime", 14, concurrency_fixed=True, semantics="duration"),
    ],
)

FUNCTION_MESSAGE = ComplexType(
    "FunctionMessage",
    [
        string("SystemMessageType", 1, label="Message Type"),
        string("SystemMessageIdentification", 20, label="Message Class"),
        string("SystemMessageNumber", 3, label="Message Number"),
        string("SystemMessageLongText", 220, label="Message Text"),
        string("SystemMessageVariable1", 50, label="Message Variable"),
        string("SystemMessageVariable2", 50, label="Message Variable"),
        string("SystemMessageVariable3", 50, label="Message Variable"),
        string("SystemMessageVariable4", 50, label="Message Variable"),
    ],
)

_ORDER_PARAM = Parameter("ManufacturingOrder", "Edm.String", max_length=12)
_ACTION_FOR = f"{NS}.A_ProductionOrder_2Type"


def _order_action(name: str) -> FunctionImport:
    return FunctionImport(name, f"{NS}.FunctionMessage", "POST", (_ORDER_PARAM,), action_for=_ACTION_FOR)


MODEL = ServiceModel(
    name=NS,
    namespace=NS,
    container=f"{NS}_Entities",
    entity_types=[ORDER_TYPE, OPERATION_TYPE, STATUS_TYPE, COMPONENT_TYPE],
    complex_types=[FUNCTION_MESSAGE],
    entity_sets=[
        EntitySet(OPERATION, OPERATION_TYPE.name, creatable=False, deletable=False),
        EntitySet(STATUS, STATUS_TYPE.name, creatable=False, updatable=False, deletable=False),
        EntitySet(ORDER, ORDER_TYPE.name, deletable=False),
        EntitySet(COMPONENT, COMPONENT_TYPE.name, creatable=False),
    ],
    function_imports=[
        _order_action("ReleaseOrder"),
        FunctionImport(
            "ReleaseOperation",
            f"{NS}.FunctionMessage",
            "POST",
            (
                _ORDER_PARAM,
                Parameter("ManufacturingOrderOperation", "Edm.String", max_length=4),
                Parameter("ManufacturingOrderSequence", "Edm.String"),
            ),
            action_for=_ACTION_FOR,
        ),
        _order_action("TechlyCmpltOrder"),
    ],
)
