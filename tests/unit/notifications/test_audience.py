"""Who hears of a notification: the Grant/Audience read rules, deny by default, and what a subscriber is sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from access.policy import PLANT, ROLE_ATTRIBUTES, WORK_CENTER, Principal, Role
from notifications import notices
from notifications.model import Audience, Grant, Notification


def principal(
    user: str = "someone", *roles: Role, plants: tuple[str, ...] = (), centres: tuple[str, ...] = ()
) -> Principal:
    return Principal(user, frozenset(roles), {PLANT: plants, WORK_CENTER: centres})


MANAGER_1010 = principal("PM_1010", Role.PLANT_MANAGER, plants=("1010",))
MANAGER_1020 = principal("PM_1020", Role.PLANT_MANAGER, plants=("1020",))
SUPERVISOR_ASSY1010 = principal("SUP_ASSY1010", Role.SUPERVISOR, plants=("1010",), centres=("ASSY1010",))


def test_a_user_grant_admits_that_user_only() -> None:
    grant = Grant(user="EXEC_ANNA")
    assert grant.admits(principal("EXEC_ANNA"))
    assert not grant.admits(principal("EXEC_BEN", Role.EXECUTIVE))
    # A user grant is about the user, whatever roles and attributes someone else holds.
    assert not grant.admits(principal("exec_anna_2", Role.EXECUTIVE, Role.PLANT_MANAGER, plants=("1010",)))


def test_a_plant_manager_grant_admits_managers_of_that_plant_only() -> None:
    grant = Grant(role=Role.PLANT_MANAGER, plant="1010")
    assert grant.admits(MANAGER_1010)
    assert grant.admits(principal("PM_MULTI", Role.PLANT_MANAGER, plants=("1020", "1010")))
    assert not grant.admits(MANAGER_1020)
    assert not grant.admits(SUPERVISOR_ASSY1010)  # the plant matches, the role does not
    assert not grant.admits(principal("NO_ROLE", plants=("1010",)))


def test_a_supervisor_grant_needs_both_plant_and_work_centre() -> None:
    grant = Grant(role=Role.SUPERVISOR, plant="1010", work_center="ASSY1010")
    assert grant.admits(SUPERVISOR_ASSY1010)
    assert not grant.admits(principal("S1", Role.SUPERVISOR, plants=("1010",), centres=("PACK1010",)))
    assert not grant.admits(principal("S2", Role.SUPERVISOR, plants=("1020",), centres=("ASSY1010",)))
    assert not grant.admits(principal("S3", Role.SUPERVISOR, plants=("1010",)))
    assert not grant.admits(principal("S4", Role.SUPERVISOR, centres=("ASSY1010",)))
    assert not grant.admits(principal("PM", Role.PLANT_MANAGER, plants=("1010",), centres=("ASSY1010",)))


@pytest.mark.parametrize(
    ("grant", "holder"),
    [
        (Grant(role=Role.PLANT_MANAGER), MANAGER_1010),
        (Grant(role=Role.SUPERVISOR, plant="1010"), SUPERVISOR_ASSY1010),
        (Grant(role=Role.SUPERVISOR, work_center="ASSY1010"), SUPERVISOR_ASSY1010),
    ],
    ids=["manager-without-plant", "supervisor-without-work-centre", "supervisor-without-plant"],
)
def test_a_role_grant_lacking_a_restricting_attribute_admits_nobody(grant: Grant, holder: Principal) -> None:
    assert grant.role is not None and ROLE_ATTRIBUTES[grant.role]  # the role is restricted by attributes
    assert not grant.admits(holder)
    everything = principal("ALL", *Role, plants=("1010", "1020"), centres=("ASSY1010", "PACK1010"))
    assert not grant.admits(everything)


def test_an_empty_grant_and_an_empty_audience_admit_nobody() -> None:
    everyone = [MANAGER_1010, SUPERVISOR_ASSY1010, principal("EXEC_ANNA", *Role, plants=("1010",))]
    assert not any(Grant().admits(p) for p in everyone)
    assert not any(Audience().admits(p) for p in everyone)


def test_an_audience_admits_whom_any_of_its_grants_admits() -> None:
    audience = notices.confirmation(
        "created",
        order="1000123",
        operation="0010",
        confirmation_group="1",
        confirmation_count="1",
        plant="1010",
        work_center="ASSY1010",
    ).audience
    assert audience.admits(MANAGER_1010) and audience.admits(SUPERVISOR_ASSY1010)
    assert not audience.admits(MANAGER_1020)
    assert audience.users() == ()
    assert Audience.user("EXEC_ANNA").users() == ("EXEC_ANNA",)


@pytest.mark.parametrize(
    "grant",
    [
        Grant(user="EXEC_ANNA"),
        Grant(role=Role.PLANT_MANAGER, plant="1010"),
        Grant(role=Role.SUPERVISOR, plant="1010", work_center="ASSY1010"),
        Grant(role=Role.EXECUTIVE),
        Grant(),
    ],
)
def test_a_grant_round_trips_through_json(grant: Grant) -> None:
    raw = grant.to_json()
    assert all(isinstance(value, str) for value in raw.values())
    assert Grant.from_json(raw) == grant


def test_a_notification_round_trips_through_json() -> None:
    made = Notification(
        type="confirmation.created",
        data={"order": "1000123", "plant": "1010", "work_center": None},
        audience=Audience((Grant(role=Role.PLANT_MANAGER, plant="1010"), Grant(user="SUP_ASSY1010"))),
        time=datetime(2024, 6, 3, 10, 15, 0, 123456, tzinfo=UTC),
        source_event="/default/sap.s4.beh/S4HCLNT100|abc",
    )
    raw = made.to_json()
    assert raw["time"] == "2024-06-03T10:15:00.123456Z"
    back = Notification.from_json(raw)
    assert back == made
    assert back.audience.grants[0].role is Role.PLANT_MANAGER


def test_public_never_contains_the_audience() -> None:
    made = notices.production_order("released", "1000123", "1010", source_event="src|1")
    body = made.public("1717409700000-0")
    assert "audience" not in body
    assert body["id"] == "1717409700000-0"
    assert body["type"] == "production-order.released" and body["data"] == {"order": "1000123", "plant": "1010"}
    assert "PlantManager" not in repr(body)
    # The notification itself still carries it, for the filter that decides who gets the public body.
    assert made.to_json()["audience"] == [{"role": "PlantManager", "plant": "1010"}]
