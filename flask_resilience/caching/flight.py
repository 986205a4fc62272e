"""In-process single-flight: concurrent callers of one key share a single computation.

The Redis lock coordinates processes; this coordinates the threads of one process without any
Redis round trip, so 50 threads missing one key make one lock attempt, not 50. It also keeps the
database safe while Redis is down, when the distributed lock is unavailable.

Waiting is bounded without multiplying work. A follower waits until the newest computation of
its key has run for ``wait`` seconds; then it starts one more itself (``take_over``) and every
other caller keeps waiting for whichever computation finishes first. So while computations are
slower than ``wait``, a process starts at most one per ``wait`` seconds, never one per caller.
While the leader itself waits for another process (``wait_elsewhere``, bounded by the caller),
its followers wait with it; ``restart`` then starts their clock over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_UNSET: Any = object()


class _Call:
    """The shared outcome of one key; the first computation to finish settles it."""

    __slots__ = ("changed", "done", "elsewhere", "error", "started", "value")

    def __init__(self, lock: threading.Lock, started: float) -> None:
        self.changed = threading.Condition(lock)
        self.done = False
        self.elsewhere = False
        self.value: Any = _UNSET
        self.error: BaseException | None = None
        self.started = started

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class SingleFlight:
    """``run(key, fn, wait)`` -> ``(value, computed)``; waiters get the first result.

    >>> flight = SingleFlight()
    >>> flight.run("k", lambda: 42, wait=1.0)
    (42, True)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def run(
        self,
        key: str,
        fn: Callable[[], Any],
        wait: float,
        take_over: Callable[[], Any] | None = None,
    ) -> tuple[Any, bool]:
        """Run ``fn`` unless another caller is computing ``key``; then share its outcome.

        ``computed`` is True when this caller computed (``fn`` as leader, ``take_over`` or
        else ``fn`` after its wait ran out). A follower re-raises the error it waited for.
        """
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                call = self._calls[key] = _Call(self._lock, self._clock())
                leading = True
            else:
                leading = False
                if not self._await(call, wait):
                    return call.outcome(), False
        return self._compute(key, call, fn if leading else take_over or fn), True

    def wait_elsewhere(self, key: str) -> None:
        """The leader of ``key`` now waits for another process; its followers wait with it."""
        with self._lock:
            call = self._calls.get(key)
            if call is not None:
                call.elsewhere = True

    def restart(self, key: str) -> None:
        """The leader of ``key`` stopped waiting elsewhere and computes: clocks start over."""
        with self._lock:
            call = self._calls.get(key)
            if call is not None:
                call.elsewhere = False
                call.started = self._clock()
                call.changed.notify_all()

    def in_flight(self) -> int:
        """How many keys are being computed right now (for stats)."""
        with self._lock:
            return len(self._calls)

    def _await(self, call: _Call, wait: float) -> bool:
        """Wait (lock held) for ``call``; True when this follower must compute after all."""
        while not call.done:
            due = call.started + wait - self._clock()
            if due <= 0 and not call.elsewhere:
                call.started = self._clock()
                return True
            call.changed.wait(due if due > 0 else None)
        return False

    def _compute(self, key: str, call: _Call, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except BaseException as exc:
            self._settle(key, call, _UNSET, exc)
            raise
        self._settle(key, call, value, None)
        return value

    def _settle(self, key: str, call: _Call, value: Any, error: BaseException | None) -> None:
        with self._lock:
            if call.done:  # another computation of this key finished first
                return
            call.value, call.error, call.done = value, error, True
            if self._calls.get(key) is call:
                del self._calls[key]
            call.changed.notify_all()
