"""Master data of the mock's scenario: plants, work centres, materials, units and SAP users."""

from __future__ import annotations

from dataclasses import dataclass

TECHNICAL_USER = "EXT_API_TECH"
TECHNICAL_PASSWORD = "tech-pass-1"
NAMED_PASSWORD = "user-pass-1"

EXECUTIVES = ("EXEC_ANNA", "EXEC_BEN", "EXEC_CARLA")
EXECUTIVE_NAMES = {"EXEC_ANNA": "Anna Keller", "EXEC_BEN": "Ben Okafor", "EXEC_CARLA": "Carla Jimenez"}
DEPUTY = "EXEC_DAN"  # co-approver of one task of each executive (whoever decides first wins)
# Full names SAP shows beside a user id (e.g. PerformedByName in a task's workflow log).
USER_NAMES = {
    **EXECUTIVE_NAMES,
    DEPUTY: "Dan Novak",
    "REQ_DAVID": "David Moreau",
    "PM_1010": "Petra Lange",
    "PM_1710": "Sam Rivera",
}


@dataclass(frozen=True)
class Plant:
    code: str
    name: str
    company_code: str
    currency: str
    work_centers: tuple[str, ...]


PLANTS = (
    Plant("1010", "Hamburg", "1010", "EUR", ("ASSY1010", "WELD1010", "PACK1010", "QUAL1010")),
    Plant("1020", "Berlin", "1010", "EUR", ("ASSY1020", "MILL1020", "PACK1020")),
    Plant("1030", "Munich", "1010", "EUR", ("ASSY1030", "WELD1030", "PAIN1030", "PACK1030")),
    Plant("1710", "Palo Alto", "1710", "USD", ("ASSY1710", "MILL1710", "PACK1710", "QUAL1710")),
)
PLANT_BY_CODE = {p.code: p for p in PLANTS}

WORK_CENTER_TEXT = {
    "ASSY": "Final assembly",
    "WELD": "Welding",
    "PACK": "Packaging",
    "QUAL": "Quality inspection",
    "MILL": "Milling",
    "PAIN": "Painting",
}

# (unit, ISO code): ISO codes as SAP's T006 maps them.
UNITS = {"PC": "PCE", "KG": "KGM", "M": "MTR", "L": "LTR", "H": "HUR", "MIN": "MIN"}

# Material, description, production unit.
MATERIALS = (
    ("FG-BIKE-100", "City bike, 28 inch", "PC"),
    ("FG-BIKE-200", "Trekking bike", "PC"),
    ("FG-PUMP-300", "Centrifugal pump 3 kW", "PC"),
    ("FG-PUMP-310", "Centrifugal pump 5 kW", "PC"),
    ("FG-VALVE-50", "Ball valve DN50", "PC"),
    ("FG-GEAR-700", "Planetary gearbox", "PC"),
    ("FG-MOTOR-11", "Electric motor 11 kW", "PC"),
    ("SG-FRAME-10", "Bike frame, welded", "PC"),
    ("SG-PAINT-20", "Powder coating mix", "KG"),
    ("SG-CABLE-05", "Cable harness 5 mm", "M"),
    ("SG-RESIN-30", "Epoxy resin batch", "L"),
    ("SG-SHAFT-40", "Drive shaft, milled", "PC"),
    ("FG-SENSOR-9", "Pressure sensor", "PC"),
    ("FG-CTRL-800", "Pump controller", "PC"),
    ("SG-PLATE-60", "Steel plate, cut", "KG"),
    ("FG-CART-120", "Cargo trailer", "PC"),
)

OPERATION_TEXTS = {
    "ASSY": "Assemble components",
    "WELD": "Weld frame",
    "PACK": "Pack and label",
    "QUAL": "Final quality check",
    "MILL": "Mill and deburr",
    "PAIN": "Paint and cure",
}


def default_users() -> dict[str, str]:
    """Every SAP user the mock knows, with its password (overridable from the command line)."""
    users = {TECHNICAL_USER: TECHNICAL_PASSWORD}
    for name in (*EXECUTIVES, DEPUTY):
        users[name] = NAMED_PASSWORD
    for plant in PLANTS:
        users[f"PM_{plant.code}"] = NAMED_PASSWORD
        for work_center in plant.work_centers:
            users[f"SUP_{work_center}"] = NAMED_PASSWORD
    users["REQ_DAVID"] = NAMED_PASSWORD
    return users
