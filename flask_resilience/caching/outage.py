"""Tracks whether the cache's Redis answers, so an outage costs one log line, not one per request.

After a failure Redis is skipped for ``retry_interval`` seconds: with a blackholed host every
attempt would otherwise wait out the socket timeout. When the interval is over, exactly one
caller claims the probe (atomically, as the rate limiter's fallback does) and tries Redis; every
other caller keeps skipping it until that probe fails (the next interval starts) or succeeds
(the outage ends, logged at INFO). So a dead host costs one socket timeout per interval per
process, not one per request that arrives while the probe is out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError

logger = logging.getLogger("flask_resilience.cache")

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
"""What a cache operation raises when Redis is unreachable (redis-py wraps most in RedisError)."""


class Outage:
    """Outage state of one app's cache store; cheap to consult on every request."""

    def __init__(
        self, retry_interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self.outages = 0

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def available(self) -> bool:
        """True when Redis may be used: it is up, or this caller just claimed the due probe.

        The claim moves the next probe one interval on, so concurrent callers during a probe
        get False; a failed probe pushes it again, a successful one ends the outage.
        """
        if self._down_since is None:
            return True
        now = self._clock()
        with self._lock:
            if self._down_since is None:
                return True
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_interval
            return True

    def failed(self, exc: BaseException) -> None:
        """Record a failure; the first one of an outage logs a WARNING."""
        now = self._clock()
        with self._lock:
            self._retry_at = now + self.retry_interval
            if self._down_since is not None:
                return
            self._down_since = now
            self.outages += 1
        logger.warning(
            "cache Redis unreachable (%s: %s); serving uncached until it returns",
            type(exc).__name__,
            exc,
        )

    def recovered(self) -> None:
        """Record a success; ends an outage (logged at INFO)."""
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            logger.info("cache Redis is back after %.1f s", self._clock() - since)
