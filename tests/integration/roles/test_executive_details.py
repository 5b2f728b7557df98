"""What an executive needs to decide, through the API against the live mock SAP: the requisition's suppliers,
accounting and requester, the task's objects, overdue and substitute flags, text search, the decision history
and a completed task's decision."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest
import requests
from flask.testing import FlaskClient

from runtime.settings import Settings
from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer
from workers import jobs
from workers.bootstrap import WorkerContext, bootstrap

TECH = ("EXT_API_TECH", "tech-pass-1")
USER_PASSWORD = "user-pass-1"
PURREQ = "/sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV"
TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
EXECUTIVE_NAMES = {"Anna Keller", "Ben Okafor", "Carla Jimenez"}


def collect(api: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        separator = "&" if "?" in url else "?"
        response = api.get(url + (f"{separator}cursor={cursor}" if cursor else ""), headers=headers)
        assert response.status_code == 200, body(response)
        items += body(response)["items"]
        cursor = body(response)["next_cursor"]
        if cursor is None:
            return items


def body(response: Any) -> Any:
    """A test client response's JSON (typed for the checks that follow)."""
    return response.json


def sap_get(sap: MockSap, path: str, auth: tuple[str, str] = TECH, params: dict[str, str] | None = None) -> Any:
    response = requests.get(f"{sap.url}{path}", params={"$format": "json", **(params or {})}, auth=auth, timeout=30)
    response.raise_for_status()
    return response.json()["d"]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture
def anna(token: Token) -> dict[str, str]:
    return bearer(token("Executive", user="EXEC_ANNA"))


@pytest.fixture
def worker(role_settings: Settings) -> Iterator[WorkerContext]:
    """A worker in this process on the API's store and SAP: a command is applied by calling the job."""
    context = bootstrap(role_settings)
    yield context
    context.close()


