"""A ``limits`` strategy that answers Flask-Limiter from one Lua call per request.

Flask-Limiter calls ``hit`` once per limit and later ``get_window_stats`` once per header. The
extension's limit manager tells this strategy every limit of a request up front
(:meth:`BatchedRateLimiter.prefetch`); one :class:`~.redis_lua.LuaBatch` call evaluates them all,
and the answers and window stats wait in the request context for Flask-Limiter to ask. A call
nobody prefetched (meta limits, conditional deductions) still works: it becomes a batch of one.

Storage errors never reach Flask-Limiter: they switch the strategy to its
:class:`~.fallback.MemoryFallback`, so no request fails because Redis is down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from flask.globals import request_ctx
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, RateLimiter
from limits.util import WindowStats

from .fallback import MemoryFallback
from .redis_lua import Check, LuaBatch, Outcome

T = TypeVar("T")


@dataclass(slots=True)
class RequestAnswers:
    """What one request's batch answered: pending hits and the window stats for headers."""

    pending: dict[str, tuple[Check, bool]] = field(default_factory=dict)
    stats: dict[str, WindowStats] = field(default_factory=dict)


class BatchedRateLimiter(RateLimiter):
    """Wraps the configured ``limits`` strategy over the same Redis storage and key layout."""

    def __init__(self, storage: RedisStorage, strategy: str, fallback: MemoryFallback) -> None:
        super().__init__(storage)
        self.inner = STRATEGIES[strategy](storage)
        self.batch = LuaBatch(storage, strategy)
        self.fallback = fallback
        self._errors: tuple[type[BaseException], ...] = (
            *_as_tuple(storage.base_exceptions),
            OSError,
        )
        self._slot = f"_resilience_ratelimit_{id(self)}"

    def prefetch(self, checks: Sequence[Check], *, stop_on_denial: bool) -> None:
        """Evaluate ``checks`` now; the ``hit``/``test`` calls that follow read the answers."""
        answers = self._answers()
        for check, outcome in zip(checks, self._run(checks, stop_on_denial), strict=True):
            if outcome.allowed is not None and answers is not None:
                answers.pending[check.key] = (check, outcome.allowed)
                if outcome.stats is not None:
                    answers.stats[check.key] = outcome.stats

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._answer(Check.of(item, identifiers, cost, True))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._answer(Check.of(item, identifiers, cost, False))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        answers = self._answers()
        if answers is not None:
            stats = answers.stats.get(item.key_for(*identifiers))
            if stats is not None:
                return stats
        return self._guarded(
            lambda: self.inner.get_window_stats(item, *identifiers),
            lambda: self.fallback.window_stats(item, identifiers),
        )

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self.inner.clear(item, *identifiers)

    def _answer(self, check: Check) -> bool:
        answers = self._answers()
        if answers is not None:
            found = answers.pending.pop(check.key, None)
            if found is not None and found[0].cost == check.cost and found[0].hit == check.hit:
                return found[1]
        outcome = self._run([check], stop_on_denial=False)[0]
        if answers is not None and outcome.stats is not None:
            answers.stats[check.key] = outcome.stats
        return bool(outcome.allowed)

    def _run(self, checks: Sequence[Check], stop_on_denial: bool) -> list[Outcome]:
        fallback = self.fallback
        if fallback.active and not fallback.should_probe():
            return fallback.run(checks, stop_on_denial=stop_on_denial)
        return self._guarded(
            lambda: self.batch.run(checks, stop_on_denial=stop_on_denial),
            lambda: fallback.run(checks, stop_on_denial=stop_on_denial),
        )

    def _guarded(self, primary: Callable[[], T], secondary: Callable[[], T]) -> T:
        try:
            result = primary()
        except self._errors as exc:
            self.fallback.enter(exc)
            return secondary()
        if self.fallback.active:
            self.fallback.leave()
        return result

    def _answers(self) -> RequestAnswers | None:
        """This request's answers, kept on the request context (never shared across requests)."""
        try:
            ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        except RuntimeError:
            return None
        answers: RequestAnswers | None = getattr(ctx, self._slot, None)
        if answers is None:
            answers = RequestAnswers()
            setattr(ctx, self._slot, answers)
        return answers


def _as_tuple(errors: type[Exception] | tuple[type[Exception], ...]) -> tuple[type[Exception], ...]:
    return errors if isinstance(errors, tuple) else (errors,)
