"""Who may see and do what: roles from token scopes, attribute rules (Plant, WorkCenter). No Flask here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Role templates of xs-security.json; a token grants one through the scope `<xsappname>.<Role>`."""

    EXECUTIVE = "Executive"
    PLANT_MANAGER = "PlantManager"
    SUPERVISOR = "Supervisor"
    INTEGRATION_ADMIN = "IntegrationAdmin"


PLANT = "Plant"
WORK_CENTER = "WorkCenter"
ATTRIBUTES = (PLANT, WORK_CENTER)

# Attributes a role's data is restricted by; a role holder without them sees nothing (deny by default).
ROLE_ATTRIBUTES: Mapping[Role, tuple[str, ...]] = {
    Role.EXECUTIVE: (),
    Role.PLANT_MANAGER: (PLANT,),
    Role.SUPERVISOR: (PLANT, WORK_CENTER),
    Role.INTEGRATION_ADMIN: (),
}


class PolicyError(Exception):
    """Base of the domain errors this module raises."""


class NotInScope(PolicyError):
    """The object exists for someone, but not for this caller: answered like a missing object."""


class Forbidden(PolicyError):
    """The caller may not ask this at all (a filter outside their scope, attributes missing): 403."""


def require_attributes(principal: Principal, role: Role) -> None:
    """Deny by default: a role holder without the attributes their data is restricted by sees nothing."""
    missing = [name for name in ROLE_ATTRIBUTES[role] if not principal.values(name)]
    if missing:
        raise Forbidden(f"your user has no {' or '.join(missing)} attribute; ask an administrator to assign them")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as far as authorization is concerned."""

    user_name: str
    roles: frozenset[Role]
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role_collections: tuple[str, ...] = ()
    email: str | None = None
    token: str = field(default="", repr=False)  # forwarded to SAP for user propagation; never logged

    def has(self, role: Role) -> bool:
        return role in self.roles

    def values(self, attribute: str) -> tuple[str, ...]:
        return self.attributes.get(attribute, ())

    @property
    def plants(self) -> tuple[str, ...]:
        return self.values(PLANT)

    @property
    def work_centers(self) -> tuple[str, ...]:
        return self.values(WORK_CENTER)


def roles_from_scopes(scopes: Iterable[str], xsappname: str) -> frozenset[Role]:
    """Roles granted by `<xsappname>.<Role>` scopes; foreign or unknown scopes grant nothing."""
    prefix = f"{xsappname}."
    known = {role.value: role for role in Role}
    return frozenset(
        known[s.removeprefix(prefix)] for s in scopes if s.startswith(prefix) and s[len(prefix) :] in known
    )


def attributes_from_claim(claim: object) -> dict[str, tuple[str, ...]]:
    """`xs.user.attributes` ({"Plant": ["1010"]}) as tuples of non-empty strings; junk is dropped."""
    if not isinstance(claim, Mapping):
        return {}
    result: dict[str, tuple[str, ...]] = {}
    for name in ATTRIBUTES:
        raw = claim.get(name)
        values = raw if isinstance(raw, list) else []
        result[name] = tuple(v for v in values if isinstance(v, str) and v)
    return result


def check_plant(principal: Principal, plant: str) -> None:
    """Raise NotInScope unless the caller may see objects of `plant`."""
    if plant not in principal.plants:
        raise NotInScope(f"plant {plant!r} is not among the caller's plants")


def check_work_center(principal: Principal, plant: str, work_center: str) -> None:
    """Raise NotInScope unless the caller may see work at `work_center` in `plant`."""
    check_plant(principal, plant)
    if work_center not in principal.work_centers:
        raise NotInScope(f"work centre {work_center!r} is not among the caller's work centres")
