"""The worker's composition root: settings, logging, the store, SAP and Redis, without Flask."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

import redis

from notifications import EventBus
from odata_clients.connectivity import SapConnectivity
from runtime.logs import configure_logging
from runtime.sap import sap_connectivity
from runtime.settings import Settings, from_env
from runtime.tracing import configure_tracing
from runtime.user_assertion import UserAssertionSigner, user_assertion_signer
from store import Store, make_engine, upgrade
from workers.retry import RetryPolicy


@dataclass(frozen=True)
class WorkerContext:
    """What a job needs; built once per worker process and shared by every job it runs."""

    settings: Settings
    redis: redis.Redis
    store: Store
    sap: SapConnectivity
    signer: UserAssertionSigner | None  # None: no key SAP trusts, task commands cannot act as the user
    retry: RetryPolicy
    name: str  # who acts in the audit trail: "worker@host:pid"
    bus: EventBus  # notifications for apps and webhooks (writeback outcomes, SAP events)

    def close(self) -> None:
        self.sap.close()
        self.store.engine.dispose()
        self.redis.close()


def bootstrap(settings: Settings | None = None, *, migrate: bool = True) -> WorkerContext:
    """Build the context; `migrate` brings the store's schema up to date first (safe to run concurrently)."""
    settings = settings or from_env()
    configure_logging(settings.log_level, settings.log_format, app=settings.app_name, process="worker")
    configure_tracing(settings, "worker")
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    connection = redis.Redis.from_url(settings.redis_url)
    return WorkerContext(
        settings=settings,
        redis=connection,
        store=Store(engine),
        sap=sap_connectivity(settings),
        signer=user_assertion_signer(settings),
        retry=RetryPolicy(
            max_attempts=settings.writeback_max_attempts,
            base=settings.writeback_backoff_base,
            cap=max(settings.writeback_backoff_max, settings.writeback_backoff_base),
        ),
        name=f"worker@{socket.gethostname()}:{os.getpid()}",
        bus=EventBus(connection, retain=settings.events_retain),
    )


_context: WorkerContext | None = None
_lock = threading.Lock()


def get_context() -> WorkerContext:
    """This process's context, built on first use from the environment (a job in a fresh process)."""
    global _context
    with _lock:
        if _context is None:
            _context = bootstrap()
        return _context


def set_context(context: WorkerContext | None) -> None:
    """Install a context built elsewhere (the worker's main, tests); None forgets it."""
    global _context
    with _lock:
        _context = context
