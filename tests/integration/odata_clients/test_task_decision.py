"""TasksGateway.decision: the task's decision read from SAP's workflow log, as the executive, in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import AuthKind, Principal, build_destination
from odata_clients.errors import SapNotFound, SapUnavailable
from odata_clients.gateways.tasks import TasksGateway
from odata_clients.http import record_calls
from odata_clients.models import Task, TaskDecision
from runtime.settings import DEV_ISSUER
from runtime.user_assertion import load_or_create_key, sign

from .conftest import TASKS, destination

if TYPE_CHECKING:
    from tests.conftest import MockSap


@pytest.fixture
def propagated(trusting_sap: MockSap) -> Iterator[SapConnectivity]:
    """The inbox on a user-propagation destination: each call carries the executive's own token."""
    user = build_destination("s4-user", trusting_sap.url, auth_kind=AuthKind.USER_PROPAGATION, backoff_base=0.01)
    sap = SapConnectivity(destination(trusting_sap.url), user=user)
    yield sap
    sap.close()


@pytest.fixture
def as_user(dev_idp_key_file: str) -> Callable[[str], Principal]:
    """Factory: a Principal whose bearer token the trusting mock SAP accepts for that SAP user."""
    key = load_or_create_key(dev_idp_key_file)

    def make(user: str) -> Principal:
        now = int(time.time())
        claims = {"iss": DEV_ISSUER, "iat": now, "exp": now + 600, "user_name": user.lower()}
        return Principal(user, sign(key, claims))

    return make


def pr_task(tasks: TasksGateway) -> Task:
    return next(t for t in tasks.list_open(top=100).items if t.object_id)


def option(tasks: TasksGateway, task: Task, nature: str) -> str:
    return next(o.key for o in tasks.decision_options(task.task_id, task.origin) if o.nature == nature)


def test_approval_by_the_executive_is_read_back_in_one_call_as_that_user(
    propagated: SapConnectivity, as_user: Callable[[str], Principal]
) -> None:
    anna = propagated.tasks.for_user(as_user("EXEC_ANNA"))
    task = pr_task(anna)
    assert anna.decision(task.task_id, task.origin) is None, "an undecided task has no decision"
    anna.decide(task.task_id, task.origin, option(anna, task, "POSITIVE"), comments="fine")
    with record_calls() as calls:
        decision = anna.decision(task.task_id, task.origin)
    assert isinstance(decision, TaskDecision)
    assert (decision.performed_by, decision.result, decision.nature) == ("EXEC_ANNA", "Approve", "POSITIVE")
    assert decision.at is not None and decision.at.endswith("Z")
    [call] = calls
    assert call.method == "GET" and call.path.split("?")[0].endswith("/WorkflowLogs")
    assert (call.auth_kind, call.on_behalf_of) == ("user_propagation", "EXEC_ANNA")


def test_a_decision_whose_answer_was_lost_is_found_in_the_log(
    connect: Callable[..., SapConnectivity], faults: Callable[..., None]
) -> None:
    anna = connect(user="EXEC_ANNA").tasks
    task = pr_task(anna)
    reject = option(anna, task, "NEGATIVE")
    faults(TASKS, phase="after", drop=True, methods=["POST"])
    with pytest.raises(SapUnavailable):
        anna.decide(task.task_id, task.origin, reject, comments="no budget")
    decision = anna.decision(task.task_id, task.origin)
    assert decision is not None
    assert (decision.performed_by, decision.result, decision.nature) == ("EXEC_ANNA", "Reject", "NEGATIVE")


def test_rejection_is_negative(connect: Callable[..., SapConnectivity]) -> None:
    ben = connect(user="EXEC_BEN").tasks
    task = pr_task(ben)
    ben.decide(task.task_id, task.origin, option(ben, task, "NEGATIVE"), comments="too expensive")
    decision = ben.decision(task.task_id, task.origin)
    assert decision is not None
    assert (decision.performed_by, decision.result, decision.nature) == ("EXEC_BEN", "Reject", "NEGATIVE")


def test_claim_and_release_are_no_decision(connect: Callable[..., SapConnectivity]) -> None:
    carla = connect(user="EXEC_CARLA").tasks
    task = next(t for t in carla.list_open().items if t.status == "READY")
    carla.claim(task.task_id, task.origin)
    carla.release(task.task_id, task.origin)
    assert carla.decision(task.task_id, task.origin) is None


def test_a_co_approvers_decision_names_the_co_approver(connect: Callable[..., SapConnectivity]) -> None:
    anna, deputy = connect(user="EXEC_ANNA").tasks, connect(user="EXEC_DAN").tasks
    shared = {t.task_id for t in deputy.list_open().items}
    task = next(t for t in anna.list_open().items if t.task_id in shared)
    deputy.decide(task.task_id, task.origin, option(deputy, task, "NEGATIVE"), comments="not now")
    decision = anna.decision(task.task_id, task.origin)
    assert decision is not None
    assert (decision.performed_by, decision.nature) == ("EXEC_DAN", "NEGATIVE")


def test_a_task_the_user_cannot_see_is_not_found(connect: Callable[..., SapConnectivity]) -> None:
    anna, ben = connect(user="EXEC_ANNA").tasks, connect(user="EXEC_BEN").tasks
    task = ben.list_open().items[0]
    with pytest.raises(SapNotFound):
        anna.decision(task.task_id, task.origin)
