"""The foundation's own settings, read and validated once per app at ``init_app``.

Every key, its default and its meaning is listed in ``docs/configuration.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .config_reader import ConfigReader
from .presets import ENVIRONMENTS, EnginePreset, resolve_preset

DATABASE_URL = "RESILIENCE_DATABASE_URL"
DATABASE_POOL_SIZE = "RESILIENCE_DATABASE_POOL_SIZE"
DATABASE_MAX_OVERFLOW = "RESILIENCE_DATABASE_MAX_OVERFLOW"
REDIS_URL = "RESILIENCE_REDIS_URL"
ENV = "RESILIENCE_ENV"
URL_PREFIX = "RESILIENCE_URL_PREFIX"
TRUSTED_PROXIES = "RESILIENCE_TRUSTED_PROXIES"
METRICS_ENABLED = "RESILIENCE_METRICS_ENABLED"
"""Read by observability (serve /metrics) and by capabilities (keep the counters at all)."""

REDIS_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+sentinel",
    "rediss+sentinel",
    "redis+cluster",
    "rediss+cluster",
)
DEFAULT_DATABASE_FILE = "resilience.sqlite3"


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated foundation settings of one app."""

    database_url: str
    database_pool_size: int
    database_max_overflow: int
    redis_url: str | None
    env: str
    url_prefix: str
    trusted_proxies: int
    engine: EnginePreset

    @property
    def embedded(self) -> bool:
        """No Redis URL: one process, fakeredis and an in-process worker."""
        return self.redis_url is None

    @classmethod
    def from_app(
        cls, app: Flask, overrides: Mapping[str, Any] | None = None
    ) -> tuple[Settings, ConfigReader]:
        """Read the settings of ``app``; raises ConfigurationError on the first bad key."""
        reader = ConfigReader(app.config, overrides=overrides)
        env = reader.choice(ENV, "development", ENVIRONMENTS)
        default_db = "sqlite:///" + os.path.join(app.instance_path, DEFAULT_DATABASE_FILE)
        settings = cls(
            database_url=reader.parsed(DATABASE_URL, default_db, _database_url),
            database_pool_size=reader.integer(DATABASE_POOL_SIZE, 5, minimum=1),
            database_max_overflow=reader.integer(DATABASE_MAX_OVERFLOW, 10, minimum=0),
            redis_url=reader.parsed(REDIS_URL, None, _redis_url),
            env=env,
            url_prefix=reader.parsed(URL_PREFIX, "/resilience", _url_prefix),
            trusted_proxies=reader.integer(TRUSTED_PROXIES, 0, minimum=0, maximum=10),
            engine=resolve_preset(env, reader),
        )
        return settings, reader


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"not a SQLAlchemy database URL ({exc})") from exc
    if not url.drivername:
        raise ValueError("the URL names no database driver")
    return value


def _redis_url(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in REDIS_SCHEMES:
        raise ValueError(f"scheme {scheme!r} is not one of {', '.join(REDIS_SCHEMES)}")
    return value


def _url_prefix(value: str) -> str:
    if not value.startswith("/") or value != value.rstrip("/") or " " in value:
        raise ValueError("must start with '/', not end with '/', and contain no spaces")
    return value
