"""TASKPROCESSING WorkflowLogs: a task's history (created, claimed, released, forwarded, decided)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyodata
import pytest
import requests

from .conftest import EXECUTIVES, TASKS, TECH_USER, Sap, assert_sap_error, parse_date
from .odata_reader import entity_problems, parse_metadata
from .test_batch import batch_body, changeset_part, request_part
from .test_metadata import load_real_edmx, served_metadata
from .test_tasks import decide, inbox, option_key, pr_task, task_params, task_path

LOGS = "WorkflowLogs"
LOG_SET = "WorkflowLogCollection"
DEPUTY = "EXEC_DAN"


@pytest.fixture
def anna(sap: Callable[..., Sap]) -> Sap:
    return sap("EXEC_ANNA")


@pytest.fixture
def ben(sap: Callable[..., Sap]) -> Sap:
    return sap("EXEC_BEN")


def log_of(sap: Sap, task: dict[str, Any]) -> list[dict[str, Any]]:
    entries = sap.results(TASKS, f"{task_path(task)}/{LOGS}")
    return sorted(entries, key=lambda e: e["EventOrder"])


def ready_task(sap: Sap) -> dict[str, Any]:
    return next(t for t in inbox(sap) if t["Status"] == "READY")


def test_every_task_starts_its_log_with_its_creation(sap: Callable[..., Sap]):
    for user in EXECUTIVES:
        executive = sap(user)
        for task in executive.results(TASKS, "TaskCollection", {"$expand": LOGS}):
            entries = sorted(task[LOGS]["results"], key=lambda e: e["EventOrder"])
            assert entries, f"task {task['InstanceID']} has no log"
            first = entries[0]
            assert first["EventOrder"] == 1
            assert (first["SAP__Origin"], first["InstanceID"]) == (task["SAP__Origin"], task["InstanceID"])
            assert (first["PerformedBy"], first["PerformedByName"]) == (task["CreatedBy"], task["CreatedByName"])
            assert first["Description"] and first["Status"] == "COMPLETED"
            assert parse_date(first["Timestamp"]) == parse_date(task["CreatedOn"])
            assert not first["ResultType"] and not first["Result"]
            if task["Status"] == "RESERVED":
                assert entries[-1]["PerformedBy"] == task["Processor"], "a reserved task logs who reserved it"


def test_log_entries_have_the_served_metadata_shape(anna: Sap, mock_sap: Any):
    md = parse_metadata(served_metadata(anna, TASKS))
    log_type = md.entity_type_of(LOG_SET)
    root = f"{mock_sap.url}/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/"
    task, _ = pr_task(anna)
    assert decide(anna, task, option_key(anna, task, "POSITIVE"), "fine").status_code == 200
    problems = [p for entry in log_of(anna, task) for p in entity_problems(md, log_type, entry, root)]
    assert not problems, "\n".join(problems)


def test_claim_release_forward_and_decision_append_entries_by_the_acting_user(anna: Sap, ben: Sap):
    task = ready_task(anna)
    before = log_of(anna, task)
    for action in ("Claim", "Release", "Claim"):
        assert anna.call(TASKS, action, **task_params(task)).status_code == 200, action
    assert anna.call(TASKS, "Forward", **task_params(task), ForwardTo="'EXEC_BEN'").status_code == 200
    decided = decide(ben, task, option_key(ben, task, "NEGATIVE"), "not this time")
    assert decided.status_code == 200, decided.text
    entries = log_of(ben, task)
    assert entries[: len(before)] == before, "earlier entries never change"
    added = entries[len(before) :]
    assert [e["EventOrder"] for e in added] == list(range(len(before) + 1, len(before) + 6))
    assert [e["PerformedBy"] for e in added] == ["EXEC_ANNA"] * 4 + ["EXEC_BEN"]
    assert len({e["Description"] for e in added}) == 4, "claim, release, forward and decision read differently"
    assert all(e["Description"] and e["Status"] == "COMPLETED" for e in added)
    assert all(e["PerformedByName"] for e in added)
    assert "EXEC_BEN" in added[3]["Description"] or "Ben" in added[3]["Description"], "forward names the new owner"
    assert [(e["Result"], e["ResultType"]) for e in added[:4]] == [(None, None)] * 4
    assert (added[4]["Result"], added[4]["ResultType"]) == ("Reject", "NEGATIVE")
    times = [parse_date(e["Timestamp"]) for e in entries]
    assert times == sorted(times)


def test_approval_records_the_decision_text_and_nature(anna: Sap):
    task, _ = pr_task(anna)
    assert decide(anna, task, option_key(anna, task, "POSITIVE"), "ok").status_code == 200
    last = log_of(anna, task)[-1]
    assert (last["PerformedBy"], last["Result"], last["ResultType"]) == ("EXEC_ANNA", "Approve", "POSITIVE")
    assert last["PerformedByName"] != "EXEC_ANNA", "the user's full name"


def test_a_co_approvers_decision_is_in_the_log_the_executive_reads(sap: Callable[..., Sap]):
    anna, deputy = sap("EXEC_ANNA"), sap(DEPUTY)
    shared = {t["InstanceID"] for t in inbox(anna)} & {t["InstanceID"] for t in inbox(deputy)}
    assert shared, "the deputy shares a task with each executive"
    task = next(t for t in inbox(anna) if t["InstanceID"] in shared)
    assert decide(deputy, task, option_key(deputy, task, "POSITIVE"), "done").status_code == 200
    last = log_of(anna, task)[-1]
    assert (last["PerformedBy"], last["ResultType"]) == (DEPUTY, "POSITIVE")


def test_logs_are_visible_only_to_those_who_see_the_task(anna: Sap, ben: Sap, sap: Callable[..., Sap]):
    task = inbox(ben)[0]
    assert log_of(ben, task)
    assert_sap_error(anna.get(TASKS, f"{task_path(task)}/{LOGS}"), 404)
    key = f"{LOG_SET}(SAP__Origin='{task['SAP__Origin']}',InstanceID='{task['InstanceID']}',EventOrder=1)"
    assert ben.read(TASKS, key)["EventOrder"] == 1
    assert_sap_error(anna.get(TASKS, key), 404)
    by_id = {"$filter": f"InstanceID eq '{task['InstanceID']}'"}
    assert ben.results(TASKS, LOG_SET, by_id)
    assert anna.results(TASKS, LOG_SET, by_id) == []
    assert anna.results(TASKS, "CustomAttributeCollection", by_id) == [], "indexed filters keep visibility too"
    anna_tasks = {t["InstanceID"] for t in inbox(anna)}
    all_entries, _, _ = anna.collect(TASKS, LOG_SET)
    assert {e["InstanceID"] for e in all_entries} == anna_tasks
    assert sap(TECH_USER).results(TASKS, LOG_SET) == []


def test_a_failed_changeset_leaves_no_log_entry(anna: Sap):
    task, _ = pr_task(anna)
    before = log_of(anna, task)
    approve = (
        f"Decision?SAP__Origin='{task['SAP__Origin']}'&InstanceID='{task['InstanceID']}'"
        f"&DecisionKey='{option_key(anna, task, 'POSITIVE')}'&Comments=''"
    )
    bad = (
        f"Decision?SAP__Origin='{task['SAP__Origin']}'&InstanceID='{task['InstanceID']}'&DecisionKey='9999'&Comments=''"
    )
    body = batch_body(
        "batch_w", [changeset_part("changeset_w", [request_part("POST", approve), request_part("POST", bad)])]
    )
    response = anna.write(
        "POST", TASKS, "$batch", body=body, headers={"Content-Type": "multipart/mixed; boundary=batch_w"}
    )
    assert response.status_code == 202, response.text
    assert "HTTP/1.1 200" not in response.text
    assert log_of(anna, task) == before
    assert anna.read(TASKS, task_path(task))["Status"] != "COMPLETED"


def test_reset_drops_appended_entries(anna: Sap, mock_sap: Any):
    task = ready_task(anna)
    before = log_of(anna, task)
    assert anna.call(TASKS, "Claim", **task_params(task)).status_code == 200
    assert len(log_of(anna, task)) == len(before) + 1
    requests.post(f"{mock_sap.url}/mock-admin/reset", timeout=30).raise_for_status()
    assert log_of(anna, task) == before


def test_pyodata_navigates_to_the_log(pyodata_client: Callable[..., pyodata.Client], anna: Sap):
    task = ready_task(anna)
    client = pyodata_client(TASKS, "EXEC_ANNA")
    entries = (
        client.entity_sets.TaskCollection.get_entity(SAP__Origin=task["SAP__Origin"], InstanceID=task["InstanceID"])
        .nav(LOGS)
        .get_entities()
        .execute()
    )
    assert [e.EventOrder for e in entries] == [e["EventOrder"] for e in log_of(anna, task)]
    assert entries[0].Timestamp is not None


def test_workflow_log_matches_the_tcm_sibling(tech: Sap, real_specs: Path):
    md = parse_metadata(served_metadata(tech, TASKS))
    tcm = load_real_edmx(real_specs, "SPA_Workflow_Inbox_TCM")
    served, real = md.entity_type_of(LOG_SET), tcm.entity_type_of(LOG_SET)
    assert served.keys == real.keys == ["SAP__Origin", "InstanceID", "EventOrder"]
    assert {n: (p.type, p.nullable) for n, p in served.properties.items()} == {
        n: (p.type, p.nullable) for n, p in real.properties.items()
    }
    served_nav = md.entity_type_of("TaskCollection").navigations[LOGS]
    real_nav = tcm.entity_type_of("TaskCollection").navigations[LOGS]
    assert (served_nav.from_role, served_nav.to_role) == (real_nav.from_role, real_nav.to_role)
    served_assoc = md.associations[md.qualify(served_nav.relationship)]
    real_assoc = tcm.associations[tcm.qualify(real_nav.relationship)]
    assert served_assoc.name == real_assoc.name
    assert {r: e.multiplicity for r, e in served_assoc.ends.items()} == {
        r: e.multiplicity for r, e in real_assoc.ends.items()
    }
