"""The stored role and attribute snapshot, re-checked against the target as SAP describes it now."""

from __future__ import annotations

import pytest

from store import Status
from workers.commands import CommandType
from workers.snapshot import Ending, check_plant, check_role, check_work_center, command_type, same_user


def test_plant_in_snapshot_passes() -> None:
    check_plant({"Plant": ["1010", "1020"]}, "1020")


@pytest.mark.parametrize("attributes", [{}, {"Plant": []}, {"Plant": ["1020"]}, {"Plant": "1020"}])
def test_plant_outside_snapshot_is_rejected(attributes: dict[str, object]) -> None:
    with pytest.raises(Ending) as raised:
        check_plant(attributes, "1010")
    assert raised.value.status == Status.REJECTED and raised.value.code == "out_of_scope"
    assert "1010" in raised.value.message


def test_work_centre_needs_both_plant_and_work_centre() -> None:
    check_work_center({"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}, "1010", "ASSY1010")
    with pytest.raises(Ending):
        check_work_center({"Plant": ["1010"], "WorkCenter": ["PACK1010"]}, "1010", "ASSY1010")
    with pytest.raises(Ending):
        check_work_center({"Plant": ["1020"], "WorkCenter": ["ASSY1010"]}, "1010", "ASSY1010")


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (CommandType.TASK_DECISION, "Executive"),
        (CommandType.ORDER_RESCHEDULE, "PlantManager"),
        (CommandType.OPERATION_CONFIRM, "Supervisor"),
    ],
)
def test_each_command_type_needs_its_role(kind: CommandType, role: str) -> None:
    check_role(kind, role)
    with pytest.raises(Ending) as raised:
        check_role(kind, "IntegrationAdmin")
    assert raised.value.code == "role_mismatch"


def test_unknown_command_type_is_rejected() -> None:
    with pytest.raises(Ending) as raised:
        command_type("order.delete")
    assert raised.value.status == Status.REJECTED


def test_error_shape_matches_sap_errors() -> None:
    shape = Ending(Status.CONFLICT, "decided_elsewhere", "decided by EXEC_DAN", processor="EXEC_DAN").as_dict()
    assert shape["message"] == "decided by EXEC_DAN" and shape["kind"] == "decided_elsewhere"
    assert shape["processor"] == "EXEC_DAN" and "status" in shape


def test_sap_user_names_compare_case_insensitively() -> None:
    assert same_user("exec_anna", "EXEC_ANNA") and not same_user("EXEC_ANNA", "EXEC_DAN")
