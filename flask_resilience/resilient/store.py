"""Where a circuit breaker keeps its state, behind a narrow protocol.

``CircuitBreaker`` decides nothing about storage; a store owns the state machine's data and its
transitions, so a Redis store can do each operation as one atomic script and share one breaker
across a fleet. The protocol is deliberately small:

- ``acquire()``: may this call run? Moves OPEN to HALF_OPEN when the reset timeout elapsed and
  reserves a probe there. Must be cheap in CLOSED (no lock, no clock, no round trip).
- ``reserve_probe()``: take one of the ``half_open_max_calls`` probe slots, explicitly.
- ``record(outcome, probe)``: count an outcome and apply any transition it causes.
- ``transition(state, reason)``: a manual move (trip or reset).
- ``snapshot()``: read the state and counters, for health pages and tests.

Operations that change state return the ``BreakerEvent`` so the breaker can notify listeners
outside of any lock.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .._foundation.clock import Clock


class BreakerState(enum.Enum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerConfig:
    """When a breaker trips and how it recovers; validated once, shared with the store."""

    window: Literal["count", "time"] = "count"
    window_size: float = 100
    minimum_calls: int = 10
    failure_rate_threshold: float | None = 0.5
    failure_threshold: int | None = None
    slow_call_threshold: float | None = None
    slow_call_rate_threshold: float = 1.0
    half_open_max_calls: int = 1
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.window not in ("count", "time"):
            raise ValueError(f"window must be 'count' or 'time', got {self.window!r}")
        if self.window == "count" and (self.window_size != int(self.window_size)):
            raise ValueError("a count window_size must be a whole number of calls")
        _check(self.window_size > 0, "window_size must be > 0")
        _check(self.minimum_calls >= 1, "minimum_calls must be >= 1")
        rate = self.failure_rate_threshold
        _check(rate is None or 0 < rate <= 1, "failure_rate_threshold must be in (0, 1]")
        count = self.failure_threshold
        _check(count is None or count >= 1, "failure_threshold must be >= 1")
        _check(rate is not None or count is not None, "set a failure rate or count threshold")
        slow = self.slow_call_threshold
        _check(slow is None or slow > 0, "slow_call_threshold must be > 0 seconds")
        _check(0 < self.slow_call_rate_threshold <= 1, "slow_call_rate_threshold must be in (0, 1]")
        _check(self.half_open_max_calls >= 1, "half_open_max_calls must be >= 1")
        _check(0 < self.reset_timeout < math.inf, "reset_timeout must be a finite number > 0")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """A state change of breaker ``name``, at ``at`` on the breaker's clock, and why."""

    name: str
    previous: BreakerState
    state: BreakerState
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class Permit:
    """The answer to ``acquire``: run or not, as a half-open probe or not.

    ``remaining`` is the open time left when rejected; ``event`` a transition ``acquire`` made.
    """

    admitted: bool
    probe: bool = False
    remaining: float = 0.0
    event: BreakerEvent | None = None


ADMITTED = Permit(True)
"""The permit of every call in the CLOSED state: a constant, so the hot path allocates nothing."""
PROBE = Permit(True, probe=True)


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent read of a breaker's state and window counters."""

    name: str
    state: BreakerState
    calls: int
    failures: int
    slow_calls: int
    consecutive_failures: int
    remaining_open: float


class BreakerStore(Protocol):
    """State and transitions of one named breaker; see the module docstring."""

    def acquire(self) -> Permit: ...

    def reserve_probe(self) -> Permit: ...

    def record(self, outcome: int, probe: bool) -> BreakerEvent | None: ...

    def transition(self, state: BreakerState, reason: str) -> BreakerEvent | None: ...

    def snapshot(self) -> BreakerSnapshot: ...


StoreFactory = Callable[[str, BreakerConfig, Clock], BreakerStore]
"""Builds the store of breaker ``name``: ``factory(name, config, clock)``."""
