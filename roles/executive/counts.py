"""Executive badge counts, without Flask: the caller's open tasks as SAP counts them, acting as the caller."""

from __future__ import annotations

import datetime as dt

from access.policy import Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.tasks import OpenTaskCounts
from roles.common import sap_principal
from roles.executive.identity import as_sap_user

__all__ = ["OpenTaskCounts", "approval_counts"]


@as_sap_user
def approval_counts(sap: SapConnectivity, principal: Principal, *, now: dt.datetime | None = None) -> OpenTaskCounts:
    """Open tasks of the caller's inbox, as the caller (user propagation, like the list): SAP scopes them to the user.

    SAP refusing the caller's identity is a 403 naming their SAP user (`as_sap_user`), as for the list.
    """
    moment = now or dt.datetime.now(dt.UTC)
    return sap.tasks.for_user(sap_principal(principal)).open_counts(now=moment)