def details(api: FlaskClient, headers: dict[str, str], queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [body(api.get(f"/api/v1/approvals/{item['id']}", headers=headers)) for item in queue]


# -- 1. the requisition: suppliers, accounting, requester -------------------------------------------------------


def test_requisition_items_carry_suppliers_accounting_and_requester(
    api: FlaskClient, anna: dict[str, str], trusting_sap: MockSap
) -> None:
    queue = [item for item in collect(api, "/api/v1/approvals", anna) if item["object_id"]]
    items = [
        item
        for detail in details(api, anna, queue)
        for item in detail["purchase_requisition"]["items"]
        if detail["purchase_requisition"]
    ]
    assert items
    for requisition_id in {item["object_id"] for item in queue}:
        header = sap_get(
            trusting_sap,
            f"{PURREQ}/A_PurchaseRequisitionHeader('{requisition_id}')",
            params={"$expand": "to_PurchaseReqnItem/to_PurchaseReqnAcctAssgmt"},
        )
        ours = next(
            d["purchase_requisition"]
            for d in details(api, anna, [q for q in queue if q["object_id"] == requisition_id])
        )
        for sap_item, item in zip(header["to_PurchaseReqnItem"]["results"], ours["items"], strict=True):
            assert item["item"] == sap_item["PurchaseRequisitionItem"]
            assert item["fixed_supplier"] == sap_item["FixedSupplier"]
            assert item["desired_supplier"] == sap_item["Supplier"]
            assert item["requisitioner"] == sap_item["RequisitionerName"]
            assert item["created_by"] == sap_item["CreatedByUser"] != ""
            assert item["account_assignment_category"] == sap_item["AccountAssignmentCategory"]
            lines = sap_item["to_PurchaseReqnAcctAssgmt"]["results"]
            assert [line["number"] for line in item["account_assignments"]] == [
                line["PurchaseReqnAcctAssgmtNumber"] for line in lines
            ]
            for line, sap_line in zip(item["account_assignments"], lines, strict=True):
                assert (line["cost_center"], line["wbs_element"], line["gl_account"]) == (
                    sap_line["CostCenter"],
                    sap_line["WBSElement"],
                    sap_line["GLAccount"],
                )
    # The seed has each kind: stock material from a fixed supplier, cost-centre and project items, a split one.
    assert any(item["material"] and item["fixed_supplier"] and not item["account_assignments"] for item in items)
    cost_centre = [item for item in items if item["account_assignment_category"] == "K"]
    project = [item for item in items if item["account_assignment_category"] == "P"]
    assert cost_centre and all(line["cost_center"] for i in cost_centre for line in i["account_assignments"])
    assert project and all(line["wbs_element"] for i in project for line in i["account_assignments"])
    split = [item for item in items if len(item["account_assignments"]) > 1]
    assert split, "a large cost-centre item is split over two cost centres"
    for item in split:
        lines = item["account_assignments"]
        assert sum(Decimal(line["share_percent"]) for line in lines) == 100
        assert sum(Decimal(line["net_amount"]["value"]) for line in lines) == Decimal(item["net_amount"]["value"])
        assert len({line["cost_center"] for line in lines}) == len(lines)
    single = [item for item in cost_centre if len(item["account_assignments"]) == 1]
    assert single and all(item["account_assignments"][0]["share_percent"] is None for item in single)


# -- 2. the task's objects --------------------------------------------------------------------------------------


def test_detail_lists_the_objects_sap_attaches_to_the_task(
    api: FlaskClient, anna: dict[str, str], trusting_sap: MockSap
) -> None:
    queue = collect(api, "/api/v1/approvals", anna)
    release = next(item for item in queue if item["object_id"])
    leave = next(item for item in queue if item["task_type"] == "TS12300097")
    detail = body(api.get(f"/api/v1/approvals/{release['id']}", headers=anna))
    origin, instance = release["id"].split("~")
    in_sap = sap_get(
        trusting_sap,
        f"{TASKS}/TaskCollection(SAP__Origin='{origin}',InstanceID='{instance}')/TaskObjects",
        auth=("EXEC_ANNA", USER_PASSWORD),
    )["results"]
    assert detail["objects"] == [{"object_id": o["ObjectID"], "type": o["Type"], "label": o["Label"]} for o in in_sap]
    assert detail["objects"] == [
        {
            "object_id": release["object_id"],
            "type": "BUS2105",
            "label": f"Purchase Requisition {release['object_id'].lstrip('0')}",
        }
    ]
    assert body(api.get(f"/api/v1/approvals/{leave['id']}", headers=anna))["objects"] == []
    assert "objects" not in release, "a list row stays light: objects come with the detail"


# -- 3. overdue and substitutes ---------------------------------------------------------------------------------


def test_overdue_is_an_open_task_past_its_deadline_as_the_badge_counts_it(
    api: FlaskClient, anna: dict[str, str]
) -> None:
    queue = collect(api, "/api/v1/approvals", anna)
    now = dt.datetime.now(dt.UTC)
    for item in queue:
        due = dt.datetime.fromisoformat(item["due"]) if item["due"] else None
        assert item["overdue"] == (due is not None and due < now), item
    assert {item["overdue"] for item in queue} == {True, False}, "the seed has tasks on both sides of their deadline"
    counts = body(api.get("/api/v1/approvals/counts", headers=anna))
    assert counts["overdue"] == sum(item["overdue"] for item in queue)
    overdue = next(item for item in queue if item["overdue"])
    assert body(api.get(f"/api/v1/approvals/{overdue['id']}", headers=anna))["overdue"] is True


def sap_task_queries(sap: MockSap) -> list[str]:
    logged = requests.get(f"{sap.url}/mock-admin/requests", timeout=10).json()["requests"]
    return [unquote_plus(entry["query"]) for entry in logged if entry["path"].endswith("/TaskCollection")]


def test_the_overdue_filter_lists_exactly_what_the_badge_counts(
    api: FlaskClient, anna: dict[str, str], trusting_sap: MockSap
) -> None:
    everything = {item["id"] for item in collect(api, "/api/v1/approvals", anna)}
    counts = body(api.get("/api/v1/approvals/counts", headers=anna))
    assert 0 < counts["overdue"] < counts["open"] == len(everything)
    requests.delete(f"{trusting_sap.url}/mock-admin/requests", timeout=10).raise_for_status()
    # Small pages: the cursors carry the filter from page to page.
    overdue = collect(api, "/api/v1/approvals?overdue=true&sort=-priority&sort=due&limit=2", anna)
    assert len(overdue) == counts["overdue"] and all(item["overdue"] for item in overdue)
    queries = sap_task_queries(trusting_sap)
    assert len(queries) > 1 and all("CompletionDeadLine lt datetime'" in query for query in queries), "SAP filters"
    others = collect(api, "/api/v1/approvals?overdue=false&sort=-priority&sort=due&limit=2", anna)
    assert len(others) == counts["open"] - counts["overdue"] and not any(item["overdue"] for item in others)
    assert {item["id"] for item in overdue} | {item["id"] for item in others} == everything
    for flag, expected in (("true", counts["overdue"]), ("false", counts["open"] - counts["overdue"])):
        counted = api.get("/api/v1/approvals", query_string={"overdue": flag, "include_total": "true"}, headers=anna)
        assert body(counted)["total"] == expected
    # Each filter pages its own list: a cursor of one is refused by the other.
    cursor = body(api.get("/api/v1/approvals?overdue=true&limit=1", headers=anna))["next_cursor"]
    assert api.get(f"/api/v1/approvals?overdue=true&limit=1&cursor={cursor}", headers=anna).status_code == 200
    for query in ("overdue=false&limit=1", "limit=1", "escalated=true&overdue=true&limit=1"):
        refused = api.get(f"/api/v1/approvals?{query}&cursor={cursor}", headers=anna)
        assert refused.status_code == 400 and "different query" in body(refused)["message"], query


def test_the_escalated_filter_lists_exactly_what_the_badge_counts(api: FlaskClient, anna: dict[str, str]) -> None:
    counts = body(api.get("/api/v1/approvals/counts", headers=anna))
    assert 0 < counts["escalated"] < counts["open"]
    escalated = collect(api, "/api/v1/approvals?escalated=true&limit=2", anna)
    assert len(escalated) == counts["escalated"] and all(item["is_escalated"] for item in escalated)
    others = collect(api, "/api/v1/approvals?escalated=false&limit=2", anna)
    assert len(others) == counts["open"] - counts["escalated"] and not any(item["is_escalated"] for item in others)
    both = collect(api, "/api/v1/approvals?escalated=true&overdue=true", anna)
    assert {item["id"] for item in both} == {item["id"] for item in escalated if item["overdue"]}


@pytest.mark.parametrize("query", ["overdue=maybe", "overdue=", "escalated=maybe", "escalated=2"])
def test_a_flag_that_is_not_a_boolean_is_a_400(api: FlaskClient, anna: dict[str, str], query: str) -> None:
    response = api.get(f"/api/v1/approvals?{query}", headers=anna)
    assert response.status_code == 400, body(response)
    assert query.split("=")[0] in body(response)["message"]


def test_a_task_received_as_substitute_says_whom_for(api: FlaskClient, token: Token, anna: dict[str, str]) -> None:
    deputy = bearer(token("Executive", user="EXEC_DAN"))
    theirs = collect(api, "/api/v1/approvals", deputy)
    assert theirs and all(item["received_as_substitute"] for item in theirs)
    assert {item["substituted_user"] for item in theirs} == EXECUTIVE_NAMES
    annas = collect(api, "/api/v1/approvals", anna)
    assert not any(item["received_as_substitute"] or item["substituted_user"] for item in annas)
    shared = next(item for item in theirs if item["substituted_user"] == "Anna Keller")
    as_anna = next(item for item in annas if item["id"] == shared["id"])
    assert (as_anna["received_as_substitute"], as_anna["substituted_user"]) == (False, "")
    detail = body(api.get(f"/api/v1/approvals/{shared['id']}", headers=deputy))
    assert (detail["received_as_substitute"], detail["substituted_user"]) == (True, "Anna Keller")


# -- 4. text search ---------------------------------------------------------------------------------------------


def test_search_matches_title_or_requester_and_sap_filters(
    api: FlaskClient, anna: dict[str, str], trusting_sap: MockSap
) -> None:
    everything = collect(api, "/api/v1/approvals", anna)
    requester = next(item["created_by_name"] for item in everything if item["object_id"])
    surname = requester.split()[-1]
    number = next(item["object_id"] for item in everything if item["object_id"]).lstrip("0")
    for text in (surname, number, "Travel request"):
        wanted = [item["id"] for item in everything if text in item["title"] or text in item["created_by_name"]]
        assert wanted, text
        requests.delete(f"{trusting_sap.url}/mock-admin/requests", timeout=10).raise_for_status()
        found = collect(api, f"/api/v1/approvals?search={quote(text)}&limit=2", anna)
        assert [item["id"] for item in found] == wanted, text
        # Pushed down: SAP got the filter (one request per page), not a full list we filtered ourselves.
        logged = requests.get(f"{trusting_sap.url}/mock-admin/requests", timeout=10).json()["requests"]
        queries = [unquote_plus(entry["query"]) for entry in logged if entry["path"].endswith("/TaskCollection")]
        assert queries and all(
            f"substringof('{text}',TaskTitle) or substringof('{text}',CreatedByName)" in query for query in queries
        )
        counted = api.get(
            "/api/v1/approvals", query_string={"search": text, "include_total": "true", "limit": 1}, headers=anna
        )
        assert body(counted)["total"] == len(wanted)
    # Spaces around the text are ignored; the other filters still apply.
    padded = collect(api, f"/api/v1/approvals?search=%20{surname}%20", anna)
    assert [item["id"] for item in padded] == [
        item["id"] for item in everything if surname in item["title"] or surname in item["created_by_name"]
    ]
    high = collect(api, f"/api/v1/approvals?search={surname}&priority=HIGH", anna)
    assert all(item["priority"] == "HIGH" and surname in item["title"] + item["created_by_name"] for item in high)


@pytest.mark.parametrize("text", ["O'Brien", "'", "''", "a') or (1 eq 1", "50% & more #1"])
def test_search_text_is_a_literal_for_sap_never_syntax(api: FlaskClient, anna: dict[str, str], text: str) -> None:
    response = api.get("/api/v1/approvals", query_string={"search": text}, headers=anna)
    assert response.status_code == 200, body(response)
    assert body(response)["items"] == []


@pytest.mark.parametrize("text", ["", "   ", "x" * 81, "two\nlines", "tab\there"])
def test_bad_search_text_is_a_400(api: FlaskClient, anna: dict[str, str], text: str) -> None:
    response = api.get("/api/v1/approvals", query_string={"search": text}, headers=anna)
    assert response.status_code == 400, body(response)
    assert "search" in str(body(response))


# -- 5. and 6. decided by me, and a completed task's decision ---------------------------------------------------


def decide(
    api: FlaskClient, worker: WorkerContext, headers: dict[str, str], task_id: str, decision: str, comment: str
) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/approvals/{task_id}/decision",
        json={"decision": decision, "comment": comment},
        headers={**headers, **key()},
    )
    assert response.status_code == 202, body(response)
    jobs.run(worker, body(response)["id"])
    writeback: dict[str, Any] = body(api.get(f"/api/v1/writebacks/{body(response)['id']}", headers=headers))
    assert writeback["status"] == "succeeded", writeback
    return writeback


