"""TASKPROCESSING: per-user inbox, DecisionOptions, Decision (approve/reject) and its effect on the requisition,
Claim, Release, Forward, and the errors of a task that was already decided."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyodata
import pytest
from pyodata.exceptions import HttpError

from .conftest import EXECUTIVES, PURREQ, TASKS, TECH_USER, Sap, assert_sap_error

TASK_SET = "TaskCollection"
PRIORITIES = {"VERY_HIGH", "HIGH", "MEDIUM", "LOW"}
OPEN_STATUSES = {"READY", "RESERVED", "IN_PROGRESS"}


def task_params(task: dict[str, Any]) -> dict[str, str]:
    return {"SAP__Origin": f"'{task['SAP__Origin']}'", "InstanceID": f"'{task['InstanceID']}'"}


def task_path(task: dict[str, Any]) -> str:
    return f"{TASK_SET}(SAP__Origin='{task['SAP__Origin']}',InstanceID='{task['InstanceID']}')"


def inbox(sap: Sap) -> list[dict[str, Any]]:
    entities, count, _ = sap.collect(TASKS, TASK_SET)
    assert len(entities) == count
    return entities


def open_tasks(sap: Sap) -> list[dict[str, Any]]:
    return [t for t in inbox(sap) if t["Status"] in OPEN_STATUSES]


def requisition_numbers(sap: Sap) -> dict[str, str]:
    """All requisition numbers, keyed also without leading zeros (titles often drop them)."""
    headers, _, _ = sap.collect(PURREQ, "A_PurchaseRequisitionHeader")
    numbers = {}
    for header in headers:
        number = header["PurchaseRequisition"]
        numbers[number] = number
        numbers[number.lstrip("0")] = number
    return numbers


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() if key != "__metadata" for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def requisition_of(sap: Sap, task: dict[str, Any], numbers: dict[str, str]) -> str | None:
    """The requisition a task points at: a requisition number in the task's data or its navigations
    (custom attributes, description), wherever the inbox exposes the business object."""
    data = {k: v for k, v in task.items() if k not in ("InstanceID", "SAP__Origin")}
    texts = _strings({k: v for k, v in data.items() if not (isinstance(v, dict) and "__deferred" in v)})
    for value in data.values():
        if isinstance(value, dict) and "__deferred" in value:
            response = sap.session.get(value["__deferred"]["uri"], headers={"Accept": "application/json"}, timeout=30)
            assert response.status_code == 200, value["__deferred"]["uri"]
            texts += _strings(response.json()["d"])
    for text in texts:
        for token in re.findall(r"(?<!\d)\d{5,10}(?!\d)", text):
            if token in numbers:
                return numbers[token]
    return None


def items_of(sap: Sap, requisition: str) -> list[dict[str, Any]]:
    items = sap.results(PURREQ, "A_PurchaseRequisitionItem", {"$filter": f"PurchaseRequisition eq '{requisition}'"})
    assert items, f"requisition {requisition} has no items"
    return items


def release_state(items: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(i["PurReqnReleaseStatus"], i["ReleaseIsNotCompleted"]) for i in items]


def decision_options(sap: Sap, task: dict[str, Any]) -> list[dict[str, Any]]:
    response = sap.call(TASKS, "DecisionOptions", "GET", **task_params(task))
    assert response.status_code == 200, response.text
    payload = response.json()["d"]
    return payload["results"] if isinstance(payload, dict) else payload


def decide(sap: Sap, task: dict[str, Any], key: str, comments: str | None = "") -> Any:
    params = task_params(task) | {"DecisionKey": f"'{key}'"}
    if comments is not None:
        params["Comments"] = "'" + comments.replace("'", "''") + "'"
    return sap.call(TASKS, "Decision", **params)


def option_key(sap: Sap, task: dict[str, Any], nature: str) -> str:
    options = decision_options(sap, task)
    return next(o["DecisionKey"] for o in options if o["Nature"] == nature)


@pytest.fixture
def anna(sap: Callable[..., Sap]) -> Sap:
    return sap("EXEC_ANNA")


@pytest.fixture
def ben(sap: Callable[..., Sap]) -> Sap:
    return sap("EXEC_BEN")


def pr_task(sap: Sap) -> tuple[dict[str, Any], str]:
    numbers = requisition_numbers(sap)
    for task in open_tasks(sap):
        requisition = requisition_of(sap, task, numbers)
        if requisition and all(i["ReleaseIsNotCompleted"] for i in items_of(sap, requisition)):
            return task, requisition
    pytest.fail(f"{sap.user} has no open requisition-release task")


def test_each_executive_sees_only_their_own_tasks(sap: Callable[..., Sap]):
    seen = {}
    for user in EXECUTIVES:
        tasks = inbox(sap(user))
        assert tasks, f"{user} should have open tasks"
        seen[user] = {(t["SAP__Origin"], t["InstanceID"]) for t in tasks}
    for user in EXECUTIVES:
        for other in EXECUTIVES:
            if user != other:
                assert not seen[user] & seen[other], f"{user} sees tasks of {other}"
    technical = {(t["SAP__Origin"], t["InstanceID"]) for t in inbox(sap(TECH_USER))}
    assert not technical & set().union(*seen.values()), "the technical user must not see executives' tasks"


def test_another_users_task_cannot_be_read_by_key(anna: Sap, ben: Sap):
    task = inbox(ben)[0]
    assert ben.get(TASKS, task_path(task)).status_code == 200
    response = anna.get(TASKS, task_path(task))
    assert_sap_error(response)
    assert response.status_code in (403, 404)


def test_tasks_mix_types_and_priorities(sap: Callable[..., Sap]):
    tasks = [t for user in EXECUTIVES for t in inbox(sap(user))]
    assert len({t["TaskDefinitionID"] for t in tasks}) >= 2, "several task types"
    priorities = {t["Priority"] for t in tasks}
    assert priorities <= PRIORITIES and len(priorities) >= 2, priorities
    for task in tasks:
        assert task["TaskTitle"]
        assert re.fullmatch(r"/Date\(\d+\)/", task["CreatedOn"])


def test_most_tasks_point_at_existing_requisitions_and_others_do_not(sap: Callable[..., Sap]):
    tech = sap(TECH_USER)
    numbers = requisition_numbers(tech)
    tasks, linked = [], {}
    for user in EXECUTIVES:
        executive = sap(user)
        for task in inbox(executive):
            tasks.append(task)
            linked[task["InstanceID"]] = requisition_of(executive, task, numbers)
    pr_tasks = [t for t in tasks if linked[t["InstanceID"]]]
    assert len(pr_tasks) > len(tasks) / 2, "most tasks are requisition releases"
    pr_types = {t["TaskDefinitionID"] for t in pr_tasks}
    others = [t for t in tasks if t["TaskDefinitionID"] not in pr_types]
    assert others, "other task types exist"
    assert all(linked[t["InstanceID"]] is None for t in others), "other task types carry only their own fields"
    for task in pr_tasks:
        header = tech.read(PURREQ, f"A_PurchaseRequisitionHeader('{linked[task['InstanceID']]}')")
        assert header["PurchaseRequisition"] == linked[task["InstanceID"]]


def test_task_list_supports_filter_count_and_orderby(anna: Sap):
    tasks = inbox(anna)
    priority = tasks[0]["Priority"]
    filtered = anna.read(TASKS, TASK_SET, {"$filter": f"Priority eq '{priority}'", "$inlinecount": "allpages"})
    expected = {t["InstanceID"] for t in tasks if t["Priority"] == priority}
    assert {t["InstanceID"] for t in filtered["results"]} == expected
    assert filtered["__count"] == str(len(expected))
    assert anna.get(TASKS, f"{TASK_SET}/$count").text.strip() == str(len(tasks))
    ordered = anna.results(TASKS, TASK_SET, {"$orderby": "CreatedOn desc"})
    dates = [int(re.findall(r"\d+", t["CreatedOn"])[0]) for t in ordered]
    assert dates == sorted(dates, reverse=True)


def test_decision_options_offer_approve_and_reject(anna: Sap):
    task, _ = pr_task(anna)
    options = decision_options(anna, task)
    assert {o["Nature"] for o in options} >= {"POSITIVE", "NEGATIVE"}
    for option in options:
        assert option["DecisionKey"] and option["DecisionText"]
        if "CommentMandatory" in option:
            assert isinstance(option["CommentMandatory"], bool)
        if "InstanceID" in option:
            assert option["InstanceID"] == task["InstanceID"]


def test_decision_options_is_a_get_function(anna: Sap):
    task = inbox(anna)[0]
    response = anna.write("POST", TASKS, "DecisionOptions", task_params(task))
    assert response.status_code == 405


def test_approve_releases_the_requisition(anna: Sap, sap: Callable[..., Sap]):
    tech = sap(TECH_USER)
    task, requisition = pr_task(anna)
    before = items_of(tech, requisition)
    approve = option_key(anna, task, "POSITIVE")
    response = decide(anna, task, approve, "Looks fine")
    assert response.status_code == 200, response.text
    decided = response.json()["d"]
    assert decided["InstanceID"] == task["InstanceID"]
    assert decided["Status"] == "COMPLETED"
    after = items_of(tech, requisition)
    assert all(item["ReleaseIsNotCompleted"] is False for item in after)
    assert release_state(after) != release_state(before)
    remaining = {t["InstanceID"]: t for t in inbox(anna)}
    if task["InstanceID"] in remaining:
        assert remaining[task["InstanceID"]]["Status"] == "COMPLETED"


def test_reject_completes_the_task_without_releasing(anna: Sap, sap: Callable[..., Sap]):
    tech = sap(TECH_USER)
    task, requisition = pr_task(anna)
    reject = option_key(anna, task, "NEGATIVE")
    response = decide(anna, task, reject, "Too expensive")
    assert response.status_code == 200, response.text
    assert response.json()["d"]["Status"] == "COMPLETED"
    assert all(item["ReleaseIsNotCompleted"] is True for item in items_of(tech, requisition))


def test_task_already_decided_is_an_error(anna: Sap):
    task, _ = pr_task(anna)
    approve = option_key(anna, task, "POSITIVE")
    assert decide(anna, task, approve).status_code == 200
    again = decide(anna, task, approve)
    assert_sap_error(again)
    assert 400 <= again.status_code < 500


def test_decision_without_comments_parameter_is_rejected(anna: Sap):
    task, _ = pr_task(anna)
    approve = option_key(anna, task, "POSITIVE")
    response = decide(anna, task, approve, comments=None)
    assert_sap_error(response, 400)
    assert anna.read(TASKS, task_path(task))["Status"] in OPEN_STATUSES


def test_decision_with_unknown_key_is_rejected(anna: Sap):
    task, _ = pr_task(anna)
    response = decide(anna, task, "9999")
    assert_sap_error(response)
    assert 400 <= response.status_code < 500
    assert anna.read(TASKS, task_path(task))["Status"] in OPEN_STATUSES


def test_decision_on_another_users_task_is_refused(anna: Sap, ben: Sap):
    task, _ = pr_task(ben)
    approve = option_key(ben, task, "POSITIVE")
    response = decide(anna, task, approve)
    assert_sap_error(response)
    assert 400 <= response.status_code < 500
    assert ben.read(TASKS, task_path(task))["Status"] in OPEN_STATUSES


def test_decision_is_a_post_function(anna: Sap):
    task, _ = pr_task(anna)
    response = anna.get(TASKS, "Decision", task_params(task) | {"DecisionKey": "'0001'", "Comments": "''"})
    assert response.status_code == 405
    assert anna.read(TASKS, task_path(task))["Status"] in OPEN_STATUSES


def test_claim_and_release(anna: Sap):
    task = next(t for t in open_tasks(anna) if t["Status"] == "READY")
    claimed = anna.call(TASKS, "Claim", **task_params(task))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["d"]["Status"] == "RESERVED"
    assert claimed.json()["d"]["Processor"] == "EXEC_ANNA"
    assert anna.read(TASKS, task_path(task))["Status"] == "RESERVED"
    released = anna.call(TASKS, "Release", **task_params(task))
    assert released.status_code == 200, released.text
    assert released.json()["d"]["Status"] == "READY"
    assert anna.read(TASKS, task_path(task))["Processor"] in ("", None)


def test_forward_moves_the_task_to_another_user(anna: Sap, ben: Sap):
    task = open_tasks(anna)[0]
    response = anna.call(TASKS, "Forward", **task_params(task), ForwardTo="'EXEC_BEN'")
    assert response.status_code == 200, response.text
    assert task["InstanceID"] not in {t["InstanceID"] for t in open_tasks(anna)}
    assert task["InstanceID"] in {t["InstanceID"] for t in open_tasks(ben)}
    assert ben.read(TASKS, task_path(task))["TaskTitle"] == task["TaskTitle"]


def test_forward_to_unknown_user_is_rejected(anna: Sap):
    task = open_tasks(anna)[0]
    response = anna.call(TASKS, "Forward", **task_params(task), ForwardTo="'NOBODY_AT_ALL'")
    assert_sap_error(response)
    assert task["InstanceID"] in {t["InstanceID"] for t in open_tasks(anna)}


def test_mass_approval_in_one_batch(anna: Sap, sap: Callable[..., Sap]):
    numbers = requisition_numbers(sap(TECH_USER))
    tasks = [t for t in open_tasks(anna) if requisition_of(anna, t, numbers)][:2]
    assert len(tasks) == 2, "EXEC_ANNA should have at least two requisition tasks"
    parts = []
    for i, task in enumerate(tasks):
        key = option_key(anna, task, "POSITIVE")
        request = (
            f"POST Decision?SAP__Origin='{task['SAP__Origin']}'&InstanceID='{task['InstanceID']}'"
            f"&DecisionKey='{key}'&Comments='' HTTP/1.1\r\nAccept: application/json\r\n\r\n"
        )
        parts.append(
            f"--batch_m\r\nContent-Type: multipart/mixed; boundary=changeset_{i}\r\n\r\n"
            f"--changeset_{i}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"{request}\r\n--changeset_{i}--\r\n"
        )
    body = "".join(parts) + "--batch_m--\r\n"
    response = anna.write(
        "POST", TASKS, "$batch", body=body, headers={"Content-Type": "multipart/mixed; boundary=batch_m"}
    )
    assert response.status_code == 202, response.text
    assert len(re.findall(r"HTTP/1\.1 200", response.text)) == 2
    statuses = {t["InstanceID"]: t["Status"] for t in inbox(anna)}
    for task in tasks:
        assert statuses.get(task["InstanceID"], "COMPLETED") == "COMPLETED"


def test_pyodata_reads_inbox_and_decides(pyodata_client: Callable[..., pyodata.Client], anna: Sap):
    client = pyodata_client(TASKS, "EXEC_ANNA")
    tasks = client.entity_sets.TaskCollection.get_entities().execute()
    assert {t.InstanceID for t in tasks} == {t["InstanceID"] for t in inbox(anna)}
    task, _ = pr_task(anna)
    approve = option_key(anna, task, "POSITIVE")
    result = (
        client.functions.Decision.parameter("SAP__Origin", task["SAP__Origin"])
        .parameter("InstanceID", task["InstanceID"])
        .parameter("DecisionKey", approve)
        .parameter("Comments", "")
        .execute()
    )
    assert result.InstanceID == task["InstanceID"]
    assert result.Status == "COMPLETED"
    with pytest.raises(HttpError) as caught:
        (
            client.functions.Decision.parameter("SAP__Origin", task["SAP__Origin"])
            .parameter("InstanceID", task["InstanceID"])
            .parameter("DecisionKey", approve)
            .parameter("Comments", "")
            .execute()
        )
    assert 400 <= caught.value.response.status_code < 500


def test_pyodata_claim(pyodata_client: Callable[..., pyodata.Client], anna: Sap):
    client = pyodata_client(TASKS, "EXEC_ANNA")
    task = next(t for t in open_tasks(anna) if t["Status"] == "READY")
    claimed = (
        client.functions.Claim.parameter("SAP__Origin", task["SAP__Origin"])
        .parameter("InstanceID", task["InstanceID"])
        .execute()
    )
    assert claimed.Status == "RESERVED"
    entity = client.entity_sets.TaskCollection.get_entity(
        SAP__Origin=task["SAP__Origin"], InstanceID=task["InstanceID"]
    ).execute()
    assert entity.Processor == "EXEC_ANNA"
