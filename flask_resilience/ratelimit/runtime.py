"""The rate-limit runtime of one app: its Flask-Limiter, policies, counters and outage state.

Built by :func:`init_app`; kept in ``state.capabilities["ratelimit"]``.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import HeaderNames, RequestLimit
from flask_limiter._limits import RuntimeLimit
from flask_limiter.util import get_qualified_name
from limits import RateLimitItem
from limits.storage import RedisStorage
from loguru import logger

from ..state import ResilienceState
from .config import RateLimitConfig, read_config
from .fallback import MemoryFallback
from .keys import key_kind, user_or_address
from .limiter import ResilienceLimiter, default_limit, route_limit
from .policies import (
    CAPABILITY,
    EXEMPT_ATTR,
    POLICIES_ATTR,
    VIEW_ATTR,
    Policy,
    cache_above_limits,
)
from .responses import INTERNAL_RETRY_AFTER, HeaderWriter, breach_response
from .storage import limiter_storage

EXEMPT_ENDPOINTS = frozenset({"resilience_metrics", "resilience_health.healthz", "static"})
EXEMPT_ENDPOINTS |= {"resilience_health.readyz"}
ERROR_LOG_SECONDS = 60.0


class RateLimitRuntime:
    """Everything rate limiting knows about one app."""

    def __init__(self, app: Flask, state: ResilienceState, config: RateLimitConfig) -> None:
        self.config = config
        self.app_name = app.name
        self._policies: dict[int, tuple[Policy, str]] = {}
        self._hits: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._views: dict[Any, Callable[..., Any]] = {}
        self._by_name: dict[str, Callable[..., Any]] = {}
        self._error_logged: dict[tuple[str, str], float] = {}
        self.clock: Callable[[], float] = time.monotonic
        self.fallback = MemoryFallback(
            config.strategy,
            replicas=config.replicas,
            probe_seconds=config.probe_seconds,
            fails_open=self._fails_open,
            listener=self._on_outage,
        )
        self.limiter = self._make_limiter(app, state)

    # -- wiring ----------------------------------------------------------------------------

    def _make_limiter(self, app: Flask, state: ResilienceState) -> ResilienceLimiter:
        config = self.config
        storage_uri, storage_options = limiter_storage(app, state, config.storage_prefix(app.name))
        default = Policy("default", config.default, user_or_address, "closed")
        limiter = ResilienceLimiter(
            user_or_address,
            default_limits=[default_limit(default, config.default, self._register_items)],
            strategy=config.strategy,
            storage_uri=storage_uri,
            storage_options=storage_options,
            headers_enabled=bool(app.config.get("RATELIMIT_HEADERS_ENABLED", True)),
            header_name_mapping={HeaderNames.RETRY_AFTER: INTERNAL_RETRY_AFTER},
            on_breach=self._on_breach,
        )
        limiter.key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
        limiter.fail_on_first_breach = bool(app.config.get("RATELIMIT_FAIL_ON_FIRST_BREACH", True))
        # Registered before Flask-Limiter's own hooks: views are registered before its check,
        # and (after_request runs in reverse) our headers are finished after it wrote its own.
        app.before_request(self._register_current_view)
        app.after_request(HeaderWriter(app, self.policy_name, lambda: limiter.current_limits))
        limiter.request_filter(_exempt_endpoint)
        if config.allow:
            limiter.request_filter(_allow_list(config.allow))
        limiter.init_app(app)
        if limiter.enabled and isinstance(limiter.storage, RedisStorage):
            from .strategy import BatchedRateLimiter

            limiter.batched = BatchedRateLimiter(
                limiter.storage, config.strategy, self.fallback, self._on_storage_error
            )
        return limiter

    # -- decorated views ----------------------------------------------------------------------

    def call_view(self, view: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """Run a decorated view through this app's Flask-Limiter wrapper of it."""
        wrapped = self._views.get(view)
        if wrapped is None:
            wrapped = self._register_view(view)
        return wrapped(*args, **kwargs)

    def _register_current_view(self) -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and view not in self._views:
            self._register_view(view)
            cache = cache_above_limits(view)
            if cache is not None:
                policies = [policy.name for policy in getattr(view, POLICIES_ATTR, ())]
                logger.bind(app=self.app_name, endpoint=request.endpoint).warning(
                    "view {endpoint} is cached above its rate limits {policies}: a cache hit "
                    "skips them, the default limit and the rate-limit headers; put the limit "
                    "decorators above @cached",
                    endpoint=request.endpoint,
                    policies=policies,
                )

    def _register_view(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Tell this app's limiter about a view's policies or exemption, once per view."""
        with self._lock:
            name = get_qualified_name(view)
            wrapped = self._by_name.get(name)
            if wrapped is None:
                wrapped = getattr(view, VIEW_ATTR, view)
                if getattr(view, EXEMPT_ATTR, False):
                    self.limiter.exempt(view)
                for policy in getattr(view, POLICIES_ATTR, ()):
                    limit = policy.limit_for(self.config)
                    wrapped = route_limit(self.limiter, policy, limit, self._register_items)(
                        wrapped
                    )
                self._by_name[name] = wrapped
            self._views[view] = wrapped
            return wrapped

    # -- policies, breaches, outages -----------------------------------------------------------

    def _register_items(self, policy: Policy, items: tuple[RuntimeLimit, ...]) -> None:
        for lim in items:
            item = lim.limit
            name = policy.name if len(items) == 1 else f"{policy.name}-{item.get_expiry()}s"
            self._policies[id(item)] = (policy, name)

    def policy_name(self, item: RateLimitItem) -> str:
        """The policy name of a limit item in headers, bodies, logs and metrics."""
        found = self._policies.get(id(item))
        return found[1] if found else f"limit-{item.amount}-{item.get_expiry()}s"

    def _fails_open(self, item: RateLimitItem) -> bool:
        found = self._policies.get(id(item))
        return found is not None and found[0].fail == "open"

    def _on_breach(self, request_limit: RequestLimit) -> Response:
        name = self.policy_name(request_limit.limit)
        endpoint = request.endpoint or "-"
        key = request_limit.request_args[-2]
        with self._lock:
            self._hits[(endpoint, name)] = self._hits.get((endpoint, name), 0) + 1
        logger.bind(endpoint=endpoint, policy=name, key_kind=key_kind(key)).info(
            "rate limit {policy} ({limit}) exceeded on {route} by {kind} key",
            policy=name,
            limit=str(request_limit.limit),
            route=request.path,
            kind=key_kind(key),
        )
        response = breach_response(request_limit, name)
        custom = current_app.config.get("RATELIMIT_ON_BREACH_CALLBACK")
        if callable(custom):
            chosen = custom(request_limit)
            if isinstance(chosen, Response):
                return chosen
        return response

    def _on_outage(self, started: bool, error: BaseException | None) -> None:
        if started:
            logger.bind(app=self.app_name).warning(
                "rate-limit storage unavailable ({error}); limiting from process memory "
                "(fail-closed limits divided by {replicas} replicas) until Redis answers again",
                error=repr(error),
                replicas=self.config.replicas,
            )
        else:
            logger.bind(app=self.app_name).info("rate-limit storage reachable again; back on Redis")

    def _on_storage_error(self, item: RateLimitItem | None, error: BaseException | str) -> None:
        """A Redis error that is not an outage: logged at ERROR, once a minute per limit and code.

        Redis is up, so every request for that key fails the same way until someone fixes the
        key or the permissions; one line a minute says so without flooding the log.
        """
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        name = self.policy_name(item) if item is not None else "the request's limits"
        mode = "open" if item is not None and self._fails_open(item) else "closed"
        now = self.clock()
        throttle_key = (name, text.split(" ", 1)[0])
        with self._lock:
            if now < self._error_logged.get(throttle_key, float("-inf")) + ERROR_LOG_SECONDS:
                return
            self._error_logged[throttle_key] = now
        logger.bind(app=self.app_name, policy=name).error(
            "rate-limit storage error on {policy} ({error}); answering it fail-{mode} from "
            "process memory (Redis itself is reachable, so this is not an outage)",
            policy=name,
            error=text,
            mode=mode,
        )

    def close(self) -> None:
        """Close the limiter's Redis connections (``Resilience.close`` calls this)."""
        batched = self.limiter.batched
        if batched is not None:
            batched.batch.close()

    # -- read by metrics ----------------------------------------------------------------------

    def hit_counts(self) -> dict[tuple[str, str], int]:
        """429s so far, by (endpoint, policy name)."""
        with self._lock:
            return dict(self._hits)

    @property
    def in_fallback(self) -> bool:
        """True while limits are answered from process memory."""
        return self.fallback.active


def _exempt_endpoint() -> bool:
    """Probes and the metrics scrape are never limited: an orchestrator must always get through."""
    return request.endpoint in EXEMPT_ENDPOINTS


def _allow_list(networks: tuple[Any, ...]) -> Callable[[], bool]:
    def allowed() -> bool:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        return any(address in network for network in networks)

    return allowed


def init_app(app: Flask, state: ResilienceState) -> RateLimitRuntime:
    """Configure Flask-Limiter for ``app`` from its settings; raises ConfigurationError early."""
    runtime = RateLimitRuntime(app, state, read_config(state.config, app.config))
    state.capabilities[CAPABILITY] = runtime
    return runtime
