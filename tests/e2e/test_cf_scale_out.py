"""Scale-out under faults on the local Cloud Foundry launcher: 500 commands, one web and one worker SIGKILLed, one
worker SIGTERMed midway; every command applied in SAP exactly once (counted in SAP), the audit chain intact."""

from __future__ import annotations

import datetime as dt
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from devenv.cf import STOP_GRACE
from devenv.cf_instance import group_alive
from store import Command, Status, Store
from tests.conftest import MockSap
from tests.e2e.cf_env import ROOT, LocalCf, assert_stopped_on_sigterm, local_cf, needs_postgres
from tests.integration.workers.conftest import PRODORD, TASKS, USER_PASSWORD, confirmations_with, order, sap_get

# Supervisors (plant, work centre): confirmations spread over many orders run in parallel (one order's commands
# are applied one at a time), 7 of 1 unit on each of 10 operations per work centre: 420 confirmations.
WORK_CENTRES = [("1010", "ASSY1010"), ("1010", "WELD1010"), ("1020", "MILL1020"), ("1020", "PACK1020")]
WORK_CENTRES += [("1030", "PAIN1030"), ("1710", "QUAL1710")]
OPERATIONS_PER_CENTRE = 10
CONFIRMATIONS_PER_OPERATION = 7
PLANTS = ("1010", "1020", "1030", "1710")
RELEASES, RESCHEDULES = 25, 15
EXECUTIVES = ("EXEC_ANNA", "EXEC_BEN", "EXEC_CARLA")  # 15 open tasks each in the mock's inbox
DECISIONS = 40
TOTAL = len(WORK_CENTRES) * OPERATIONS_PER_CENTRE * CONFIRMATIONS_PER_OPERATION + RELEASES + RESCHEDULES + DECISIONS
CLIENTS = 12
WORKERS = 3
KILL_AFTER = 150  # commands accepted before the faults
# Every 10th command's 202 is lost on the way (a flaky mobile network): its client sends it again, to the other
# instance, and must get the same command back.
LOST_ANSWER_EVERY = 10
REQUEST_TIMEOUT = 60.0
GIVE_UP = 120.0  # seconds a client keeps re-sending while neither web instance answers
DRAIN = 240.0  # seconds for every accepted command to end after the last POST
SERVICES = {
    "confirm": "API_PROD_ORDER_CONFIRMATION_2_SRV",
    "release": "API_PRODUCTION_ORDER_2_SRV",
    "reschedule": "API_PRODUCTION_ORDER_2_SRV",
    "decide": "TASKPROCESSING",
}
# The worker SIGKILLed midway may have sent a write SAP has not answered: its command is in doubt, and is re-sent
# only once SAP can no longer be working on it. The mock SAP answers within milliseconds, so 20 s (instead of
# production's 5 minutes) is plenty. Everything else keeps its default (a command web/1 stored but could not enqueue
# before it died is picked up by the reconciler after a minute, well within DRAIN).
ENV = {"WRITEBACK_IN_DOUBT_SETTLE": "20", "WRITEBACK_IN_DOUBT_CHECK": "2", "VERIFY_RESPONSE_DUMP": "1"}


@dataclass(frozen=True)
class Spec:
    """One command as a client sends it (again and again with the same Idempotency-Key until an instance answers)."""

    kind: str
    user: str
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    target: dict[str, Any]  # what to look for in SAP afterwards
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Sent:
    """One try of a spec on one web instance: its HTTP status, or the connection error instead."""

    key: str
    instance: int
    at: float  # monotonic, when the answer (or the error) came
    status: int | None
    detail: str  # the error's name, or the start of a non-202 body
    command_id: str | None


@dataclass
class SapAt:
    """The launcher's mock SAP, for the worker tests' SAP readers (they only use its url)."""

    url: str


def _sap(cf: LocalCf) -> MockSap:
    return cast(MockSap, SapAt(cf.services["sap_url"]))


