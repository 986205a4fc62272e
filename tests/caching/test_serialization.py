"""What lands in Redis: JSON (never pickle), compressed above 1 KiB, responses as data."""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import ConfigurationError
from flask_resilience.caching import CacheSerializer

from .conftest import res


def _raw(app: Flask, key: str) -> bytes:
    with app.app_context():
        return res.redis.get(f"resilience:cache:{key}")  # type: ignore[no-any-return]


def test_small_values_are_plain_json(cache_app: Callable[..., Flask]) -> None:
    """A small value is stored as a 'j' marker followed by readable JSON."""
    app = cache_app()
    with app.app_context():
        res.cache.get_or_set("small", lambda: {"a": 1}, 60)
    raw = _raw(app, "small")
    assert raw[:1] == b"j"
    assert json.loads(raw[1:])["v"] == {"a": 1}


def test_values_over_1_kib_are_compressed(cache_app: Callable[..., Flask]) -> None:
    """A value whose encoding exceeds 1 KiB is zlib-compressed behind a 'J' marker."""
    app = cache_app()
    big = {"text": "quiz question " * 200}
    with app.app_context():
        res.cache.get_or_set("big", lambda: big, 60)
        assert res.cache.get_or_set("big", lambda: None, 60) == big
    raw = _raw(app, "big")
    assert raw[:1] == b"J"
    assert len(raw) < 1024
    assert json.loads(zlib.decompress(raw[1:]))["v"] == big


def test_no_pickle_in_redis(cache_app: Callable[..., Flask]) -> None:
    """Every value the cache wrote, view responses included, decodes as JSON; none is a pickle."""
    app = cache_app()

    @app.get("/page")
    @res.cache.cached(ttl=60, key="page")
    def page() -> str:
        return "<p>" + "x" * 2000 + "</p>"

    app.test_client().get("/page")
    with app.app_context():
        res.cache.get_or_set("value", lambda: [1, "two", None], 60)
        names = [n.decode() for n in res.redis.scan_iter("resilience:cache:*")]
    values = [n for n in names if "~" not in n]
    assert len(values) == 2
    for name in values:
        raw = _raw(app, name.removeprefix("resilience:cache:"))
        assert raw[:1] in (b"j", b"J")
        body = zlib.decompress(raw[1:]) if raw[:1] == b"J" else raw[1:]
        envelope = json.loads(body)
        assert "v" in envelope or envelope["r"]["b"].startswith("<p>")


def test_a_planted_pickle_is_never_loaded(cache_app: Callable[..., Flask]) -> None:
    """Bytes in pickle format under a cache key read as a miss; nothing is unpickled."""
    app = cache_app()
    with app.app_context():
        res.redis.set("resilience:cache:evil", b"!" + pickle.dumps({"boom": 1}))
        assert res.cache.get_or_set("evil", lambda: "safe", 60) == "safe"


def test_binary_bodies_round_trip_as_base64() -> None:
    """A non-UTF-8 response body is stored base64-encoded inside the JSON envelope."""
    from flask_resilience.caching.entry import CachedResponse, Entry

    response = CachedResponse.build(200, [("Content-Type", "image/png")], b"\x89PNG\xff")
    serializer = CacheSerializer()
    envelope = serializer.loads(serializer.dumps(Entry(response, None, 0.1, {}).to_envelope()))
    assert "b64" in envelope["r"]
    decoded = Entry.from_envelope(envelope)
    assert decoded is not None and decoded.value == response


def test_bare_ints_stay_incrementable(cache_app: Callable[..., Flask]) -> None:
    """Flask-Caching's inc() keeps working: ints are stored as ASCII digits."""
    app = cache_app()
    with app.app_context():
        backend = res.cache.flask_cache.cache
        backend.set("counter", 1)
        backend.inc("counter")
        assert backend.get("counter") == 2


def test_msgpack_without_the_package_is_a_configuration_error(
    cache_app: Callable[..., Flask],
) -> None:
    """RESILIENCE_CACHE_SERIALIZER=msgpack fails at start when msgpack is not installed."""
    try:
        import msgpack  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigurationError, match="msgpack"):
            cache_app(RESILIENCE_CACHE_SERIALIZER="msgpack")
    else:  # pragma: no cover - depends on the environment
        cache_app(RESILIENCE_CACHE_SERIALIZER="msgpack")
