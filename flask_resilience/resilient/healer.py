"""Adaptive self-healing: learn, per failure signature, which healing strategy actually works.

A failure signature is (policy, exception type, HTTP status when the exception carries one). For
each signature the ``Healer`` runs a small epsilon-greedy bandit over the allowed strategies:

- ``retry`` waits ``base * 2**(n-1)`` (equal jitter: uniform in ``[d/2, d]``) and calls again;
- ``retry_fast`` waits ``base / 10`` and calls again;
- ``alternate`` calls a second callable at once (a replica, another region);
- ``fallback`` answers with the configured fallback (a degraded answer, rewarded 0.5 not 1);
- ``fail_fast`` re-raises at once; the only strategy besides ``fallback`` for 4xx-like statuses
  (all 4xx except 408, 425 and 429), because asking again cannot fix a bad request.

Scores are exponential moving averages of the reward (1 healed, 0 not) with weight
``learning_rate_alpha``. Untried strategies start *optimistic* at 1.0, so each allowed one is
tried before the healer settles (after ``Healer.load`` they start at half the rule's score, so a
restarted fleet follows what was learned). Ties go to the first allowed strategy in the safe
order ``retry, retry_fast, alternate, fallback, fail_fast``.

Every ``strategy_evolution_interval`` recorded outcomes the healer re-ranks each signature (a
learned rule changes only when another strategy beats it by 0.05, so rules do not flap) and tunes
its base backoff from the retries since the last tuning: x1.5 when short waits (``<= base``)
succeed at least 0.25 less often than long ones (the dependency needs time), else x0.75 when the
first retry succeeds at least 80% of the time (we wait longer than needed); bounded by
``backoff_bounds`` (default ``[base / 4, base * 8]``).

The lock guards bookkeeping only; it is never held while user code or a listener runs.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from .._foundation.clock import SYSTEM_CLOCK, Clock

RETRY: Final = "retry"
RETRY_FAST: Final = "retry_fast"
ALTERNATE: Final = "alternate"
FALLBACK: Final = "fallback"
FAIL_FAST: Final = "fail_fast"
STRATEGIES: Final = (RETRY, RETRY_FAST, ALTERNATE, FALLBACK, FAIL_FAST)
"""Every strategy, in the order that breaks ties."""

log = logging.getLogger(__name__)

_TRANSIENT_4XX = frozenset({408, 425, 429})
_RULE_MARGIN = 0.05
_MIN_TUNING_SAMPLES = 3
_MIN_FIRST_RETRIES = 5


@dataclass(frozen=True, slots=True)
class FailureSignature:
    """What kind of failure this is, the unit the healer learns about.

    >>> FailureSignature("payments", "HTTPError", 503).key
    'HTTPError@503'
    """

    policy: str
    exception_type: str
    http_status: int | None = None

    @property
    def key(self) -> str:
        """The signature within its policy, as stored in ``resilience_learned_rules.signature``."""
        if self.http_status is None:
            return self.exception_type
        return f"{self.exception_type}@{self.http_status}"

    @property
    def retryable(self) -> bool:
        """False for 4xx-like statuses: the request itself is wrong, asking again cannot help."""
        status = self.http_status
        return status is None or not (400 <= status < 500) or status in _TRANSIENT_4XX


def http_status_of(exc: BaseException) -> int | None:
    """The HTTP status ``exc`` carries (``status_code``, ``status``, ``response.status_code``,
    ``code``), when it is an int within 100..599.

    >>> class Gone(Exception):
    ...     status_code = 410
    >>> http_status_of(Gone()), http_status_of(ValueError())
    (410, None)
    """
    response = getattr(exc, "response", None)
    for value in (
        getattr(exc, "status_code", None),
        getattr(exc, "status", None),
        getattr(response, "status_code", None),
        getattr(exc, "code", None),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def signature_of(policy: str, exc: BaseException) -> FailureSignature:
    """The signature of ``exc`` raised under ``policy``; builtins are named without module.

    >>> signature_of("db", ConnectionError("reset"))
    FailureSignature(policy='db', exception_type='ConnectionError', http_status=None)
    """
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return FailureSignature(policy, name, http_status_of(exc))


@dataclass(frozen=True, slots=True)
class HealingDecision:
    """The healer chose ``strategy`` for ``signature`` (at random if ``explored``)."""

    policy: str
    signature: FailureSignature
    strategy: str
    explored: bool
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class RuleLearned:
    """``strategy`` became the learned rule of ``signature`` (replacing ``previous``, if any)."""

    policy: str
    signature: FailureSignature
    strategy: str
    score: float
    observations: int
    previous: str | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class BackoffTuned:
    """The base backoff of ``signature`` moved from ``previous_ms`` to ``base_backoff_ms``."""

    policy: str
    signature: FailureSignature
    previous_ms: float
    base_backoff_ms: float
    reason: str
    at: float = 0.0


HealingEvent = HealingDecision | RuleLearned | BackoffTuned
HealingListener = Callable[[HealingEvent], object]


@dataclass(frozen=True, slots=True)
class LearnedRuleData:
    """A learned (signature -> strategy) rule, as persisted and reloaded by ``rules.py``."""

    policy: str
    signature: FailureSignature
    strategy: str
    score: float
    observations: int
    base_backoff_ms: int | None = None


@dataclass(frozen=True, slots=True)
class HealerStats:
    """Counters of the calls through a healer; ``healed`` calls are part of ``successes``."""

    calls: int
    successes: int
    failures: int
    healed: int
    learned_rules: int


class HealerCounters:
    """Plain integer counters bumped by ``HealingRetry`` without a lock.

    Under heavy thread contention an increment may be lost (like ``RetryBudget`` deposits): they
    feed dashboards, and a lock here would cost every successful call.
    """

    __slots__ = ("failures", "healed", "successes")

    def __init__(self) -> None:
        self.successes = self.failures = self.healed = 0


class _Arm:
    __slots__ = ("observations", "score")

    def __init__(self, score: float, observations: int = 0) -> None:
        self.score = score
        self.observations = observations


class _Signature:
    """Learning state of one signature; only touched under the healer's lock."""

    __slots__ = ("arms", "base", "first", "long", "prior", "rule", "short")

    def __init__(self, prior: float, base: float) -> None:
        self.arms: dict[str, _Arm] = {}
        self.prior = prior
        self.base = base
        self.rule: str | None = None
        # [successes, tries] of retries since the last tuning, by how long they waited.
        self.short, self.long, self.first = [0, 0], [0, 0], [0, 0]

    def score(self, strategy: str) -> float:
        arm = self.arms.get(strategy)
        return self.prior if arm is None else arm.score

    def best(self, allowed: Iterable[str]) -> str:
        best, best_score = "", -1.0
        for strategy in allowed:
            score = self.score(strategy)
            if score > best_score:
                best, best_score = strategy, score
        return best

    def best_learned(self, threshold: int) -> str | None:
        ripe = [
            (a.score, -STRATEGIES.index(s), s)
            for s, a in self.arms.items()
            if a.observations >= threshold
        ]
        return max(ripe)[2] if ripe else None