def _bearer(cf: LocalCf, user: str, role: str, attributes: dict[str, list[str]] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {cf.token(user, [role], attributes)}"}


def _get(url: str, headers: dict[str, str], **params: str) -> Any:
    answer = requests.get(url, params=params, headers=headers, timeout=60)
    assert answer.status_code == 200, f"GET {url}: {answer.status_code} {answer.text[:300]}"
    return answer.json()


# -- the commands, picked up front so that SAP has no reason to refuse any -------------------------------------


def confirmations(cf: LocalCf, api: str, taken: set[str]) -> tuple[list[Spec], dict[str, Decimal]]:
    """Confirmations of 1 unit, on operations with far more to go, one operation per order; and each operation's
    confirmed yield before them."""
    specs, before = [], {}
    for plant, centre in WORK_CENTRES:
        user, attributes = f"SUP_{centre}", {"Plant": [plant], "WorkCenter": [centre]}
        headers = _bearer(cf, user, "Supervisor", attributes)
        items = _get(f"{api}/api/v1/work-orders", headers, limit="200")["items"]
        chosen: list[dict[str, Any]] = []
        for item in items:
            if len(chosen) < OPERATIONS_PER_CENTRE and item["order_id"] not in taken:
                if Decimal(item["quantity_to_go"]["value"]) >= 20:
                    taken.add(item["order_id"])
                    chosen.append(item)
        assert len(chosen) == OPERATIONS_PER_CENTRE, f"{centre}: only {len(chosen)} operations with 20 to go"
        for item in chosen:
            before[item["id"]] = Decimal(item["confirmed_yield"]["value"])
            body = {"yield_quantity": "1", "unit": item["planned_quantity"]["unit"], "text": "scale-out"}
            target = {"work_order": item["id"]}
            path = f"/api/v1/work-orders/{item['id']}/confirmations"
            specs += [
                Spec("confirm", user, "POST", path, body, headers, target) for _ in range(CONFIRMATIONS_PER_OPERATION)
            ]
    return specs, before


def order_changes(cf: LocalCf, api: str, taken: set[str]) -> list[Spec]:
    """Releases of created orders, and reschedules (a week later) of other created orders, each order once."""
    specs: list[Spec] = []
    for n, plant in enumerate(PLANTS):
        user, headers = f"PM_{plant}", _bearer(cf, f"PM_{plant}", "PlantManager", {"Plant": [plant]})
        items = _get(f"{api}/api/v1/production-orders", headers, status="created", limit="200")["items"]
        free = [o for o in items if not o["is_locked"] and o["order_id"] not in taken]
        releases = RELEASES // len(PLANTS) + (n < RELEASES % len(PLANTS))
        reschedules = RESCHEDULES // len(PLANTS) + (n < RESCHEDULES % len(PLANTS))
        assert len(free) >= releases + reschedules, f"plant {plant}: only {len(free)} created orders"
        for item in free[:releases]:
            taken.add(item["order_id"])
            path = f"/api/v1/production-orders/{item['order_id']}/release"
            specs.append(Spec("release", user, "POST", path, None, headers, {"order_id": item["order_id"]}))
        for item in free[releases : releases + reschedules]:
            taken.add(item["order_id"])
            dates = {
                name: (dt.date.fromisoformat(item[name]) + dt.timedelta(days=7)).isoformat()
                for name in ("planned_start", "planned_end")
            }
            path = f"/api/v1/production-orders/{item['order_id']}"
            with_etag = {**headers, "If-Match": item["sap_etag"]}
            target = {"order_id": item["order_id"], **dates}
            specs.append(Spec("reschedule", user, "PATCH", path, dates, with_etag, target))
    return specs


def decisions(cf: LocalCf, api: str) -> list[Spec]:
    """Approve or reject distinct tasks of three executives, each task by its own executive and only once."""
    specs: list[Spec] = []
    for n, user in enumerate(EXECUTIVES):
        headers = _bearer(cf, user, "Executive")
        items = _get(f"{api}/api/v1/approvals", headers, limit="200")["items"]
        wanted = DECISIONS // len(EXECUTIVES) + (n < DECISIONS % len(EXECUTIVES))
        assert len(items) >= wanted, f"{user}: only {len(items)} tasks"
        for m, item in enumerate(items[:wanted]):
            decision = ("approve", "reject")[m % 2]
            body = {"decision": decision, "comment": "scale-out test"}  # some rejects need a comment
            origin, task_id = item["id"].split("~", 1)
            target = {"origin": origin, "task_id": task_id, "result": decision.capitalize()}
            specs.append(
                Spec("decide", user, "POST", f"/api/v1/approvals/{item['id']}/decision", body, headers, target)
            )
    return specs


# -- the clients ------------------------------------------------------------------------------------------------


class Clients:
    """CLIENTS threads, each on its own web instance (round-robin), re-sending the same request with the same
    Idempotency-Key to the other instance when its own is gone (refused, reset, no answer) or the answer was lost."""

    def __init__(self, urls: list[str], specs: list[Spec]) -> None:
        self.urls = urls
        self.work: queue.Queue[Spec] = queue.Queue()
        for spec in specs:
            self.work.put(spec)
        self.sent: list[Sent] = []
        self.accepted: dict[str, str] = {}  # key -> the first command id answered for it
        self.unanswered: list[Spec] = []
        self.lose_answer = {spec.key for spec in specs[::LOST_ANSWER_EVERY]}
        self.midway = threading.Event()  # KILL_AFTER commands accepted
        self._lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(n % len(self.urls),)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _client(self, home: int) -> None:
        sessions = [requests.Session() for _ in self.urls]
        while True:
            try:
                spec = self.work.get_nowait()
            except queue.Empty:
                return
            answered = self._send(spec, home, sessions)
            if answered is not None and spec.key in self.lose_answer:
                self._send(spec, (answered + 1) % len(self.urls), sessions)

    def _send(self, spec: Spec, home: int, sessions: list[requests.Session]) -> int | None:
        """Until an instance answers, starting with `home`; the instance that answered (None: neither did)."""
        began = time.monotonic()
        tries = 0
        while True:
            instance = (home + tries) % len(self.urls)
            tries += 1
            headers = {**spec.headers, "Idempotency-Key": spec.key}
            try:
                answer = sessions[instance].request(
                    spec.method,
                    self.urls[instance] + spec.path,
                    json=spec.body,
                    headers=headers,
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.RequestException as exc:  # refused, reset, timed out, or the answer broken off mid-body
                self._record(Sent(spec.key, instance, time.monotonic(), None, type(exc).__name__, None))
                if time.monotonic() - began > GIVE_UP:
                    with self._lock:
                        self.unanswered.append(spec)
                    return None
                if tries % len(self.urls) == 0:
                    time.sleep(0.5)  # neither instance answered: give the restarting one a moment
                continue
            command_id = str(answer.json()["id"]) if answer.status_code == 202 else None
            self._record(Sent(spec.key, instance, time.monotonic(), answer.status_code, answer.text[:300], command_id))
            return instance

    def _record(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)
            if sent.command_id is not None and sent.key not in self.accepted:
                self.accepted[sent.key] = sent.command_id
                if len(self.accepted) >= KILL_AFTER:
                    self.midway.set()


@dataclass
class Faults:
    """What was done midway, and when (monotonic)."""

    killed_worker: int = 0
    stopped_worker: int = 1
    busy: list[int] = field(default_factory=list)  # the workers that were applying a command as the faults came
    killed_at: float | None = None
    killed_wall: dt.datetime | None = None
    pids: dict[str, int] = field(default_factory=dict)
    sigterm_took: float | None = None  # seconds until the SIGTERMed worker had exited; None: it had not in 30 s


def busy_workers(cf: LocalCf, store: Store) -> list[int]:
    """The worker instances applying a command right now (a running command's runner is `worker@host:pid`)."""
    index_of = {cf.instance("worker", n)["pid"]: n for n in range(WORKERS)}
    runners = {c.runner for c in store.list_by_status(Status.RUNNING.value, limit=50).items if c.runner}
    return sorted({index_of[pid] for r in runners if (pid := int(r.rsplit(":", 1)[1])) in index_of})


def inject_faults(cf: LocalCf, store: Store, clients: Clients, faults: Faults) -> None:
    """Once KILL_AFTER commands are accepted: SIGKILL web/1 and a worker, SIGTERM another (each a process group).

    The workers picked are busy ones where possible (for up to 10 s), so that the SIGKILL cuts an attempt short and
    the SIGTERM asks a worker to finish or hand back its job."""
    if not clients.midway.wait(timeout=300):
        return
    web_pid = cf.instance("web", 1)["pid"]
    os.killpg(web_pid, signal.SIGKILL)
    faults.killed_at, faults.killed_wall = time.monotonic(), dt.datetime.now(dt.UTC)
    looked = time.monotonic()
    while not (busy := busy_workers(cf, store)) and time.monotonic() - looked < 10:
        time.sleep(0.01)
    faults.busy = busy
    picks = busy + [n for n in range(WORKERS) if n not in busy]
    faults.killed_worker, faults.stopped_worker = picks[0], picks[1]
    faults.pids = {
        "web/1": web_pid,
        "killed": cf.instance("worker", faults.killed_worker)["pid"],
        "stopped": cf.instance("worker", faults.stopped_worker)["pid"],
    }
    os.killpg(faults.pids["killed"], signal.SIGKILL)
    os.killpg(faults.pids["stopped"], signal.SIGTERM)
    termed = time.monotonic()
    while time.monotonic() - termed < 30:
        if not group_alive(faults.pids["stopped"]):
            faults.sigterm_took = time.monotonic() - termed
            return
        time.sleep(0.05)


# -- waiting and counting ---------------------------------------------------------------------------------------


def sqlalchemy_url(database_url: str) -> str:
    """The binding's postgres:// as SQLAlchemy 2 and `python -m store --database-url` take it."""
    return "postgresql://" + database_url.split("://", 1)[1]


def wait_ended(store: Store, ids: list[str]) -> dict[str, Command]:
    deadline = time.monotonic() + DRAIN
    while True:
        commands = store.get_many(ids)
        waiting = {i: commands.get(i) for i in ids if i not in commands or not commands[i].is_terminal}
        if not waiting:
            return commands
        if time.monotonic() > deadline:
            listed = [
                f"{i}: {c.type} {c.status.value} attempts={c.attempts} error={c.last_error}" if c else f"{i}: missing"
                for i, c in list(waiting.items())[:20]
            ]
            pytest.fail(f"{len(waiting)} commands not ended after {DRAIN:g}s:\n" + "\n".join(listed))
        time.sleep(1)


def writes_in_sap(cf: LocalCf) -> Counter[str]:
    stats = requests.get(f"{cf.services['sap_url']}/mock-admin/stats", timeout=30).json()
    return Counter(stats["writes_by_service"])


def sap_date(value: str) -> str:
    """OData V2's /Date(ms)/ as an ISO date."""
    found = re.fullmatch(r"/Date\((-?\d+)\)/", value)
    assert found, value
    return dt.datetime.fromtimestamp(int(found.group(1)) / 1000, dt.UTC).date().isoformat()


def in_sap(sap: MockSap, spec: Spec, command: Command) -> str | None:
    """What is wrong in SAP about this succeeded command, or None: it is there, exactly once."""
    t = spec.target
    if spec.kind == "confirm":
        found = confirmations_with(sap, command.id)
        return None if len(found) == 1 else f"{len(found)} confirmations with ExternalSystemConfirmation {command.id}"
    if spec.kind == "release":
        released = order(sap, t["order_id"])["OrderIsReleased"]
        return None if released == "X" else f"order {t['order_id']} not released (OrderIsReleased={released!r})"
    if spec.kind == "reschedule":
        row = order(sap, t["order_id"])
        fields = {"planned_start": "MfgOrderPlannedStartDate", "planned_end": "MfgOrderPlannedEndDate"}
        now = {name: sap_date(row[field]) for name, field in fields.items()}
        wanted = {name: t[name] for name in now}
        return None if now == wanted else f"order {t['order_id']} planned {now}, asked {wanted}"
    logs = sap_get(
        sap,
        f"{TASKS}/TaskCollection(SAP__Origin='{t['origin']}',InstanceID='{t['task_id']}')/WorkflowLogs",
        auth=(spec.user, USER_PASSWORD),
    )["results"]
    decided = [str(entry["Result"]) for entry in logs if entry["ResultType"]]
    return None if decided == [t["result"]] else f"task {t['task_id']}: decisions {decided}, asked {t['result']}"


def confirmed_yield(sap: MockSap, order_id: str, operation: str) -> Decimal:
    rows = sap_get(
        sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{"$filter": f"ManufacturingOrder eq '{order_id}' and ManufacturingOrderOperation eq '{operation}'"},
    )["results"]
    assert len(rows) == 1, rows
    return Decimal(rows[0]["OpTotalConfirmedYieldQty"])


def _failures(items: list[Any], describe: Callable[[Any], str], limit: int = 15) -> str:
    return "\n".join(describe(item) for item in items[:limit]) + (
        f"\n... {len(items) - limit} more" * (len(items) > limit)
    )


# -- the checks -------------------------------------------------------------------------------------------------


def assert_every_command_accepted_without_a_5xx(clients: Clients, faults: Faults, by_key: dict[str, Spec]) -> None:
    """No client saw a 5xx from any instance (the killed one only dropped connections), and every command was
    accepted: the picks leave SAP no reason to refuse one at the door."""

    def describe(s: Sent) -> str:
        when = "before" if faults.killed_at is None or s.at < faults.killed_at else "after"
        spec = by_key[s.key]
        return f"{spec.kind} {spec.path}: web/{s.instance} ({when} web/1 was killed) answered {s.status}: {s.detail}"

    server_errors = [s for s in clients.sent if s.status is not None and s.status >= 500]
    assert not server_errors, _failures(server_errors, describe)
    refused = [s for s in clients.sent if s.status is not None and s.status != 202]
    assert not refused, _failures(refused, describe)
    assert not clients.unanswered, f"{len(clients.unanswered)} commands never answered by either instance"
    assert len(clients.accepted) == TOTAL


def assert_one_command_per_key(clients: Clients, store: Store, by_key: dict[str, Spec]) -> None:
    """Every answer for a key, from either instance, names the same command; the store holds that one under the
    key, and no other command at all."""
    ids_by_key: dict[str, set[str]] = {}
    instances_by_key: dict[str, set[int]] = {}
    for s in clients.sent:
        if s.command_id is not None:
            ids_by_key.setdefault(s.key, set()).add(s.command_id)
            instances_by_key.setdefault(s.key, set()).add(s.instance)
    doubled = {key: ids for key, ids in ids_by_key.items() if len(ids) > 1}
    assert not doubled, doubled
    both = [key for key, instances in instances_by_key.items() if len(instances) > 1]
    assert both, "no key was answered by both instances: the lost answers were not re-sent to the other one"
    for key, command_id in clients.accepted.items():
        stored = store.find_by_key(by_key[key].user, key)
        assert stored is not None and stored.id == command_id, (key, command_id, stored)
    assert sum(store.stats().counts.values()) == TOTAL


def assert_applied_once_in_sap(
    cf: LocalCf, specs_by_id: dict[str, Spec], ended: dict[str, Command], yield_before: dict[str, Decimal]
) -> Counter[str]:
    """Each command's change is in SAP exactly once, and the confirmed quantities rose by exactly the confirmations
    made; SAP's writes per service, to compare with its count before."""
    sap = _sap(cf)
    wrong = [
        f"{specs_by_id[i].kind} {i}: {problem}" for i, c in ended.items() if (problem := in_sap(sap, specs_by_id[i], c))
    ]
    assert not wrong, "\n".join(wrong[:20])
    per_operation = Counter(s.target["work_order"] for s in specs_by_id.values() if s.kind == "confirm")
    for work_order, count in per_operation.items():
        order_id, operation = work_order.rsplit("-", 1)
        assert confirmed_yield(sap, order_id, operation) - yield_before[work_order] == count, work_order
    return writes_in_sap(cf)


def verify_audit(database_url: str) -> None:
    audit = subprocess.run(
        [sys.executable, "-m", "store", "--database-url", sqlalchemy_url(database_url), "verify-audit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def report(clients: Clients, faults: Faults, ended: dict[str, Command]) -> None:
    """Where the faults bit (pytest -rP shows it): re-sent commands, those the killed instance had already stored."""
    resent = {s.key for s in clients.sent if s.status is None}
    stored_before = [
        k for k in resent if faults.killed_wall and ended[clients.accepted[k]].created_at < faults.killed_wall
    ]
    answered_by = Counter(f"web/{s.instance}" for s in clients.sent if s.command_id is not None)
    both = {s.key for s in clients.sent if s.command_id is not None and s.instance == 0} & {
        s.key for s in clients.sent if s.command_id is not None and s.instance == 1
    }
    retried = sum(c.attempts > 1 for c in ended.values())
    facts = [
        f"re-sent after a connection error: {len(resent)} ({len(stored_before)} stored by web/1 before it died)",
        f"202s: {dict(answered_by)}, {len(both)} keys answered by both instances",
        f"busy workers at the faults: {faults.busy}; SIGKILLed worker/{faults.killed_worker}, SIGTERMed"
        f" worker/{faults.stopped_worker} (exited in {faults.sigterm_took or 0:.1f}s)",
        f"commands with more than one attempt: {retried}",
    ]
    print("; ".join(facts))


# -- the scenario -----------------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_postgres
def test_two_web_and_three_worker_instances_apply_500_commands_exactly_once_through_kills_and_a_sigterm(
    tmp_path: Path,
) -> None:
    args = ["--apps", "sap-extension-api", "--scale", f"web=2,worker={WORKERS}"]
    args += [arg for name, value in ENV.items() for arg in ("--env", f"{name}={value}")]
    with local_cf(tmp_path, *args) as cf:
        urls = [cf.instance("web", n)["url"] for n in range(2)]
        taken: set[str] = set()
        confirm_specs, yield_before = confirmations(cf, urls[0], taken)
        specs = confirm_specs + order_changes(cf, urls[1], taken) + decisions(cf, urls[0])
        assert len(specs) == TOTAL == 500
        random.Random(17).shuffle(specs)  # every client sends a mix of all four kinds
        by_key = {spec.key: spec for spec in specs}
        writes_before = writes_in_sap(cf)
        store = Store.from_url(sqlalchemy_url(cf.services["database_url"]))
        try:
            clients, faults = Clients(urls, specs), Faults()
            chaos = threading.Thread(target=inject_faults, args=(cf, store, clients, faults))
            chaos.start()
            clients.run()
            chaos.join()

            assert faults.killed_at is not None, f"only {len(clients.accepted)} commands were accepted"
            assert faults.sigterm_took is not None and faults.sigterm_took <= STOP_GRACE, (
                f"the SIGTERMed worker (pid {faults.pids['stopped']}) still ran {faults.sigterm_took or 30:.1f}s later"
            )
            assert any(s.status is None for s in clients.sent), "no client lost its web instance: the kill came late"
            assert_every_command_accepted_without_a_5xx(clients, faults, by_key)
            assert_one_command_per_key(clients, store, by_key)

            ended = wait_ended(store, list(clients.accepted.values()))
            report(clients, faults, ended)
            # Distinct tasks decided once each by their own executive, distinct unlocked orders, operations with far
            # more to go than confirmed here: SAP has no reason to refuse any command (no co-approver decides first,
            # no order changes under a reschedule), so none may end rejected, conflict or dead: that would be lost
            # work, not SAP's word.
            statuses = Counter(c.status.value for c in ended.values())
            not_succeeded = [c for c in ended.values() if c.status != Status.SUCCEEDED]
            assert statuses == {"succeeded": TOTAL}, f"{dict(statuses)}\n" + _failures(
                not_succeeded, lambda c: f"{c.id} {c.type} {c.status.value} attempts={c.attempts}: {c.last_error}"
            )
            specs_by_id = {command_id: by_key[key] for key, command_id in clients.accepted.items()}
            writes_after = assert_applied_once_in_sap(cf, specs_by_id, ended, yield_before)
            # SAP applied no write beyond them: a doubled write of any kind would show here.
            assert writes_after - writes_before == Counter(SERVICES[s.kind] for s in specs)
            verify_audit(cf.services["database_url"])

            # The launcher saw each fault as it was: two instances killed by SIGKILL, the SIGTERMed worker ending
            # by itself (status 0: it finished or handed back its job); each was restarted, as Cloud Foundry does.
            assert cf.instance("web", 1)["last_crash"] == "exited with status -9 (SIGKILL)"
            killed, stopped = ("worker", faults.killed_worker), ("worker", faults.stopped_worker)
            assert cf.instance(*killed)["last_crash"] == "exited with status -9 (SIGKILL)"
            assert cf.instance(*stopped)["last_crash"] == "exited with status 0"
            assert all(cf.instance(*name)["restarts"] >= 1 for name in (("web", 1), killed, stopped))
        finally:
            store.engine.dispose()
        code = cf.stop(timeout=30)
    assert_stopped_on_sigterm(cf, code)
