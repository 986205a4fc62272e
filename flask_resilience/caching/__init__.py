"""Caching on Flask-Caching: get_or_set, tags, stampede lock, L1, ETag, JSON serialization.

``init_app`` configures a ``flask_caching.Cache`` for the app (``RedisCache`` and friends when
``RESILIENCE_REDIS_URL`` is set, ``SimpleCache`` in embedded mode; the host's ``CACHE_*`` keys
win) and stores a :class:`CacheRuntime` in ``state.capabilities["cache"]``.
"""

from __future__ import annotations

from flask import Flask
from flask_caching import Cache

from ..state import ResilienceState
from .api import CacheAPI, cache_api
from .config import CacheSettings, flask_caching_config, read_settings
from .runtime import CacheRuntime
from .serializer import CacheSerializer
from .store import CacheStore


def init_app(app: Flask, state: ResilienceState) -> CacheRuntime:
    """Validate the caching keys, configure Flask-Caching and build this app's runtime."""
    settings = read_settings(state.config, app.config)
    serializer = CacheSerializer(settings.serializer, settings.compress_min_bytes)
    config = flask_caching_config(app.config, state.settings.redis_url, serializer)
    flask_cache = Cache(with_jinja2_ext=False)
    flask_cache.init_app(app, config)
    backend = app.extensions["cache"][flask_cache]
    prefix = app.config.get("CACHE_KEY_PREFIX", config.get("CACHE_KEY_PREFIX")) or ""
    if not isinstance(prefix, str):
        prefix = prefix()
    runtime = CacheRuntime(settings, flask_cache, CacheStore(backend, state.redis, prefix))
    state.capabilities["cache"] = runtime
    return runtime


__all__ = [
    "CacheAPI",
    "CacheRuntime",
    "CacheSerializer",
    "CacheSettings",
    "cache_api",
    "init_app",
]
