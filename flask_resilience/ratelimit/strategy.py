"""A ``limits`` strategy that answers Flask-Limiter from one Lua call per request.

Flask-Limiter calls ``hit`` once per limit and later ``get_window_stats`` once per header. The
extension's limit manager tells this strategy every limit of a request up front
(:meth:`BatchedRateLimiter.prefetch`); one :class:`~.redis_lua.LuaBatch` call evaluates them all,
and the answers and window stats wait in the request context for Flask-Limiter to ask. A call
nobody prefetched (meta limits, conditional deductions) still works: it becomes a batch of one.

Storage errors never reach Flask-Limiter. Errors that mean Redis cannot serve (connection
refused or reset, timeouts, READONLY on a replica after a failover, OOM, LOADING, MASTERDOWN,
CLUSTERDOWN, TRYAGAIN) switch the strategy to its :class:`~.fallback.MemoryFallback` until Redis
answers again. Any other error (WRONGTYPE on one key, NOPERM, a script bug) is not an outage:
Redis is up and the next request would fail the same way, so it is reported to ``on_error``
(logged at ERROR) and only the limits it concerns are answered by their fail mode, from memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flask.globals import request_ctx
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, RateLimiter
from limits.util import WindowStats

from .fallback import MemoryFallback
from .redis_lua import UNAVAILABLE_CODES, Check, LuaBatch, Outcome, StorageUnavailable

ErrorListener = Callable[[RateLimitItem | None, BaseException | str], None]
"""Told about a storage error that is not an outage, with the limit it concerns when known."""
OUTAGE_ERRORS = frozenset(
    {
        "ConnectionError",  # refused, reset, auth failures, pool exhausted
        "TimeoutError",
        "BusyLoadingError",  # LOADING: a restarted node reading its dataset
        "ReadOnlyError",  # READONLY: a replica, e.g. an old primary after a failover
        "OutOfMemoryError",  # OOM: writes refused at maxmemory
        "ClusterDownError",
        "MasterDownError",
        "TryAgainError",
    }
)


@dataclass(slots=True)
class RequestAnswers:
    """What one request's batch answered: pending hits and the window stats for headers."""

    pending: dict[str, tuple[Check, bool]] = field(default_factory=dict)
    stats: dict[str, WindowStats] = field(default_factory=dict)


class BatchedRateLimiter(RateLimiter):
    """Wraps the configured ``limits`` strategy over the same Redis storage and key layout."""

    def __init__(
        self,
        storage: RedisStorage,
        strategy: str,
        fallback: MemoryFallback,
        on_error: ErrorListener = lambda item, error: None,
    ) -> None:
        super().__init__(storage)
        self.inner = STRATEGIES[strategy](storage)
        self.batch = LuaBatch(storage, strategy)
        self.fallback = fallback
        self.on_error = on_error
        self._errors: tuple[type[BaseException], ...] = (
            *_as_tuple(storage.base_exceptions),
            OSError,
            StorageUnavailable,
        )
        self._slot = f"_resilience_ratelimit_{id(self)}"

    def prefetch(self, checks: Sequence[Check], *, stop_on_denial: bool) -> None:
        """Evaluate ``checks`` now; the ``hit``/``test`` calls that follow read the answers."""
        answers = self._answers()
        if answers is None:
            return
        pending, stats = answers.pending, answers.stats
        for check, outcome in zip(checks, self._run(checks, stop_on_denial), strict=True):
            if outcome.allowed is not None:
                pending[check.key] = (check, outcome.allowed)
                if outcome.stats is not None:
                    stats[check.key] = outcome.stats

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._answer(item, identifiers, cost, True)

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._answer(item, identifiers, cost, False)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        answers = self._answers()
        if answers is not None:
            stats = answers.stats.get(item.key_for(*identifiers))
            if stats is not None:
                return stats
        fallback = self.fallback
        if fallback.active and not fallback.should_probe():
            return fallback.window_stats(item, identifiers)
        try:
            result = self.inner.get_window_stats(item, *identifiers)
        except self._errors as exc:
            self._failed(item, exc)
            return fallback.window_stats(item, identifiers)
        self._reachable()
        return result

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self.inner.clear(item, *identifiers)

    def _answer(
        self, item: RateLimitItem, identifiers: tuple[str, ...], cost: int, hit: bool
    ) -> bool:
        key = item.key_for(*identifiers)
        answers = self._answers()
        if answers is not None:
            found = answers.pending.pop(key, None)
            if found is not None and found[0].cost == cost and found[0].hit == hit:
                return found[1]
        check = Check(key, item, identifiers, cost, hit)
        outcome = self._run([check], stop_on_denial=False)[0]
        if answers is not None and outcome.stats is not None:
            answers.stats[key] = outcome.stats
        return bool(outcome.allowed)

    def _run(self, checks: Sequence[Check], stop_on_denial: bool) -> list[Outcome]:
        fallback = self.fallback
        if fallback.active and not fallback.should_probe():
            return fallback.run(checks, stop_on_denial=stop_on_denial)
        try:
            outcomes = self.batch.run(checks, stop_on_denial=stop_on_denial)
        except self._errors as exc:
            self._failed(checks[0].item if len(checks) == 1 else None, exc)
            return fallback.run(checks, stop_on_denial=stop_on_denial)
        if fallback.active:
            fallback.leave()
        for index, outcome in enumerate(outcomes):
            if outcome.error is not None:  # this limit's keys only; the others were answered
                check = checks[index]
                self.on_error(check.item, outcome.error)
                outcomes[index] = fallback.answer(check)
        return outcomes

    def _failed(self, item: RateLimitItem | None, exc: BaseException) -> None:
        """A storage call raised: an outage when Redis cannot serve, else an error to report."""
        if is_outage(exc):
            self.fallback.enter(exc)
            return
        self._reachable()
        self.on_error(item, exc)

    def _reachable(self) -> None:
        if self.fallback.active:
            self.fallback.leave()

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


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says Redis (this node) cannot serve, rather than that one call is wrong.

    Class names are compared so redis-py's and valkey-py's parallel exception trees both match;
    an error reply that reached us as a plain ``ResponseError`` is judged by its code.
    """
    if isinstance(exc, OSError | StorageUnavailable):
        return True
    if any(cls.__name__ in OUTAGE_ERRORS for cls in type(exc).__mro__):
        return True
    return str(exc).startswith(UNAVAILABLE_CODES)


def _as_tuple(errors: type[Exception] | tuple[type[Exception], ...]) -> tuple[type[Exception], ...]:
    return errors if isinstance(errors, tuple) else (errors,)