def test_decided_history_lists_my_decisions_from_our_store(
    api: FlaskClient, anna: dict[str, str], token: Token, worker: WorkerContext
) -> None:
    assert body(api.get("/api/v1/approvals/decided", headers=anna)) == {"items": [], "next_cursor": None, "total": None}
    queue = collect(api, "/api/v1/approvals", anna)
    first, second, third = queue[0], queue[1], queue[2]
    approved = decide(api, worker, anna, first["id"], "approve", "Budget confirmed")
    rejected = decide(api, worker, anna, second["id"], "reject", "Not this quarter")
    # Accepted but not applied (yet): not a decision SAP took.
    pending = api.post(
        f"/api/v1/approvals/{third['id']}/decision", json={"decision": "approve"}, headers={**anna, **key()}
    )
    assert pending.status_code == 202

    page = body(api.get("/api/v1/approvals/decided?limit=1&include_total=true", headers=anna))
    assert page["total"] == 2 and page["next_cursor"]
    rest = body(api.get(f"/api/v1/approvals/decided?limit=1&cursor={page['next_cursor']}", headers=anna))
    assert rest["next_cursor"] is None
    newest, oldest = page["items"][0], rest["items"][0]
    assert newest == {
        "id": second["id"],
        "title": second["title"],
        "task_type_name": second["task_type_name"],
        "decision": "reject",
        "comment": "Not this quarter",
        "decided_at": newest["decided_at"],
        "writeback_id": rejected["id"],
    }
    assert (oldest["id"], oldest["decision"], oldest["comment"], oldest["writeback_id"]) == (
        first["id"],
        "approve",
        "Budget confirmed",
        approved["id"],
    )
    assert oldest["title"] == first["title"]
    assert dt.datetime.fromisoformat(oldest["decided_at"]) <= dt.datetime.fromisoformat(newest["decided_at"])
    assert abs(dt.datetime.fromisoformat(newest["decided_at"]) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    # Someone else's history is their own; other roles have none to see.
    assert (
        body(api.get("/api/v1/approvals/decided", headers=bearer(token("Executive", user="EXEC_BEN"))))["items"] == []
    )
    supervisor = bearer(token("Supervisor", user="SUP_ASSY1010", Plant=["1010"], WorkCenter=["ASSY1010"]))
    assert api.get("/api/v1/approvals/decided", headers=supervisor).status_code == 403
    assert api.get("/api/v1/approvals/decided?cursor=forged", headers=anna).status_code == 400


def test_a_completed_task_read_by_id_shows_what_was_decided(
    api: FlaskClient, anna: dict[str, str], token: Token, worker: WorkerContext
) -> None:
    queue = collect(api, "/api/v1/approvals", anna)
    open_task = queue[0]
    assert body(api.get(f"/api/v1/approvals/{open_task['id']}", headers=anna))["decision"] is None
    decide(api, worker, anna, open_task["id"], "approve", "")
    approved = body(api.get(f"/api/v1/approvals/{open_task['id']}", headers=anna))
    assert approved["status"] == "COMPLETED" and approved["overdue"] is False
    decision = approved["decision"]
    assert {k: decision[k] for k in ("decision", "text", "nature", "decided_by")} == {
        "decision": "approve",
        "text": "Approve",
        "nature": "POSITIVE",
        "decided_by": "EXEC_ANNA",
    }
    assert abs(dt.datetime.fromisoformat(decision["decided_at"]) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert all(item["id"] != open_task["id"] for item in collect(api, "/api/v1/approvals", anna))

    decide(api, worker, anna, queue[1]["id"], "reject", "Too expensive")
    rejected = body(api.get(f"/api/v1/approvals/{queue[1]['id']}", headers=anna))["decision"]
    assert (rejected["decision"], rejected["nature"]) == ("reject", "NEGATIVE")

    # A shared task the deputy (as substitute) decided first: Anna sees who decided it.
    deputy = bearer(token("Executive", user="EXEC_DAN"))
    shared = next(
        item for item in collect(api, "/api/v1/approvals", deputy) if item["substituted_user"] == "Anna Keller"
    )
    decide(api, worker, deputy, shared["id"], "approve", "")
    seen_by_anna = body(api.get(f"/api/v1/approvals/{shared['id']}", headers=anna))
    assert seen_by_anna["status"] == "COMPLETED"
    assert (seen_by_anna["decision"]["decided_by"], seen_by_anna["decision"]["decision"]) == ("EXEC_DAN", "approve")
