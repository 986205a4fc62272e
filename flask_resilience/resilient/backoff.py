"""How long to wait before the next attempt.

A backoff is any object with ``delay(attempt) -> float`` where ``attempt`` is the number of
attempts that already failed (1 before the first retry). Exponential growth with *full jitter*
spreads a crowd of retrying clients over the whole interval instead of letting them retry in
lock-step (the "thundering herd" after an outage). A zero delay is exactly ``0.0`` so callers
can skip ``sleep`` entirely: ``time.sleep(0)`` still costs a system call.
"""

from __future__ import annotations

import random
from typing import Literal, Protocol

Jitter = Literal["full", "none"]


class Backoff(Protocol):
    """The wait before retry number ``attempt`` (1-based), in seconds."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after ``attempt`` failed attempts; ``0.0`` means retry at once."""
        ...


class ConstantBackoff:
    """The same wait before every retry; useful for polling and for tests.

    >>> ConstantBackoff(0.5).delay(3)
    0.5
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float = 0.0) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self.seconds = float(seconds)

    def delay(self, attempt: int) -> float:
        return self.seconds

    def __repr__(self) -> str:
        return f"ConstantBackoff({self.seconds!r})"


class ExponentialBackoff:
    """``base * multiplier ** (attempt - 1)``, capped at ``max_delay``, optionally fully jittered.

    With ``jitter="full"`` the delay is drawn uniformly from ``[0, capped]`` (AWS "full
    jitter"), which keeps the expected load on a recovering dependency flat. Pass a seeded
    ``random.Random`` as ``rng`` to make the schedule reproducible.

    >>> backoff = ExponentialBackoff(base=0.1, max_delay=1.0, jitter="none")
    >>> [backoff.delay(n) for n in (1, 2, 3, 5)]
    [0.1, 0.2, 0.4, 1.0]
    """

    __slots__ = ("_rng", "base", "jitter", "max_delay", "multiplier")

    def __init__(
        self,
        *,
        base: float = 0.1,
        multiplier: float = 2.0,
        max_delay: float = 10.0,
        jitter: Jitter = "full",
        rng: random.Random | None = None,
    ) -> None:
        if base < 0 or max_delay < 0:
            raise ValueError("base and max_delay must be >= 0")
        if multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {multiplier!r}")
        if jitter not in ("full", "none"):
            raise ValueError(f"jitter must be 'full' or 'none', got {jitter!r}")
        self.base = float(base)
        self.multiplier = float(multiplier)
        self.max_delay = float(max_delay)
        self.jitter: Jitter = jitter
        self._rng = rng if rng is not None else random.Random()

    def delay(self, attempt: int) -> float:
        if self.base == 0.0 or self.max_delay == 0.0:
            return 0.0
        try:
            capped = min(self.max_delay, self.base * self.multiplier ** max(0, attempt - 1))
        except OverflowError:
            capped = self.max_delay
        if self.jitter == "full":
            return self._rng.uniform(0.0, capped)
        return capped

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(base={self.base!r}, multiplier={self.multiplier!r}, "
            f"max_delay={self.max_delay!r}, jitter={self.jitter!r})"
        )
