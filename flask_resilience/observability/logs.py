"""Log lines for the events capabilities emit, through loguru with structured context.

Levels follow what an operator must act on: a circuit opening is a WARNING, closing again is
INFO, a half-open probe window is INFO.
"""

from __future__ import annotations

from loguru import logger

from ..resilient.store import BreakerEvent, BreakerState

_LEVELS = {
    BreakerState.OPEN: "WARNING",
    BreakerState.HALF_OPEN: "INFO",
    BreakerState.CLOSED: "INFO",
}


def log_breaker_event(event: BreakerEvent) -> None:
    """One line per breaker state change, with the policy name bound for filtering."""
    logger.bind(policy=event.name, previous=event.previous.value, state=event.state.value).log(
        _LEVELS.get(event.state, "INFO"),
        "circuit {policy} {previous} -> {state}: {reason}",
        policy=event.name,
        previous=event.previous.value,
        state=event.state.value,
        reason=event.reason,
    )
