"""Who the executive is in SAP: SAP refusing their own propagated identity is theirs to fix (403), not ours (502)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import structlog

from access.policy import Forbidden, Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import AuthKind
from odata_clients.errors import SapAuthError, SapCsrfError
from roles.common import sap_principal

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class SapUserRejected(Forbidden):
    """SAP refused a call made with the caller's own identity (user propagation): their SAP user is missing,
    unmapped or without the authorization. Only SAP's administrator can fix it, so it is a 403 naming the user.
    """

    def __init__(self, sap_user: str, sap_status: int | None) -> None:
        if sap_status == 403:
            message = (
                f"SAP refuses the user {sap_user} access to the inbox: ask your SAP administrator for the "
                "authorization to use My Inbox (TASKPROCESSING)"
            )
        else:
            message = (
                f"SAP does not know the user {sap_user}: ask your SAP administrator to create the user or map "
                "your identity (principal propagation)"
            )
        super().__init__(message)
        self.sap_user = sap_user
        self.sap_status = sap_status


def user_rejected(sap: SapConnectivity, principal: Principal, error: SapAuthError) -> SapUserRejected | None:
    """The caller's own rejection when `error` is SAP's 401/403 to a call made with their identity, else None.

    Our credentials are another matter (a 502 for the administrator of this service): a technical call, a CSRF
    refusal (a session problem, not an identity one), or a check that failed before anything reached SAP.
    """
    propagating = sap.user_http
    if propagating.auth_kind is not AuthKind.USER_PROPAGATION or error.destination != propagating.destination.name:
        return None
    if isinstance(error, SapCsrfError) or error.status not in (401, 403):
        return None
    return SapUserRejected(sap_principal(principal).user, error.status)


def as_sap_user(
    func: Callable[Concatenate[SapConnectivity, Principal, P], R],
) -> Callable[Concatenate[SapConnectivity, Principal, P], R]:
    """Run a use case that calls SAP as the caller; SAP refusing the caller is `SapUserRejected`."""

    @functools.wraps(func)
    def wrapper(sap: SapConnectivity, principal: Principal, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(sap, principal, *args, **kwargs)
        except SapAuthError as error:
            rejected = user_rejected(sap, principal, error)
            if rejected is None:
                raise
            log.warning("sap_user_rejected", sap_user=rejected.sap_user, sap_status=error.status, sap_code=error.code)
            raise rejected from error

    return wrapper
