"""Which storage Flask-Limiter gets: ``RESILIENCE_REDIS_URL`` in its ``limits`` spelling, or memory.

An explicit ``RATELIMIT_STORAGE_URI`` wins and reaches Flask-Limiter unchanged (with its
``RATELIMIT_STORAGE_OPTIONS``). Otherwise the shared Redis URL is translated to the schemes the
``limits`` library registers (``unix://`` is ``redis+unix://`` there; TLS variants of Sentinel
and Cluster URLs become an ``ssl`` option), with short socket timeouts so an outage is noticed
in one socket timeout, not after redis-py's default retries.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from .._foundation.redis_factory import REDIS_TIMEOUT_SECONDS
from ..state import ResilienceState

MEMORY_URI = "memory://"


def probe_retry() -> Retry:
    """One immediate retry on a refused or dropped connection, none after a timeout.

    A dropped idle connection (Redis restarted, a proxy closed it) fails at once and the retry
    reconnects, so it costs nothing and starts no outage. A host that does not answer fails by
    timing out; retrying that would double what each outage probe costs (two timeouts, ~2 s),
    so a probe costs one socket timeout. redis-py's own default retries timeouts too.
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def limits_uri(url: str) -> tuple[str, dict[str, Any]]:
    """``url`` as the ``limits`` library spells it, plus the options the spelling lost."""
    scheme, sep, rest = url.partition("://")
    if scheme == "unix":
        return f"redis+unix://{rest}", {}
    if scheme in ("rediss+sentinel", "rediss+cluster"):
        return f"redis+{scheme.partition('+')[2]}{sep}{rest}", {"ssl": True}
    return url, {}


def limiter_storage(
    app: Flask, state: ResilienceState, key_prefix: str
) -> tuple[str | None, dict[str, Any]]:
    """``(storage_uri, storage_options)`` for the app's ``Limiter``; ``None`` defers to config."""
    configured = app.config.get("RATELIMIT_STORAGE_URI")
    if configured:
        # still a private key space on Redis; RATELIMIT_STORAGE_OPTIONS may override it
        redis_like = str(configured).startswith(("redis", "valkey"))
        return None, ({"key_prefix": key_prefix} if redis_like else {})
    redis_url = state.settings.redis_url
    if redis_url is None:
        return MEMORY_URI, {}
    uri, options = limits_uri(redis_url)
    options.update(
        key_prefix=key_prefix,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=probe_retry(),
    )
    return uri, options
