"""Sliding windows of call outcomes for the circuit breaker.

Outcomes are small ints with bit flags (``FAILURE = 1``, ``SLOW = 2``) so a count window is one
``bytearray`` and both windows keep running totals: reading the failure rate is O(1), as in
Resilience4j's subtract-on-evict windows.
"""

from __future__ import annotations

SUCCESS = 0
FAILURE = 1
SLOW = 2
IGNORED = 4
"""Not counted at all (cancellation, a rejection by an inner layer); frees a half-open probe."""


class CountWindow:
    """The last ``size`` outcomes.

    >>> window = CountWindow(2)
    >>> for outcome in (FAILURE, SUCCESS, SUCCESS):
    ...     window.add(outcome, 0.0)
    >>> window.totals(0.0)
    (2, 0, 0)
    """

    __slots__ = ("_index", "_ring", "calls", "failures", "size", "slow")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window_size must be >= 1, got {size!r}")
        self.size = size
        self._ring = bytearray(size)
        self._index = 0
        self.calls = self.failures = self.slow = 0

    def add(self, outcome: int, now: float) -> None:
        index = self._index
        if self.calls == self.size:
            old = self._ring[index]
            self.failures -= old & FAILURE
            self.slow -= (old & SLOW) >> 1
        else:
            self.calls += 1
        self._ring[index] = outcome
        self.failures += outcome & FAILURE
        self.slow += (outcome & SLOW) >> 1
        self._index = index + 1 if index + 1 < self.size else 0

    def totals(self, now: float) -> tuple[int, int, int]:
        """``(calls, failures, slow_calls)`` in the window."""
        return self.calls, self.failures, self.slow

    def full_and_clean(self) -> bool:
        """True when one more success would change nothing, so it need not be recorded."""
        return self.calls == self.size and self.failures == 0 and self.slow == 0

    def reset(self) -> None:
        self._ring = bytearray(self.size)
        self._index = 0
        self.calls = self.failures = self.slow = 0


class TimeWindow:
    """Outcomes of the last ``seconds``, kept in ``buckets`` equal slices that expire whole.

    Memory is fixed whatever the call rate; the window slides in steps of ``seconds / buckets``.

    >>> window = TimeWindow(10.0, buckets=10)
    >>> window.add(FAILURE, 0.5)
    >>> window.totals(5.0), window.totals(11.0)
    ((1, 1, 0), (0, 0, 0))
    """

    __slots__ = (
        "_calls",
        "_failures",
        "_latest",
        "_slow",
        "_width",
        "buckets",
        "calls",
        "failures",
        "seconds",
        "slow",
    )

    def __init__(self, seconds: float, *, buckets: int = 10) -> None:
        if seconds <= 0 or buckets < 1:
            raise ValueError(f"window_size must be > 0 seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self.buckets = buckets
        self._width = self.seconds / buckets
        self.reset()

    def add(self, outcome: int, now: float) -> None:
        index = self._advance(now)
        self._calls[index] += 1
        self._failures[index] += outcome & FAILURE
        self._slow[index] += (outcome & SLOW) >> 1
        self.calls += 1
        self.failures += outcome & FAILURE
        self.slow += (outcome & SLOW) >> 1

    def totals(self, now: float) -> tuple[int, int, int]:
        self._advance(now)
        return self.calls, self.failures, self.slow

    def full_and_clean(self) -> bool:
        return False  # every success must be counted: it is the denominator of the rate

    def reset(self) -> None:
        self._calls = [0] * self.buckets
        self._failures = [0] * self.buckets
        self._slow = [0] * self.buckets
        self._latest: int | None = None
        self.calls = self.failures = self.slow = 0

    def _advance(self, now: float) -> int:
        """Expire the slices that fell out of the window; return the index of ``now``'s slice."""
        epoch = int(now // self._width)
        latest = self._latest
        if latest is None or epoch - latest >= self.buckets:
            if latest is not None:
                self.reset()
            self._latest = epoch
        elif epoch > latest:
            for stale in range(latest + 1, epoch + 1):
                self._clear(stale % self.buckets)
            self._latest = epoch
        return epoch % self.buckets

    def _clear(self, index: int) -> None:
        self.calls -= self._calls[index]
        self.failures -= self._failures[index]
        self.slow -= self._slow[index]
        self._calls[index] = self._failures[index] = self._slow[index] = 0
