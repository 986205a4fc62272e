"""Limits answered from process memory while Redis is unreachable.

Why not Flask-Limiter's ``in_memory_fallback``: it applies one rule to every limit, and it counts
the full limit in every process, so N replicas allow N times the login budget during an outage.
Here each limit declares ``fail="open"`` (stop limiting) or ``fail="closed"`` (keep limiting from
memory, with the limit divided by ``RESILIENCE_RATELIMIT_REPLICAS``). The request that finds
Redis back (at most one every ``probe_seconds``) ends the outage. Nothing here imports Flask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES
from limits.util import WindowStats

from .redis_lua import NOT_EVALUATED, Check, Outcome

OutageListener = Callable[[bool, BaseException | None], None]
"""Called with ``(True, error)`` when an outage starts and ``(False, None)`` when it ends."""


class MemoryFallback:
    """Per-process limiting for the duration of a storage outage."""

    def __init__(
        self,
        strategy: str,
        *,
        replicas: int,
        probe_seconds: float,
        fails_open: Callable[[RateLimitItem], bool],
        listener: OutageListener,
    ) -> None:
        self.limiter = STRATEGIES[strategy](MemoryStorage())
        self.replicas = replicas
        self.probe_seconds = probe_seconds
        self.outages = 0
        self._fails_open = fails_open
        self._listener = listener
        self._active = False
        self._next_probe = 0.0
        self._lock = threading.Lock()
        self._scaled: dict[int, RateLimitItem] = {}

    @property
    def active(self) -> bool:
        """True while limits are answered from memory."""
        return self._active

    def should_probe(self) -> bool:
        """True for at most one caller per ``probe_seconds``: that request tries Redis again."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_probe:
                return False
            self._next_probe = now + self.probe_seconds
            return True

    def enter(self, error: BaseException) -> None:
        """Record a failed storage call; the first one of an outage notifies the listener."""
        with self._lock:
            self._next_probe = time.monotonic() + self.probe_seconds
            if self._active:
                return
            self._active = True
            self.outages += 1
        self._listener(True, error)

    def leave(self) -> None:
        """Record a successful storage call; it ends the outage if there was one."""
        with self._lock:
            if not self._active:
                return
            self._active = False
        self._listener(False, None)

    def run(self, checks: Sequence[Check], *, stop_on_denial: bool) -> list[Outcome]:
        """Answer ``checks`` from memory, with the same stop-at-first-denial rule as Redis."""
        outcomes: list[Outcome] = []
        stopped = False
        for check in checks:
            if stopped:
                outcomes.append(NOT_EVALUATED)
                continue
            outcome = self.answer(check)
            outcomes.append(outcome)
            stopped = stop_on_denial and outcome.allowed is False
        return outcomes

    def window_stats(self, item: RateLimitItem, identifiers: Sequence[str]) -> WindowStats:
        """The memory window of ``item``, for headers of limits not checked in this request."""
        if self._fails_open(item):
            return WindowStats(time.time() + item.get_expiry(), item.amount)
        return self.limiter.get_window_stats(self._scale(item), *identifiers)

    def answer(self, check: Check) -> Outcome:
        """One check from memory: allowed for fail-open limits, else counted per process."""
        item = check.item
        if self._fails_open(item):
            return Outcome(True, WindowStats(time.time() + item.get_expiry(), item.amount))
        local = self._scale(item)
        method = self.limiter.hit if check.hit else self.limiter.test
        allowed = method(local, *check.identifiers, cost=check.cost)
        return Outcome(allowed, self.limiter.get_window_stats(local, *check.identifiers))

    def _scale(self, item: RateLimitItem) -> RateLimitItem:
        """``item`` with its amount divided among the replicas (at least 1 per process)."""
        if self.replicas == 1:
            return item
        scaled = self._scaled.get(id(item))
        if scaled is None:
            amount = max(1, item.amount // self.replicas)
            scaled = type(item)(amount, item.multiples, item.namespace)
            self._scaled[id(item)] = scaled
        return scaled
