"""Log lines for the events capabilities emit, through loguru with structured context.

Levels follow what an operator must act on: a circuit opening is a WARNING, closing again is
INFO, a half-open probe window is INFO.
"""

from __future__ import annotations

from loguru import logger

from ..resilient.healer import HealingDecision, HealingEvent, RuleLearned
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


def log_healing_event(event: HealingEvent) -> None:
    """Decisions at DEBUG (one per failure), learned rules and backoff changes at INFO."""
    signature = event.signature.key
    bound = logger.bind(policy=event.policy, signature=signature)
    if isinstance(event, HealingDecision):
        bound.debug(
            "healer {policy}: {signature} -> {strategy}{explored}",
            policy=event.policy,
            signature=signature,
            strategy=event.strategy,
            explored=" (exploring)" if event.explored else "",
        )
    elif isinstance(event, RuleLearned):
        bound.info(
            "healer {policy}: learned {signature} -> {strategy} "
            "(score {score:.2f} over {observations} observations, was {previous})",
            policy=event.policy,
            signature=signature,
            strategy=event.strategy,
            score=event.score,
            observations=event.observations,
            previous=event.previous,
        )
    else:
        bound.info(
            "healer {policy}: base backoff of {signature} {old:.0f} -> {new:.0f} ms ({reason})",
            policy=event.policy,
            signature=signature,
            old=event.previous_ms,
            new=event.base_backoff_ms,
            reason=event.reason,
        )
