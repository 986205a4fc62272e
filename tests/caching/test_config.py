"""Caching configuration: validation errors and the Flask-Caching keys we derive."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import ConfigurationError
from flask_resilience.caching.config import flask_caching_config, redis_backend_config

from .conftest import runtime


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("RESILIENCE_CACHE_TTLS", "{not json", "not a JSON object"),
        ("RESILIENCE_CACHE_TTLS", '["a"]', "expected a mapping"),
        ("RESILIENCE_CACHE_TTLS", {"quiz": -1}, "whole seconds"),
        ("RESILIENCE_CACHE_TTLS", {"quiz": "1h"}, "whole seconds"),
        ("RESILIENCE_CACHE_LOCK_TIMEOUT", "0", "must be >="),
        ("RESILIENCE_CACHE_LOCK_WAIT", "0", "must be >="),
        ("RESILIENCE_CACHE_LOCK_WAIT", "forever", "expected float"),
        ("RESILIENCE_CACHE_L1_SIZE", "-1", "must be >="),
        ("RESILIENCE_CACHE_L1_TTL", "soon", "expected float"),
        ("RESILIENCE_CACHE_XFETCH_BETA", "-1", "must be >="),
        ("RESILIENCE_CACHE_SERIALIZER", "pickle", "expected one of"),
        ("CACHE_DEFAULT_TIMEOUT", "300", "expected seconds"),
    ],
)
def test_bad_values_fail_at_start(
    cache_app: Callable[..., Flask], key: str, value: object, match: str
) -> None:
    """Each bad caching key raises ConfigurationError naming the key at init_app."""
    with pytest.raises(ConfigurationError, match=match) as info:
        cache_app(**{key: value})
    assert info.value.key == key


def test_host_cache_keys_win(cache_app: Callable[..., Flask]) -> None:
    """CACHE_TYPE and CACHE_KEY_PREFIX set by the host pass through unchanged."""
    app = cache_app(CACHE_TYPE="SimpleCache", CACHE_KEY_PREFIX="mine:")
    store = runtime(app).store
    assert type(store.backend).__name__ == "SimpleCache"
    assert store.prefix == "mine:"


def test_redis_url_selects_rediscache_with_short_timeouts() -> None:
    """A redis:// URL becomes RedisCache with the URL and 1 s socket timeouts."""
    config = flask_caching_config({}, "redis://h:6379/3", serializer="S")
    assert config["CACHE_TYPE"] == "RedisCache"
    assert config["CACHE_REDIS_URL"] == "redis://h:6379/3"
    assert config["CACHE_OPTIONS"]["socket_timeout"] == 1.0
    assert config["CACHE_SERIALIZER"] == "S"


def test_sentinel_url_maps_to_redissentinelcache() -> None:
    """A sentinel URL lists its sentinels, service, password and db for RedisSentinelCache."""
    config = redis_backend_config("redis+sentinel://:pw@s1:26379,s2/mymaster/2")
    assert config["CACHE_TYPE"] == "RedisSentinelCache"
    assert config["CACHE_REDIS_SENTINELS"] == [("s1", 26379), ("s2", 26379)]
    assert config["CACHE_REDIS_SENTINEL_MASTER"] == "mymaster"
    assert config["CACHE_REDIS_PASSWORD"] == "pw"
    assert config["CACHE_REDIS_DB"] == 2


def test_cluster_url_maps_to_redisclustercache() -> None:
    """A cluster URL becomes RedisClusterCache with a plain redis:// URL."""
    config = redis_backend_config("redis+cluster://n1:7000")
    assert config["CACHE_TYPE"] == "RedisClusterCache"
    assert config["CACHE_REDIS_URL"] == "redis://n1:7000"


def test_sentinel_url_without_service_is_rejected() -> None:
    """A sentinel URL must name its service."""
    with pytest.raises(ConfigurationError, match="service"):
        redis_backend_config("redis+sentinel://s1:26379")


def test_redis_db_from_the_url_is_kept(cache_app: Callable[..., Flask], redis_url: str) -> None:
    """The cache writes to the database number in RESILIENCE_REDIS_URL, not db 0."""
    app = cache_app()
    backend = runtime(app).store.backend
    assert backend._write_client.connection_pool.connection_kwargs["db"] == int(
        redis_url.rsplit("/", 1)[1]
    )
