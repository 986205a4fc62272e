"""Caching configuration: our ``RESILIENCE_CACHE_*`` keys and the Flask-Caching config we derive.

Flask-Caching's own ``CACHE_*`` keys pass through unchanged: whatever the host sets in
``app.config`` wins over what we derive from ``RESILIENCE_REDIS_URL``. We only fill the gaps, so
an app that already configures Flask-Caching keeps working when it adopts the extension.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from .._foundation.config_reader import ConfigReader
from .._foundation.redis_factory import REDIS_TIMEOUT_SECONDS
from ..errors import ConfigurationError

CACHE_TTLS = "RESILIENCE_CACHE_TTLS"
CACHE_LOCK_TIMEOUT = "RESILIENCE_CACHE_LOCK_TIMEOUT"
CACHE_LOCK_WAIT = "RESILIENCE_CACHE_LOCK_WAIT"
CACHE_STALE_TTL = "RESILIENCE_CACHE_STALE_TTL"
CACHE_XFETCH_BETA = "RESILIENCE_CACHE_XFETCH_BETA"
CACHE_L1_SIZE = "RESILIENCE_CACHE_L1_SIZE"
CACHE_L1_TTL = "RESILIENCE_CACHE_L1_TTL"
CACHE_L1_SYNC_INTERVAL = "RESILIENCE_CACHE_L1_SYNC_INTERVAL"
CACHE_COMPRESS_MIN_BYTES = "RESILIENCE_CACHE_COMPRESS_MIN_BYTES"
CACHE_SERIALIZER = "RESILIENCE_CACHE_SERIALIZER"

DEFAULT_KEY_PREFIX = "resilience:cache:"
DEFAULT_TTL_SECONDS = 300
SERIALIZERS = ("json", "msgpack")
TAG_TTL_FLOOR = 86_400
"""Tag counters live at least a day past the last write of an entry carrying them."""


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Validated caching settings of one app (every field documented in configuration.md)."""

    default_ttl: int = DEFAULT_TTL_SECONDS
    ttls: Mapping[str, int] = field(default_factory=dict)
    lock_timeout: float = 5.0
    lock_wait: float = 5.0
    stale_ttl: int = 60
    xfetch_beta: float = 1.0
    l1_size: int = 0
    l1_ttl: float = 5.0
    l1_sync_interval: float = 0.1
    compress_min_bytes: int = 1024
    serializer: str = "json"

    def ttl_for(self, ttl: int | str | None) -> int:
        """Seconds for a TTL given as seconds, a preset name, or None (the default TTL)."""
        if ttl is None:
            return self.default_ttl
        if isinstance(ttl, str):
            try:
                return self.ttls[ttl]
            except KeyError:
                known = ", ".join(sorted(self.ttls)) or "none configured"
                raise ConfigurationError(
                    CACHE_TTLS, ttl, f"no TTL preset of that name (known: {known})"
                ) from None
        if isinstance(ttl, bool) or ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds or a preset name, not {ttl!r}")
        return int(ttl)

    @property
    def tag_ttl(self) -> int:
        """Lifetime of a tag counter: twice the longest configured entry lifetime, >= a day.

        Every write of an entry refreshes its tags to ``tag_ttl`` + the entry's own lifetime,
        so a counter outlives the entries that carry it. Should one expire early anyway, its
        random restart turns those entries into misses, never into stale hits.
        """
        longest = max([self.default_ttl, *self.ttls.values()])
        return max(TAG_TTL_FLOOR, 2 * (longest + self.stale_ttl))


def read_settings(reader: ConfigReader, app_config: Mapping[str, Any]) -> CacheSettings:
    """Read and validate every caching key; raises ConfigurationError on the first bad one."""
    serializer = reader.choice(CACHE_SERIALIZER, "json", SERIALIZERS)
    if serializer == "msgpack":
        _require_msgpack()
    return CacheSettings(
        default_ttl=_default_ttl(app_config),
        ttls=_ttl_presets(reader),
        lock_timeout=reader.number(CACHE_LOCK_TIMEOUT, 5.0, minimum=0.01, maximum=300),
        lock_wait=reader.number(CACHE_LOCK_WAIT, 5.0, minimum=0.01, maximum=300),
        stale_ttl=reader.integer(CACHE_STALE_TTL, 60, minimum=0),
        xfetch_beta=reader.number(CACHE_XFETCH_BETA, 1.0, minimum=0, maximum=100),
        l1_size=reader.integer(CACHE_L1_SIZE, 0, minimum=0, maximum=1_000_000),
        l1_ttl=reader.number(CACHE_L1_TTL, 5.0, minimum=0.001),
        l1_sync_interval=reader.number(CACHE_L1_SYNC_INTERVAL, 0.1, minimum=0),
        compress_min_bytes=reader.integer(CACHE_COMPRESS_MIN_BYTES, 1024, minimum=0),
        serializer=serializer,
    )


