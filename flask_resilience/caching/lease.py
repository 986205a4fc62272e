"""Keeps the stampede locks this process holds alive while their computations run.

A lock that expired under a slow computation would let the next caller take it and compute
again, and again after each lease: a stampede in slow motion. So the holder renews it. The lease
(``RESILIENCE_CACHE_LOCK_TIMEOUT``) then only bounds how long a *crashed* holder blocks others:
it stops renewing and its lock frees within one lease.

One daemon thread per cache renews every held lock each third of the lease, and exits as soon as
none is held, so an idle process runs no thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .outage import REDIS_ERRORS

logger = logging.getLogger("flask_resilience.cache")

Extend = Callable[[dict[str, str], int], set[str]]
"""``extend({key: token}, lease_ms)`` -> the keys whose lock was extended (still ours)."""


class LockKeeper:
    """``hold(key, token)`` while computing, ``release(key)`` after; renewal happens between."""

    def __init__(self, extend: Extend, lease: float) -> None:
        self._extend = extend
        self.lease = lease
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self.renewals = 0
        """Successful renewals so far (for tests and stats)."""

    def hold(self, key: str, token: str) -> None:
        with self._lock:
            self._held[key] = token
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="resilience-cache-locks", daemon=True
                )
                self._thread.start()

    def release(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def _run(self) -> None:
        while True:
            time.sleep(self.lease / 3)
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                held = dict(self._held)
            self._renew(held)

    def _renew(self, held: dict[str, str]) -> None:
        try:
            kept = self._extend(held, max(1, int(self.lease * 1000)))
        except REDIS_ERRORS as exc:  # the lock may lapse: at worst one extra computation
            logger.debug("cache lock renewal failed: %s", exc)
            return
        self.renewals += len(kept)
        lost = set(held) - kept
        if lost:
            with self._lock:  # no longer ours: stop renewing (someone else holds it now)
                for key in lost:
                    if self._held.get(key) == held[key]:
                        del self._held[key]
