"""EDM model of /IWPGW/TASKPROCESSING;mo;v=2 (the Task Consumption Model: TaskCollection and actions)."""

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
)

NS = "TASKPROCESSING"
TASKS = "TaskCollection"
DEFINITIONS = "TaskDefinitionCollection"
ATTRIBUTES = "CustomAttributeCollection"
DESCRIPTIONS = "TaskDescriptionCollection"
WORKFLOW_LOGS = "WorkflowLogCollection"
# The business objects attached to a task: the Task Gateway's `TaskObjects` navigation (My Inbox's "objects"
# tab reads `TaskCollection(...)/TaskObjects` and `.../TaskObjects/$count`). The TCM sibling EDMX has no such
# type; its properties here are what My Inbox binds (`Label`, with ObjectID and Type) and are not verified
# against a TASKPROCESSING $metadata.
TASK_OBJECTS = "TaskObjectCollection"


def _p(name: str, edm_type: str = "Edm.String", nullable: bool = True, **kw: object) -> Property:
    # The TCM model carries no sap: property annotations.
    return Property(name, edm_type, nullable=nullable, emit_sap=False, **kw)  # type: ignore[arg-type]


_ORIGIN = _p("SAP__Origin", nullable=False, max_length=16)

TASK_TYPE = EntityType(
    "Task",
    keys=("SAP__Origin", "InstanceID"),
    emit_sap=False,
    properties=[
        _ORIGIN,
        _p("InstanceID", nullable=False),
        _p("TaskDefinitionID"),
        _p("TaskDefinitionName"),
        _p("Status"),
        _p("TaskTitle"),
        _p("HasComments", "Edm.Boolean"),
        _p("HasAttachments", "Edm.Boolean"),
        _p("HasPotentialOwners", "Edm.Boolean"),
        _p("SupportsClaim", "Edm.Boolean"),
        _p("SupportsRelease", "Edm.Boolean"),
        _p("SupportsForward", "Edm.Boolean"),
        _p("SupportsComments", "Edm.Boolean"),
        _p("SupportsAttachments", "Edm.Boolean"),
        _p("CreatedOn", "Edm.DateTime"),
        _p("CreatedBy"),
        _p("CreatedByName"),
        _p("Processor"),
        _p("CompletionDeadLine", "Edm.DateTime"),
        _p("IsEscalated", "Edm.Boolean"),
        _p("SubstitutedUserName"),
        _p("Priority"),
        _p("PriorityNumber", "Edm.Int32"),
        _p("GUI_Link"),
    ],
    navigations=[
        NavigationProperty(
            "Description",
            "TaskDescription",
            to_many=False,
            association="Task_2_r_TaskDescription",
            join=(("SAP__Origin", "SAP__Origin"), ("InstanceID", "InstanceID")),
            from_role="Task",
            to_role="r_TaskDescription",
        ),
        NavigationProperty(
            "TaskDefinitionData",
            "TaskDefinition",
            to_many=False,
            association="Task_2_r_TaskDefinition",
            join=(("SAP__Origin", "SAP__Origin"), ("TaskDefinitionID", "TaskDefinitionID")),
            from_role="Task",
            to_role="r_TaskDefinition",
        ),
        NavigationProperty(
            "CustomAttributeData",
            "CustomAttribute",
            to_many=True,
            association="Task_2_r_CustomAttribute",
            join=(("SAP__Origin", "SAP__Origin"), ("InstanceID", "InstanceID")),
            from_role="Task",
            to_role="r_CustomAttribute",
        ),
        NavigationProperty(
            "WorkflowLogs",
            "WorkflowLog",
            to_many=True,
            association="Task_2_r_WorkflowLog",
            join=(("SAP__Origin", "SAP__Origin"), ("InstanceID", "InstanceID")),
            from_role="Task",
            to_role="r_WorkflowLog",
        ),
        NavigationProperty(
            "TaskObjects",
            "TaskObject",
            to_many=True,
            association="Task_2_r_TaskObject",
            join=(("SAP__Origin", "SAP__Origin"), ("InstanceID", "InstanceID")),
            from_role="Task",
            to_role="r_TaskObject",
        ),
    ],
)

DEFINITION_TYPE = EntityType(
    "TaskDefinition",
    keys=("SAP__Origin", "TaskDefinitionID"),
    emit_sap=False,
    properties=[_ORIGIN, _p("TaskDefinitionID", nullable=False), _p("TaskName"), _p("Category")],
)

ATTRIBUTE_TYPE = EntityType(
    "CustomAttribute",
    keys=("SAP__Origin", "InstanceID", "Name"),
    emit_sap=False,
    properties=[_ORIGIN, _p("InstanceID", nullable=False), _p("Name", nullable=False), _p("Value")],
)

