"""``@res.cache.cached(...)``: one decorator for views and plain functions.

It is applied at import time, before any app exists, so everything app-specific (the runtime,
TTL presets, the current user) is resolved when the decorated function is called. A call is
treated as a *view* when Flask is dispatching to this very function (or a wrapper around it);
the response is then stored as data (status, headers, body) with a strong ETag, and served with
``304 Not Modified`` and ``Cache-Control``. Any other call caches the return value as JSON.

A view and a value under one key (``get_or_set("quiz:7")`` and a view keyed ``"quiz:{quiz_id}"``)
cannot share the entry: each computes uncached, and the clash is logged once at WARNING.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import current_app, has_request_context, request

from ..state import get_state
from . import http, keys
from .entry import CachedResponse
from .runtime import CacheRuntime

F = TypeVar("F", bound=Callable[..., Any])
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})


def runtime_of(app: Any = None) -> CacheRuntime:
    """The cache runtime of ``app`` (default: the current app)."""
    state = get_state(app)
    runtime = state.capabilities.get("cache")
    if runtime is None:  # pragma: no cover - init_app always sets it
        raise RuntimeError("flask-resilience caching is not initialised on this app")
    return runtime  # type: ignore[no-any-return]


class _Uncacheable(Exception):
    """Carries a response we must not store (not a 200, or it sets a cookie) past the cache."""

    def __init__(self, response: Any) -> None:
        super().__init__("response not cacheable")
        self.response = response
        self.owner = threading.get_ident()


def cached(
    *,
    ttl: int | str | None = None,
    key: str | None = None,
    tags: Sequence[str] = (),
    query_args: keys.QueryArgs = False,
    vary_user: bool = False,
    name: str | None = None,
    view: bool | None = None,
    http_cache: bool = True,
    stale_while_revalidate: int | None = None,
    http_max_age: int | None = None,
) -> Callable[[F], F]:
    """Cache a view's response or a function's return value. See ``CacheAPI.cached``."""
    if http_max_age is not None and (isinstance(http_max_age, bool) or http_max_age < 0):
        raise ValueError(f"http_max_age must be seconds >= 0, not {http_max_age!r}")

    def decorate(fn: F) -> F:
        query_fields = keys.check_templates(fn, key, tags, query_args, view)
        spec = _Spec(
            fn,
            ttl,
            key,
            tuple(tags),
            query_args,
            vary_user,
            name,
            http.Policy(http_cache, stale_while_revalidate, http_max_age, bool(tags)),
            query_fields,
        )

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            runtime = runtime_of()
            if view is True or (view is None and _dispatching(wrapper)):
                return spec.serve_view(runtime, args, kwargs)
            return spec.call_function(runtime, args, kwargs)

        wrapper.uncached = fn  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _dispatching(wrapper: Callable[..., Any]) -> bool:
    """True when Flask is dispatching the current request to ``wrapper`` (maybe wrapped)."""
    if not has_request_context() or request.endpoint is None:
        return False
    target: Any = current_app.view_functions.get(request.endpoint)
    while target is not None:
        if target is wrapper:
            return True
        target = getattr(target, "__wrapped__", None)
    return False


class _Spec:
    """The decorator's arguments, plus the key and response logic that uses them."""

    def __init__(
        self,
        fn: Callable[..., Any],
        ttl: int | str | None,
        key: str | None,
        tags: tuple[str, ...],
        query_args: keys.QueryArgs,
        vary_user: bool,
        name: str | None,
        policy: http.Policy,
        query_fields: frozenset[str],
    ) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.ttl, self.key, self.tags = ttl, key, tags
        self.query_args, self.vary_user = query_args, vary_user
        self.name = name or (keys.template_name(key) if key else fn.__qualname__)
        self.policy, self.query_fields = policy, query_fields

    def build_key(self, base: str, fields: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        cache_key = keys.fill_key(self.key, fields) if self.key else base
        if has_request_context():
            cache_key += keys.query_suffix(self.query_args)
            if self.vary_user:
                user = get_state().current_user_id()
                cache_key += f"|u={'-' if user is None else keys.encode(str(user))}"
        return keys.bounded(cache_key), tuple(keys.fill(t, fields) for t in self.tags)

    def call_function(
        self, runtime: CacheRuntime, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if self.query_fields:
            raise TypeError(
                f"{self.fn.__qualname__}() was called as a function, but its cache template "
                f"names {sorted(self.query_fields)}, which only a view's query string fills"
            )
        fields = keys.bind(self.signature, args, kwargs)
        cache_key, tags = self.build_key(keys.function_key(self.fn, fields), fields)
        ttl = runtime.settings.ttl_for(self.ttl)
        value = runtime.fetch(cache_key, lambda: self.fn(*args, **kwargs), ttl, tags, self.name)
        if isinstance(value, CachedResponse):  # the key is shared with a cached view
            runtime.clashes.report(cache_key, self.name, "a cached view's response", "function")
            return self.fn(*args, **kwargs)
        return value

    def serve_view(
        self, runtime: CacheRuntime, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if request.method not in CACHEABLE_METHODS:
            return self.fn(*args, **kwargs)
        view_args = request.view_args or {}
        fields = {**keys.query_values(self.query_fields), **view_args, **kwargs}
        base = keys.view_key(request.endpoint or self.fn.__qualname__, view_args)
        cache_key, tags = self.build_key(base, fields)
        ttl = runtime.settings.ttl_for(self.ttl)

        def render() -> CachedResponse:
            response = current_app.make_response(self.fn(*args, **kwargs))
            if not http.is_cacheable(response):
                raise _Uncacheable(response)
            body = response.get_data()
            return CachedResponse.build(response.status_code, http.storable_headers(response), body)

        try:
            stored, expires = runtime.lookup(cache_key, render, ttl, tags, self.name)
        except _Uncacheable as exc:  # followers of a single-flight render their own
            if exc.owner == threading.get_ident():
                return exc.response
            return self.fn(*args, **kwargs)
        if not isinstance(stored, CachedResponse):  # the key is shared with a value
            runtime.clashes.report(cache_key, self.name, "a value, not a response", "the view")
            return self.fn(*args, **kwargs)
        if not self.policy.enabled:
            return http.plain(stored)
        remaining = None if expires is None else expires - runtime.clock()
        return http.respond(stored, self.policy.cache_control(remaining, self.vary_user))
