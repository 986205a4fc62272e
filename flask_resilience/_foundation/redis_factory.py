"""Builds the Redis client of an app: a real one from a URL, or fakeredis in embedded mode.

Sentinel and Cluster URLs use the same schemes Flask-Limiter accepts
(``redis+sentinel://host:26379,host2:26379/mymaster``, ``redis+cluster://host:7000``), so one
``RESILIENCE_REDIS_URL`` configures every capability.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..errors import ConfigurationError

REDIS_TIMEOUT_SECONDS = 1.0


def connect_redis(url: str, *, timeout: float = REDIS_TIMEOUT_SECONDS) -> Any:
    """A client for ``url`` with short socket timeouts, so an outage fails fast instead of hanging.

    No connection is made here: Redis may be down at start and come back later.
    """
    parts = urlsplit(url)
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
        # redis-py retries ten times with backoff by default: seconds of stall per call in an
        # outage. One immediate retry covers a dropped idle connection and nothing more.
        "retry": Retry(NoBackoff(), 1),
    }
    scheme = parts.scheme
    if scheme.endswith("+cluster"):
        base = urlunsplit(parts._replace(scheme=scheme.removesuffix("+cluster")))
        return RedisCluster.from_url(base, **options)
    if scheme.endswith("+sentinel"):
        return _sentinel_master(parts.netloc, parts.path, scheme.startswith("rediss"), options)
    return redis.Redis.from_url(url, **options)


def _sentinel_master(netloc: str, path: str, ssl: bool, options: dict[str, Any]) -> Any:
    auth, _, hosts = netloc.rpartition("@")
    password = auth.partition(":")[2] or None
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.partition(":")
        nodes.append((name, int(port or 26379)))
    service = path.strip("/").split("/")[0]
    if not service:
        raise ConfigurationError(
            "RESILIENCE_REDIS_URL", netloc, "a sentinel URL must name the service: /mymaster"
        )
    sentinel = Sentinel(nodes, password=password, ssl=ssl, **options)  # type: ignore[no-untyped-call]
    return sentinel.master_for(service, password=password)  # type: ignore[no-untyped-call]


def embedded_redis() -> Any:
    """A fakeredis client with its own private server: one process, nothing shared.

    Raises ConfigurationError when the ``demo`` extra is not installed, rather than failing later.
    """
    try:
        import fakeredis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "RESILIENCE_REDIS_URL",
            None,
            "is unset, which selects embedded mode, and embedded mode needs fakeredis: "
            "pip install 'flask-resilience[demo]', or set RESILIENCE_REDIS_URL",
        ) from exc
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())