def _default_ttl(app_config: Mapping[str, Any]) -> int:
    value = app_config.get("CACHE_DEFAULT_TIMEOUT", DEFAULT_TTL_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError("CACHE_DEFAULT_TIMEOUT", value, "expected seconds (int >= 0)")
    return value


def _ttl_presets(reader: ConfigReader) -> dict[str, int]:
    """``{"quiz:list": 3600}`` from a dict in app config or a JSON object in the environment."""
    raw = reader.raw(CACHE_TTLS) if reader.is_set(CACHE_TTLS) else None
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(CACHE_TTLS, raw, f"not a JSON object ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(CACHE_TTLS, raw, 'expected a mapping like {"quiz:list": 3600}')
    presets: dict[str, int] = {}
    for name, seconds in raw.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(CACHE_TTLS, raw, f"preset name {name!r} is not a string")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ConfigurationError(
                CACHE_TTLS, raw, f"preset {name!r}: expected whole seconds >= 0, got {seconds!r}"
            )
        presets[name] = seconds
    return presets


def _require_msgpack() -> None:
    try:
        importlib.import_module("msgpack")
    except ImportError as exc:
        raise ConfigurationError(
            CACHE_SERIALIZER, "msgpack", "needs msgpack: pip install 'flask-resilience[msgpack]'"
        ) from exc


def flask_caching_config(
    app_config: Mapping[str, Any], redis_url: str | None, serializer: Any
) -> dict[str, Any]:
    """The ``CACHE_*`` keys to hand to ``flask_caching.Cache``; keys the host set are left out.

    Embedded mode (no Redis URL) selects ``SimpleCache``; a URL selects ``RedisCache``,
    ``RedisSentinelCache`` or ``RedisClusterCache`` by its scheme, with the same short socket
    timeouts as every other Redis client of the extension and :func:`probe_retry`.
    """
    derived: dict[str, Any] = {
        "CACHE_KEY_PREFIX": DEFAULT_KEY_PREFIX,
        "CACHE_SERIALIZER": serializer,
        "CACHE_DEFAULT_TIMEOUT": DEFAULT_TTL_SECONDS,
    }
    if "CACHE_TYPE" not in app_config:
        if redis_url is None:
            derived["CACHE_TYPE"] = "SimpleCache"
        else:
            derived.update(redis_backend_config(redis_url))
    return {key: value for key, value in derived.items() if key not in app_config}


def probe_retry() -> Retry:
    """One immediate retry on a refused or dropped connection, none on a timeout.

    A dropped idle connection (Redis restarted, a proxy closed it) fails at once and the retry
    reconnects, so it costs nothing. A host that does not answer fails by timing out; retrying
    that would double what every outage probe costs, so a probe costs one socket timeout.
    (redis-py's own default is three retries with backoff, timeouts included.)
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def redis_backend_config(url: str) -> dict[str, Any]:
    """Map a ``RESILIENCE_REDIS_URL`` onto the ``CACHE_*`` keys of a Flask-Caching backend."""
    timeouts: dict[str, Any] = {
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "retry": probe_retry(),
    }
    parts = urlsplit(url)
    if parts.scheme.endswith("+cluster"):
        plain = urlunsplit(parts._replace(scheme=parts.scheme.removesuffix("+cluster")))
        return {
            "CACHE_TYPE": "RedisClusterCache",
            "CACHE_REDIS_URL": plain,
            "CACHE_OPTIONS": timeouts,
        }
    if parts.scheme.endswith("+sentinel"):
        return _sentinel_config(parts.netloc, parts.path, parts.scheme, timeouts)
    return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_OPTIONS": timeouts}


def _sentinel_config(
    netloc: str, path: str, scheme: str, timeouts: dict[str, Any]
) -> dict[str, Any]:
    """``redis+sentinel://:pw@h1:26379,h2:26379/mymaster/0`` as RedisSentinelCache keys."""
    auth, _, hosts = netloc.rpartition("@")
    password = unquote(auth.partition(":")[2]) or None
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.partition(":")
        sentinels.append((name, int(port or 26379)))
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ConfigurationError(
            "RESILIENCE_REDIS_URL", netloc, "a sentinel URL must name the service: /mymaster"
        )
    options = dict(timeouts)
    if scheme.startswith("rediss"):
        options["ssl"] = True
    return {
        "CACHE_TYPE": "RedisSentinelCache",
        "CACHE_REDIS_SENTINELS": sentinels,
        "CACHE_REDIS_SENTINEL_MASTER": service,
        "CACHE_REDIS_PASSWORD": password,
        "CACHE_REDIS_DB": int(db or 0),
        "CACHE_OPTIONS": options,
    }
