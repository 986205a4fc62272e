"""``res.cache``: the cache of whichever app is current, so it can be used at import time.

>>> from flask import Flask
>>> from flask_resilience import Resilience
>>> res = Resilience()
>>> @res.cache.cached(ttl=60, key="quiz:{quiz_id}", tags=["quiz:{quiz_id}"])
... def quiz(quiz_id):
...     return {"id": quiz_id}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import keys
from .decorator import cached, runtime_of

F = TypeVar("F", bound=Callable[..., Any])


class CacheAPI:
    """Thin delegation to the current app's :class:`~.runtime.CacheRuntime`."""

    def get_or_set(
        self,
        key: str,
        fn: Callable[[], Any],
        ttl: int | str | None = None,
        *,
        tags: Sequence[str] = (),
        name: str | None = None,
    ) -> Any:
        """Cache-aside: the cached value of ``key``, else ``fn()`` stored for ``ttl``.

        ``ttl`` is seconds, a preset name from ``RESILIENCE_CACHE_TTLS``, or None for
        ``CACHE_DEFAULT_TIMEOUT``. ``name`` labels the metrics (default: the key's first
        ``:`` segment). Concurrent misses compute once; if Redis is down ``fn()`` just runs.
        """
        return runtime_of().get_or_set(key, fn, ttl, tags=tags, name=name)

    def cached(
        self,
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
        """Cache a view's response (with ETag/304/Cache-Control) or a function's result.

        ``key`` and ``tags`` are templates filled from the view's URL arguments or the
        function's bound arguments: ``key="quiz:{quiz_id}"``; in a view, a field it does not
        take comes from the query string (``"quiz:list:{category}"``, ``""`` when absent).
        ``query_args=True`` adds the whole normalized query string to the key, a list adds
        only those arguments. ``vary_user=True`` adds the id the ``user_loader`` returns (and
        sends ``Cache-Control: private``). ``view`` forces view or function mode.
        ``Cache-Control: max-age`` is what is left of the entry's lifetime, capped by
        ``http_max_age``; tagged views default to ``max-age=0, must-revalidate`` (ETag
        revalidation), since an invalidation can come at any time.
        """
        return cached(
            ttl=ttl,
            key=key,
            tags=tags,
            query_args=query_args,
            vary_user=vary_user,
            name=name,
            view=view,
            http_cache=http_cache,
            stale_while_revalidate=stale_while_revalidate,
            http_max_age=http_max_age,
        )

    def get(self, key: str, default: Any = None) -> Any:
        """The fresh value of ``key`` or ``default``; never computes."""
        return runtime_of().get(key, default)

    def set(
        self, key: str, value: Any, ttl: int | str | None = None, *, tags: Sequence[str] = ()
    ) -> bool:
        """Store ``value`` under ``key`` (plain data only); False when Redis is down."""
        return runtime_of().set(key, value, ttl, tags=tags)

    def delete(self, key: str) -> bool:
        """Remove ``key`` from Redis and from every process's L1."""
        return runtime_of().delete(key)

    def invalidate(self, *, tags: Sequence[str] = (), pattern: str | None = None) -> bool:
        """Invalidate by tag (``tags=["quiz:7"]``) and/or key glob (``pattern="quiz:*"``)."""
        return runtime_of().invalidate(tags=tags, pattern=pattern)

    def clear(self) -> bool:
        """Drop every cached value of the current app."""
        return runtime_of().clear()

    def ttl(self, preset: int | str | None) -> int:
        """Seconds for a TTL preset name (or seconds, or None for the default)."""
        return runtime_of().settings.ttl_for(preset)

    def stats(self) -> dict[str, Any]:
        """Key/tag counts, invalidation epoch, this process's hit/miss counters."""
        return runtime_of().stats()

    @property
    def flask_cache(self) -> Any:
        """The underlying ``flask_caching.Cache`` (``memoize``, ``get_many``, ...)."""
        return runtime_of().flask_cache


cache_api = CacheAPI()
"""Stateless, so one object serves every ``Resilience`` instance and app."""
