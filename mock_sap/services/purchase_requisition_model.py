"""EDM model of API_PURCHASEREQ_PROCESS_SRV (header and item, a faithful subset)."""

from __future__ import annotations

from mock_sap.edm import (
    EntitySet,
    EntityType,
    NavigationProperty,
    ServiceModel,
    boolean,
    date,
    decimal,
    string,
    typed,
)

NS = "API_PURCHASEREQ_PROCESS_SRV"
HEADER = "A_PurchaseRequisitionHeader"
ITEM = "A_PurchaseRequisitionItem"
ACCOUNT_ASSIGNMENT = "A_PurReqnAcctAssgmt"
_ASSOCIATION = "assoc_2E365BBA69BFF1FD6DED4A3FE5FC8879"
_ACCOUNT_ASSOCIATION = "assoc_DD2D86FAE4190F25D1329F064E7E2F36"

HEADER_TYPE = EntityType(
    "A_PurchaseRequisitionHeaderType",
    keys=("PurchaseRequisition",),
    label="Purchase Requisition",
    properties=[
        string("PurchaseRequisition", 10, nullable=False, display_format="UpperCase", label="Purchase Requisition"),
        string("PurchaseRequisitionType", 4, display_format="UpperCase", label="Document Type"),
        string("PurReqnDescription", 40, label="PurReqn Description"),
        boolean("SourceDetermination", display_format="UpperCase", label="Checkbox"),
    ],
    navigations=[
        NavigationProperty(
            "to_PurchaseReqnItem",
            "A_PurchaseRequisitionItemType",
            to_many=True,
            association=_ASSOCIATION,
            join=(("PurchaseRequisition", "PurchaseRequisition"),),
        )
    ],
)

_READ_ONLY = {"creatable": False, "updatable": False}

ITEM_TYPE = EntityType(
    "A_PurchaseRequisitionItemType",
    keys=("PurchaseRequisition", "PurchaseRequisitionItem"),
    label="Item",
    properties=[
        string("PurchaseRequisition", 10, nullable=False, display_format="UpperCase", label="Purchase Requisition"),
        string("PurchaseRequisitionItem", 5, nullable=False, display_format="NonNegative", label="Requisn. item"),
        string("PurReqnReleaseStatus", 2, display_format="UpperCase", label="Proc.state"),
        string("PurchaseRequisitionType", 4, display_format="UpperCase", label="Document Type"),
        string("PurchaseRequisitionItemText", 40, label="Short Text"),
        string("AccountAssignmentCategory", 1, display_format="UpperCase", label="Acct Assignment Cat."),
        string("Material", 40, display_format="UpperCase", label="Material"),
        string("MaterialGroup", 9, display_format="UpperCase", label="Material Group"),
        decimal("RequestedQuantity", 13, 3, unit="BaseUnit", label="Quantity requested"),
        string("BaseUnit", 3, label="Unit of Measure", semantics="unit-of-measure"),
        decimal("PurchaseRequisitionPrice", 12, 3, unit="PurReqnItemCurrency", label="Valuation Price"),
        decimal("PurReqnPriceQuantity", 5, 0, unit="BaseUnit", label="Price unit"),
        string("ReleaseCode", 1, display_format="UpperCase", label="Release indicator"),
        date("PurchaseRequisitionReleaseDate", label="Release Date"),
        string("PurchasingOrganization", 4, display_format="UpperCase", label="Purch. Organization"),
        string("PurchasingGroup", 3, display_format="UpperCase", label="Purchasing Group"),
        string("Plant", 4, display_format="UpperCase", label="Plant"),
        string("CompanyCode", 4, display_format="UpperCase", label="Company Code"),
        date("DeliveryDate", label="Delivery Date"),
        date("CreationDate", label="Requisition Date", **_READ_ONLY),
        string("ProcessingStatus", 1, display_format="UpperCase", label="Processing status"),
        string("Supplier", 10, display_format="UpperCase", label="Desired Supplier"),
        string("IsDeleted", 1, display_format="UpperCase", label="Deletion Indicator"),
        string("FixedSupplier", 10, display_format="UpperCase", label="Fixed Vendor"),
        string("RequisitionerName", 12, label="Requisitioner"),
        string("CreatedByUser", 12, display_format="UpperCase", label="Created By", **_READ_ONLY),
        date("PurReqCreationDate", label="Requisition Date", **_READ_ONLY),
        string("PurReqnItemCurrency", 5, display_format="UpperCase", label="Currency", semantics="currency-code"),
        boolean("IsClosed", display_format="UpperCase", label="Closed"),
        boolean("ReleaseIsNotCompleted", display_format="UpperCase", label="Subject to Release"),
        string("PurchaseRequisitionStatus", 8, display_format="UpperCase", label="Release Status"),
        string("ReleaseStrategy", 2, display_format="UpperCase", label="Release strategy"),
        decimal("ItemNetAmount", 16, 3, unit="PurReqnItemCurrency"),
        typed(
            "LastChangeDateTime",
            "Edm.DateTimeOffset",
            precision=7,
            label="Time Stamp",
            **_READ_ONLY,
        ),
    ],
    navigations=[
        NavigationProperty(
            "to_PurchaseReqn",
            "A_PurchaseRequisitionHeaderType",
            to_many=False,
            association=_ASSOCIATION,
            join=(("PurchaseRequisition", "PurchaseRequisition"),),
            reverse=True,
        ),
        NavigationProperty(
            "to_PurchaseReqnAcctAssgmt",
            "A_PurReqnAcctAssgmtType",
            to_many=True,
            association=_ACCOUNT_ASSOCIATION,
            join=(
                ("PurchaseRequisition", "PurchaseRequisition"),
                ("PurchaseRequisitionItem", "PurchaseRequisitionItem"),
            ),
        ),
    ],
)

