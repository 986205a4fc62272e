"""Flask-Limiter, adjusted at two of its seams and otherwise used as it is.

* :class:`ResilienceLimiter` overrides the public ``limiter`` property so that, on Redis, every
  hit and window read goes through the :class:`~.strategy.BatchedRateLimiter`.
* :class:`PrefetchingLimitManager` sees the limits Flask-Limiter resolved for a request before it
  evaluates them, and hands them to that strategy as one batch. It mirrors the few lines of
  ``Limiter.__evaluate_limits`` that turn a limit into storage arguments (exemptions, method,
  key, scope, prefix, cost, sort order), so a prefetched answer is exactly the call that follows.

Policy limits also parse their limit string once instead of on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import flask
from flask import has_request_context, request
from flask_limiter import Limit, Limiter, RouteLimit
from flask_limiter._limits import RuntimeLimit
from flask_limiter._manager import LimitManager
from limits.strategies import RateLimiter

from .policies import Policy
from .redis_lua import Check
from .strategy import BatchedRateLimiter

ItemsListener = Callable[[Policy, tuple[RuntimeLimit, ...]], None]


class ResilienceLimiter(Limiter):
    """A Flask-Limiter ``Limiter`` whose strategy can be the batched one."""

    batched: BatchedRateLimiter | None = None
    key_prefix: str = ""
    fail_on_first_breach: bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Adopt the manager Flask-Limiter built (same registries) with a resolve hook added.
        self.limit_manager.__class__ = PrefetchingLimitManager
        manager: PrefetchingLimitManager = self.limit_manager  # type: ignore[assignment]
        manager.on_resolved = self._prefetch

    @property
    def limiter(self) -> RateLimiter:
        """The batched strategy on Redis, else whatever Flask-Limiter configured."""
        return self.batched if self.batched is not None else super().limiter

    def _prefetch(
        self, endpoint: str | None, defaults: list[RuntimeLimit], decorated: list[RuntimeLimit]
    ) -> None:
        batched = self.batched
        if batched is None or not endpoint or not has_request_context():
            return
        seen = self.context.seen_limits
        candidates = [lim for lim in dict.fromkeys(defaults) if lim not in seen] + decorated
        method = request.method
        checks = []
        for lim in sorted(candidates, key=lambda x: x.limit):
            if lim.is_exempt or lim.method_exempt:
                continue
            args = [lim.key_func(), lim.scope_for(endpoint, method)]
            if not all(args):
                continue
            if self.key_prefix:
                args = [self.key_prefix, *args]
            checks.append(Check.of(lim.limit, args, lim.deduction_amount, lim.deduct_when is None))
        if checks:
            batched.prefetch(checks, stop_on_denial=self.fail_on_first_breach)


class PrefetchingLimitManager(LimitManager):
    """Flask-Limiter's ``LimitManager`` that reports each resolution to ``on_resolved``."""

    on_resolved: Callable[[str | None, list[RuntimeLimit], list[RuntimeLimit]], None] | None = None

    def resolve_limits(
        self,
        app: flask.Flask,
        endpoint: str | None = None,
        blueprint: str | None = None,
        callable_name: str | None = None,
        in_middleware: bool = False,
        marked_for_limiting: bool = False,
    ) -> tuple[list[RuntimeLimit], ...]:
        defaults, decorated = super().resolve_limits(
            app, endpoint, blueprint, callable_name, in_middleware, marked_for_limiting
        )
        if self.on_resolved is not None and (defaults or decorated):
            self.on_resolved(endpoint, defaults, decorated)
        return defaults, decorated


def _cached_items(limit: Limit, policy: Policy, listener: ItemsListener) -> Iterator[RuntimeLimit]:
    """Parse the limit string once; Flask-Limiter re-parses it on every request otherwise."""
    cached: tuple[RuntimeLimit, ...] | None = limit.__dict__.get("_resilience_items")
    if cached is None:
        cached = tuple(Limit.__iter__(limit))
        limit.__dict__["_resilience_items"] = cached
        listener(policy, cached)
    return iter(cached)


class PolicyLimit(Limit):
    """A default limit that carries its :class:`Policy` (name, fail mode) for headers and logs."""

    policy: Policy
    listener: ItemsListener

    def __iter__(self) -> Iterator[RuntimeLimit]:
        return _cached_items(self, self.policy, self.listener)


class PolicyRouteLimit(RouteLimit):
    """A decorated limit that carries its :class:`Policy`."""

    policy: Policy
    listener: ItemsListener

    def __iter__(self) -> Iterator[RuntimeLimit]:
        return _cached_items(self, self.policy, self.listener)


def default_limit(policy: Policy, limit: str, listener: ItemsListener) -> PolicyLimit:
    """The app's default limit; left unfinalized so ``RATELIMIT_DEFAULTS_*`` keys still apply."""
    lim = PolicyLimit(limit_provider=limit, key_function=policy.key, finalized=False)
    lim.policy, lim.listener = policy, listener
    return lim


def route_limit(
    limiter: Limiter, policy: Policy, limit: str, listener: ItemsListener
) -> PolicyRouteLimit:
    """Flask-Limiter's ``limiter.limit(...)`` for one policy in one app."""
    lim = PolicyRouteLimit(
        limit_provider=limit,
        limiter=limiter,
        key_function=policy.key,
        methods=list(policy.methods) if policy.methods else None,
        override_defaults=True,
        deduct_when=policy.deduct_when,
        exempt_when=policy.exempt_when,
    )
    lim.policy, lim.listener = policy, listener
    return lim
