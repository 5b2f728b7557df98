"""Options of a mock SAP system (command line and `create_app`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mock_sap.auth import TrustedIssuer
from mock_sap.data.catalog import default_users

DEFAULT_SEED = 20240611


@dataclass
class MockOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    seed: int = DEFAULT_SEED
    seed_given: bool = False  # a --seed on the command line also makes fault rates deterministic
    orders: int = 2000
    reference_date: dt.date | None = None  # None: today (UTC)
    sap_client: str = "100"
    system_id: str = "S4H"
    page_size: int = 100
    users: dict[str, str] = field(default_factory=default_users)
    trusted_issuers: list[TrustedIssuer] = field(default_factory=list)
    faults: list[dict[str, object]] = field(default_factory=list)
    verbose: bool = False
    # Business events: webhooks subscribed from the start (kept by a reset), one Basic user for all of them.
    event_webhooks: list[str] = field(default_factory=list)
    event_webhook_user: str | None = None
    event_webhook_password: str | None = None
    # Redelivery (Event Mesh's is much slower: minutes): seconds, doubling per failed attempt up to the maximum.
    event_retry_initial: float = 0.5
    event_retry_max: float = 30.0
    event_max_attempts: int = 10
    event_timeout: float = 10.0

    @property
    def reference(self) -> dt.date:
        return self.reference_date or dt.datetime.now(dt.UTC).date()
