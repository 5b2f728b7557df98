"""Build all tables of the mock from the seed: production, confirmations, requisitions, inbox."""

from __future__ import annotations

import datetime as dt

from mock_sap.data.approvals import generate_approvals
from mock_sap.data.production import generate_production
from mock_sap.services import confirmation_model as conf
from mock_sap.services import production_order_model as prod
from mock_sap.services import purchase_requisition_model as pr
from mock_sap.services import taskprocessing_model as tasks
from mock_sap.services.taskprocessing import TASK_META, TASK_META_TYPE
from mock_sap.store import Store, Table


def build_store(orders: int, seed: int, reference: dt.date) -> Store:
    store = Store()
    production = generate_production(
        orders, seed, reference, prod.ORDER_TYPE, prod.OPERATION_TYPE, conf.CONFIRMATION_TYPE, prod.COMPONENT_TYPE
    )
    # Production orders are indexed by plant: the plant manager's list filters on it.
    store.add(prod.ORDER, Table(prod.ORDER_TYPE, ("ProductionPlant",))).load(production.orders)
    store.add(prod.OPERATION, Table(prod.OPERATION_TYPE, ("ManufacturingOrder", "WorkCenter"))).load(
        production.operations
    )
    store.add(prod.COMPONENT, Table(prod.COMPONENT_TYPE, ("ManufacturingOrder", "ProductionPlant"))).load(
        production.components
    )
    store.add(conf.CONFIRMATION, Table(conf.CONFIRMATION_TYPE, ("ConfirmationGroup", "OrderID"))).load(
        production.confirmations
    )
    store.add(conf.MATERIAL_DOCUMENT_ITEM, Table(conf.MATERIAL_DOCUMENT_ITEM_TYPE, ("ConfirmationGroup",))).load([])

    approvals = generate_approvals(
        seed,
        reference,
        pr.HEADER_TYPE,
        pr.ITEM_TYPE,
        tasks.TASK_TYPE,
        tasks.DEFINITION_TYPE,
        tasks.ATTRIBUTE_TYPE,
        tasks.DESCRIPTION_TYPE,
        tasks.WORKFLOW_LOG_TYPE,
        pr.ACCOUNT_ASSIGNMENT_TYPE,
        tasks.TASK_OBJECT_TYPE,
    )
    store.add(pr.HEADER, Table(pr.HEADER_TYPE)).load(approvals.headers)
    store.add(pr.ITEM, Table(pr.ITEM_TYPE, ("PurchaseRequisition",))).load(approvals.items)
    store.add(pr.ACCOUNT_ASSIGNMENT, Table(pr.ACCOUNT_ASSIGNMENT_TYPE, ("PurchaseRequisition",))).load(
        approvals.account_assignments
    )
    store.add(tasks.TASKS, Table(tasks.TASK_TYPE)).load(approvals.tasks)
    store.add(tasks.DEFINITIONS, Table(tasks.DEFINITION_TYPE)).load(approvals.definitions)
    store.add(tasks.ATTRIBUTES, Table(tasks.ATTRIBUTE_TYPE, ("InstanceID",))).load(approvals.attributes)
    store.add(tasks.DESCRIPTIONS, Table(tasks.DESCRIPTION_TYPE)).load(approvals.descriptions)
    store.add(tasks.WORKFLOW_LOGS, Table(tasks.WORKFLOW_LOG_TYPE, ("InstanceID",))).load(approvals.logs)
    store.add(tasks.TASK_OBJECTS, Table(tasks.TASK_OBJECT_TYPE, ("InstanceID",))).load(approvals.task_objects)
    meta_rows: list[tuple[object, ...]] = [
        (
            instance,
            owners,
            instance in approvals.comment_on_reject,
            approvals.task_requisition.get(instance, ""),
            approvals.substitutes.get(instance, ()),
        )
        for instance, owners in approvals.owners.items()
    ]
    store.add(TASK_META, Table(TASK_META_TYPE)).load(meta_rows)
    return store
