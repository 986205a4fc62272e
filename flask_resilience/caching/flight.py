"""In-process single-flight: concurrent callers of one key share a single computation.

The Redis lock coordinates processes; this coordinates the threads of one process without any
Redis round trip, so 50 threads missing one key make one lock attempt, not 50. It also keeps the
database safe while Redis is down, when the distributed lock is unavailable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

MISSING: Any = object()
"""Returned to a follower whose bounded wait ran out; it then computes on its own."""


class _Call:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = MISSING
        self.error: BaseException | None = None


class SingleFlight:
    """``run(key, fn, timeout)`` -> ``(value, leader)``; followers get the leader's result.

    >>> flight = SingleFlight()
    >>> flight.run("k", lambda: 42, timeout=1.0)
    (42, True)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def run(self, key: str, fn: Callable[[], Any], timeout: float) -> tuple[Any, bool]:
        """The leader runs ``fn``; followers wait up to ``timeout`` and re-raise its error.

        A follower whose wait runs out gets ``(MISSING, False)``: waiting is bounded, so a
        slow computation degrades into a few duplicate ones instead of a pile of stuck threads.
        """
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            if not call.done.wait(timeout):
                return MISSING, False
            if call.error is not None:
                raise call.error
            return call.value, False
        try:
            call.value = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.value, True

    def in_flight(self) -> int:
        """How many keys are being computed right now (for stats)."""
        with self._lock:
            return len(self._calls)