DESCRIPTION_TYPE = EntityType(
    "TaskDescription",
    keys=("SAP__Origin", "InstanceID"),
    emit_sap=False,
    properties=[_ORIGIN, _p("InstanceID", nullable=False), _p("Description", nullable=False)],
)

# The task's history: one entry per event (created, reserved, forwarded, decided...), EventOrder from 1.
WORKFLOW_LOG_TYPE = EntityType(
    "WorkflowLog",
    keys=("SAP__Origin", "InstanceID", "EventOrder"),
    emit_sap=False,
    properties=[
        _ORIGIN,
        _p("InstanceID", nullable=False),
        _p("EventOrder", "Edm.Int32", nullable=False),
        _p("ReferenceInstanceID", nullable=False),
        _p("PerformedBy"),
        _p("PerformedByName"),
        _p("Status", nullable=False),
        _p("Timestamp", "Edm.DateTime", precision=7),
        _p("Description"),
        _p("SupportsNavigation", "Edm.Boolean"),
        # A decision's DecisionText and its Nature (POSITIVE/NEGATIVE); empty for other events.
        _p("Result"),
        _p("ResultType"),
        _p("CreationTimestamp", "Edm.DateTime", precision=7),
        _p("EndTimestamp", "Edm.DateTime", precision=7),
    ],
)

# A business object of a task: its key in the providing system, its business object type (e.g. BUS2105,
# the purchase requisition) and the text My Inbox shows for it.
TASK_OBJECT_TYPE = EntityType(
    "TaskObject",
    keys=("SAP__Origin", "InstanceID", "ObjectID"),
    emit_sap=False,
    properties=[
        _ORIGIN,
        _p("InstanceID", nullable=False),
        _p("ObjectID", nullable=False),
        _p("Type"),
        _p("Label"),
    ],
)

# The TCM sibling declares DecisionOption empty; these fields are the documented result of DecisionOptions.
DECISION_OPTION = ComplexType(
    "DecisionOption",
    [
        _p("SAP__Origin", max_length=16),
        _p("InstanceID"),
        _p("DecisionKey"),
        _p("DecisionText"),
        _p("CommentMandatory", "Edm.Boolean"),
        _p("Nature"),
    ],
)

_ORIGIN_PARAM = Parameter("SAP__Origin", "Edm.String", max_length=16)
_INSTANCE_PARAM = Parameter("InstanceID", "Edm.String")
_TASK = f"{NS}.Task"

MODEL = ServiceModel(
    name="TASKPROCESSING",
    namespace=NS,
    container="TASKPROCESSING_Entities",
    entity_types=[TASK_TYPE, DEFINITION_TYPE, ATTRIBUTE_TYPE, DESCRIPTION_TYPE, WORKFLOW_LOG_TYPE, TASK_OBJECT_TYPE],
    complex_types=[DECISION_OPTION],
    entity_sets=[
        EntitySet(TASKS, "Task", creatable=False, updatable=False, deletable=False),
        EntitySet(DEFINITIONS, "TaskDefinition", creatable=False, updatable=False, deletable=False),
        EntitySet(ATTRIBUTES, "CustomAttribute", creatable=False, updatable=False, deletable=False),
        EntitySet(DESCRIPTIONS, "TaskDescription", creatable=False, updatable=False, deletable=False),
        EntitySet(WORKFLOW_LOGS, "WorkflowLog", creatable=False, updatable=False, deletable=False),
        EntitySet(TASK_OBJECTS, "TaskObject", creatable=False, updatable=False, deletable=False),
    ],
    function_imports=[
        FunctionImport("DecisionOptions", f"Collection({NS}.DecisionOption)", "GET", (_ORIGIN_PARAM, _INSTANCE_PARAM)),
        FunctionImport(
            "Decision",
            _TASK,
            "POST",
            (
                _ORIGIN_PARAM,
                _INSTANCE_PARAM,
                Parameter("DecisionKey", "Edm.String"),
                # Mandatory: clients send Comments='' when there is no comment.
                Parameter("Comments", "Edm.String", nullable=False),
            ),
            entity_set=TASKS,
        ),
        FunctionImport(
            "Claim",
            _TASK,
            "POST",
            (_ORIGIN_PARAM, _INSTANCE_PARAM, Parameter("Comments", "Edm.String", nullable=True)),
            entity_set=TASKS,
        ),
        FunctionImport("Release", _TASK, "POST", (_ORIGIN_PARAM, _INSTANCE_PARAM), entity_set=TASKS),
        FunctionImport(
            "Forward",
            _TASK,
            "POST",
            (_ORIGIN_PARAM, _INSTANCE_PARAM, Parameter("ForwardTo", "Edm.String", nullable=False)),
            entity_set=TASKS,
        ),
    ],
    schema_version=None,
)