class Healer:
    """Learns which healing strategy works for each failure signature; see the module docstring.

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> healer = Healer(exploration_rate=0.0, learning_threshold=2, rng=random.Random(1))
    >>> sig = FailureSignature("db", "ConnectionError")
    >>> for _ in range(2):
    ...     healer.record(sig, RETRY_FAST, True)
    ...     healer.record(sig, RETRY, False)
    >>> healer.decide(sig, (RETRY, RETRY_FAST)).strategy, healer.learned_rules()[0].strategy
    ('retry_fast', 'retry_fast')
    """

    def __init__(
        self,
        *,
        exploration_rate: float = 0.05,
        learning_rate_alpha: float = 0.2,
        learning_threshold: int = 10,
        strategy_evolution_interval: int = 50,
        base_backoff: float = 0.1,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
        fallback_reward: float = 0.5,
        backoff_bounds: tuple[float, float] | None = None,
        max_delay: float = 10.0,
        listeners: Iterable[HealingListener] = (),
    ) -> None:
        _check(0.0 <= exploration_rate <= 1.0, "exploration_rate must be within [0, 1]")
        _check(0.0 < learning_rate_alpha <= 1.0, "learning_rate_alpha must be within (0, 1]")
        _check(learning_threshold >= 1, "learning_threshold must be >= 1")
        _check(strategy_evolution_interval >= 1, "strategy_evolution_interval must be >= 1")
        _check(base_backoff >= 0.0 and max_delay >= 0.0, "base_backoff and max_delay must be >= 0")
        _check(0.0 <= fallback_reward <= 1.0, "fallback_reward must be within [0, 1]")
        self.exploration_rate = exploration_rate
        self.alpha = learning_rate_alpha
        self.learning_threshold = learning_threshold
        self.evolution_interval = strategy_evolution_interval
        self.base_backoff = float(base_backoff)
        self.backoff_bounds = backoff_bounds or (base_backoff / 4, base_backoff * 8)
        self.max_delay = max_delay
        self.fallback_reward = fallback_reward
        self.clock = clock
        self.counters = HealerCounters()
        self.listeners: list[HealingListener] = list(listeners)
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._signatures: dict[FailureSignature, _Signature] = {}
        self._records = 0

    def add_listener(self, listener: HealingListener) -> None:
        """Call ``listener(event)`` on every decision, learned rule and backoff change."""
        self.listeners.append(listener)

    def decide(
        self, signature: FailureSignature, allowed: tuple[str, ...], retry_number: int = 1
    ) -> HealingDecision:
        """Pick a strategy among ``allowed`` (non-empty) for the ``retry_number``-th retry."""
        with self._lock:
            state = self._state(signature)
            explored = len(allowed) > 1 and self._rng.random() < self.exploration_rate
            strategy = self._rng.choice(allowed) if explored else state.best(allowed)
            delay = self._delay(state, strategy, retry_number)
        decision = HealingDecision(signature.policy, signature, strategy, explored, delay)
        self._emit([decision])
        return decision

    def record(
        self,
        signature: FailureSignature,
        strategy: str,
        succeeded: bool,
        *,
        delay: float = 0.0,
        retry_number: int = 1,
    ) -> None:
        """Feed back how ``strategy`` did; ``delay`` and ``retry_number`` drive backoff tuning."""
        reward = (self.fallback_reward if strategy == FALLBACK else 1.0) if succeeded else 0.0
        with self._lock:
            state = self._state(signature)
            arm = state.arms.get(strategy)
            if arm is None:
                arm = state.arms[strategy] = _Arm(state.prior)
            arm.score += self.alpha * (reward - arm.score)
            arm.observations += 1
            if strategy in (RETRY, RETRY_FAST) and state.base > 0.0:
                _tally(state.short if delay <= state.base else state.long, succeeded)
                if retry_number == 1:
                    _tally(state.first, succeeded)
            events: list[HealingEvent] = []
            if state.rule is None:
                events.extend(self._rerank(signature, state))
            self._records += 1
            if self._records % self.evolution_interval == 0:
                events.extend(self._evolve())
        self._emit(events)

    def base_backoff_for(self, signature: FailureSignature) -> float:
        """The current (tuned) base backoff of ``signature``, in seconds."""
        with self._lock:
            state = self._signatures.get(signature)
            return self.base_backoff if state is None else state.base

    def score(self, signature: FailureSignature, strategy: str) -> tuple[float, int]:
        """(score, observations) of ``strategy`` for ``signature``; untried gives (prior, 0)."""
        with self._lock:
            state = self._state(signature)
            arm = state.arms.get(strategy)
            return (state.prior, 0) if arm is None else (arm.score, arm.observations)

    def learned_rules(self, policy: str | None = None) -> list[LearnedRuleData]:
        """The current rules (of ``policy``, or all), with live scores, sorted by signature."""
        with self._lock:
            rules = [
                LearnedRuleData(
                    sig.policy,
                    sig,
                    state.rule,
                    state.arms[state.rule].score,
                    state.arms[state.rule].observations,
                    round(state.base * 1000),
                )
                for sig, state in self._signatures.items()
                if state.rule is not None and (policy is None or sig.policy == policy)
            ]
        return sorted(rules, key=lambda rule: (rule.policy, rule.signature.key))

    def load(self, rules: Iterable[LearnedRuleData]) -> int:
        """Start from rules learned before (e.g. ``rules.load_rules(engine)``); returns how many.

        The rule's strategy gets its score and observations back; the other strategies of the
        signature start at half that score, so the fleet follows the rule at once and only
        exploration (or the rule failing) brings the others back.
        """
        count = 0
        with self._lock:
            for rule in rules:
                ms = rule.base_backoff_ms
                state = _Signature(rule.score / 2, self.base_backoff if ms is None else ms / 1000)
                state.arms[rule.strategy] = _Arm(rule.score, rule.observations)
                state.rule = rule.strategy
                self._signatures[rule.signature] = state
                count += 1
        return count

    def forget(self, policy: str | None = None) -> int:
        """Drop what was learned (for ``policy``, or everything); returns the signatures dropped."""
        with self._lock:
            doomed = [s for s in self._signatures if policy is None or s.policy == policy]
            for signature in doomed:
                del self._signatures[signature]
        return len(doomed)

    def stats(self) -> HealerStats:
        """A snapshot of the counters and the number of learned rules."""
        c = self.counters
        with self._lock:
            rules = sum(1 for state in self._signatures.values() if state.rule is not None)
        return HealerStats(c.successes + c.failures, c.successes, c.failures, c.healed, rules)

    def _state(self, signature: FailureSignature) -> _Signature:
        state = self._signatures.get(signature)
        if state is None:
            state = self._signatures[signature] = _Signature(1.0, self.base_backoff)
        return state

    def _delay(self, state: _Signature, strategy: str, retry_number: int) -> float:
        if state.base == 0.0 or strategy not in (RETRY, RETRY_FAST):
            return 0.0
        if strategy == RETRY_FAST:
            nominal = state.base / 10
        else:
            nominal = min(self.max_delay, state.base * 2.0 ** min(retry_number - 1, 60))
        return self._rng.uniform(nominal / 2, nominal)

    def _rerank(self, signature: FailureSignature, state: _Signature) -> list[HealingEvent]:
        strategy = state.best_learned(self.learning_threshold)
        if strategy is None or strategy == state.rule:
            return []
        best = state.arms[strategy]
        if state.rule is not None and best.score <= state.score(state.rule) + _RULE_MARGIN:
            return []  # hysteresis: a rule changes only when clearly beaten
        previous, state.rule = state.rule, strategy
        now = self.clock.monotonic()
        policy, score, seen = signature.policy, best.score, best.observations
        return [RuleLearned(policy, signature, strategy, score, seen, previous, now)]

    def _evolve(self) -> list[HealingEvent]:
        events: list[HealingEvent] = []
        for signature, state in self._signatures.items():
            events.extend(self._rerank(signature, state))
            tuned = self._tune(signature, state)
            if tuned is not None:
                events.append(tuned)
        return events

    def _tune(self, signature: FailureSignature, state: _Signature) -> BackoffTuned | None:
        short, long, first = state.short, state.long, state.first
        compared = short[1] >= _MIN_TUNING_SAMPLES and long[1] >= _MIN_TUNING_SAMPLES
        enough_first = first[1] >= _MIN_FIRST_RETRIES
        if not (compared or enough_first):
            return None  # too little evidence yet: keep counting
        state.short, state.long, state.first = [0, 0], [0, 0], [0, 0]
        factor, reason = 1.0, ""
        if compared and long[0] / long[1] - short[0] / short[1] >= 0.25:
            factor = 1.5
            reason = f"short waits healed {short[0]}/{short[1]}, long waits {long[0]}/{long[1]}"
        elif enough_first and first[0] / first[1] >= 0.8:
            factor, reason = 0.75, f"the first retry healed {first[0]}/{first[1]}"
        low, high = self.backoff_bounds
        previous = state.base
        state.base = min(high, max(low, state.base * factor))
        if factor == 1.0 or state.base == previous:
            state.base = previous
            return None
        ms, now = state.base * 1000, self.clock.monotonic()
        return BackoffTuned(signature.policy, signature, previous * 1000, ms, reason, now)

    def _emit(self, events: list[HealingEvent]) -> None:
        for event in events:
            for listener in tuple(self.listeners):
                try:
                    listener(event)
                except Exception:  # a broken metrics hook must never fail the call
                    log.exception("healing listener %r failed on %r", listener, event)


def _tally(bucket: list[int], succeeded: bool) -> None:
    bucket[0] += succeeded
    bucket[1] += 1


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