# The accounting lines of an item: what it is charged to (cost centre, WBS element, G/L account, ...).
ACCOUNT_ASSIGNMENT_TYPE = EntityType(
    "A_PurReqnAcctAssgmtType",
    keys=("PurchaseRequisition", "PurchaseRequisitionItem", "PurchaseReqnAcctAssgmtNumber"),
    properties=[
        string("PurchaseRequisition", 10, nullable=False, display_format="UpperCase", label="Purchase Requisition"),
        string("PurchaseRequisitionItem", 5, nullable=False, display_format="NonNegative", label="Item of requisition"),
        string(
            "PurchaseReqnAcctAssgmtNumber",
            2,
            nullable=False,
            display_format="NonNegative",
            label="Serial no.acct.assgt",
        ),
        string("CostCenter", 10, display_format="UpperCase", label="Cost Center"),
        string("MasterFixedAsset", 12, display_format="UpperCase", label="Asset"),
        string("BaseUnit", 3, label="Unit of Measure", semantics="unit-of-measure", **_READ_ONLY),
        decimal("Quantity", 13, 3, unit="BaseUnit", label="Quantity requested"),
        decimal("MultipleAcctAssgmtDistrPercent", 3, 1, label="Distribution (%)"),
        string(
            "PurReqnItemCurrency",
            5,
            display_format="UpperCase",
            label="Currency",
            semantics="currency-code",
            **_READ_ONLY,
        ),
        decimal("PurReqnNetAmount", 14, 3, unit="PurReqnItemCurrency", label="Net Order Value"),
        string("IsDeleted", 1, display_format="UpperCase", label="Deletion Indicator"),
        string("GLAccount", 10, display_format="UpperCase", label="G/L Account"),
        string("OrderID", 12, display_format="UpperCase", label="Order"),
        string("ControllingArea", 4, display_format="UpperCase", label="Controlling Area"),
        string("ProfitCenter", 10, display_format="UpperCase", label="Profit Center"),
        string("WBSElement", 24, display_format="UpperCase", label="WBS Element"),
    ],
)

MODEL = ServiceModel(
    name=NS,
    namespace=NS,
    container=f"{NS}_Entities",
    entity_types=[HEADER_TYPE, ITEM_TYPE, ACCOUNT_ASSIGNMENT_TYPE],
    entity_sets=[
        EntitySet(HEADER, HEADER_TYPE.name, deletable=False),
        EntitySet(ITEM, ITEM_TYPE.name, deletable=False),
        EntitySet(ACCOUNT_ASSIGNMENT, ACCOUNT_ASSIGNMENT_TYPE.name, deletable=False),
    ],
)
