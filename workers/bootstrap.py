"""The worker's composition root: settings, logging and connections, without Flask."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from runtime.logs import configure_logging
from runtime.settings import Settings, from_env


@dataclass(frozen=True)
class WorkerContext:
    """What a job needs; built once per worker process."""

    settings: Settings
    redis: redis.Redis


def bootstrap(settings: Settings | None = None) -> WorkerContext:
    settings = settings or from_env()
    configure_logging(settings.log_level, settings.log_format, app=settings.app_name, process="worker")
    return WorkerContext(settings=settings, redis=redis.Redis.from_url(settings.redis_url))
