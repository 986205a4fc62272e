"""Fixtures for the caching tests: apps on the real Redis of ``redis_url``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_resilience import Resilience
from flask_resilience.caching import CacheRuntime

res = Resilience()
"""Decorators in the tests are applied at import time through this, as a host app would."""


@pytest.fixture
def cache_app(
    make_app: Callable[..., Flask], redis_url: str, sqlite_url: str
) -> Callable[..., Flask]:
    """Build an app on the test Redis: ``cache_app(RESILIENCE_CACHE_L1_SIZE=100)``."""

    def factory(**config: Any) -> Flask:
        base = {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_REDIS_URL": redis_url}
        return make_app({**base, **config})

    return factory


def runtime(app: Flask) -> CacheRuntime:
    return app.extensions["resilience"].capabilities["cache"]  # type: ignore[no-any-return]


class Clock:
    """A wall clock the test moves by hand (expiry is wall time, shared across processes)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
