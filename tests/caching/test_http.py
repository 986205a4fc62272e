"""HTTP caching of cached views: strong ETag, 304 on If-None-Match, Cache-Control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, abort, make_response

from .conftest import Clock, res, runtime

renders: list[str] = []


@res.cache.cached(ttl=120, key="page:{slug}", stale_while_revalidate=30)
def page(slug: str) -> Any:
    renders.append(slug)
    if slug == "missing":
        abort(404)
    if slug == "cookie":
        response = make_response("with cookie")
        response.set_cookie("session", "secret")
        return response
    return f"<h1>{slug}</h1>"


@res.cache.cached(ttl=120, key="article:{slug}", tags=["article:{slug}"])
def article(slug: str) -> str:
    renders.append(slug)
    return f"<p>{slug} v{renders.count(slug)}</p>"


@res.cache.cached(ttl=120, key="capped:{slug}", tags=["article:{slug}"], http_max_age=30)
def capped(slug: str) -> str:
    return slug


@pytest.fixture
def app(cache_app: Callable[..., Flask]) -> Flask:
    renders.clear()
    app = cache_app(RESILIENCE_CACHE_XFETCH_BETA=0)
    runtime(app).clock = Clock()
    app.add_url_rule("/page/<slug>", view_func=page)
    app.add_url_rule("/article/<slug>", view_func=article)
    app.add_url_rule("/capped/<slug>", view_func=capped)
    return app


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


def test_etag_and_304_round_trip(client: Any) -> None:
    """A repeated request with the ETag gets 304 and no body; another ETag gets the body."""
    first = client.get("/page/home")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    second = client.get("/page/home", headers={"If-None-Match": etag})
    assert second.status_code == 304
    assert second.data == b""
    assert second.headers["ETag"] == etag
    assert "max-age=120" in second.headers["Cache-Control"]
    other = client.get("/page/home", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.text == "<h1>home</h1>"
    assert renders == ["home"]


def test_etag_is_a_hash_of_the_body(client: Any) -> None:
    """Equal bodies get equal ETags, different bodies different ones."""
    a = client.get("/page/a").headers["ETag"]
    assert client.get("/page/a").headers["ETag"] == a
    assert client.get("/page/b").headers["ETag"] != a


def test_cache_control_carries_max_age_and_swr(client: Any) -> None:
    """Cache-Control says public, max-age=<ttl> and the configured stale-while-revalidate."""
    response = client.get("/page/x")
    assert response.headers["Cache-Control"] == "public, max-age=120, stale-while-revalidate=30"
    assert response.content_type.startswith("text/html")


def test_errors_and_cookies_are_not_cached(client: Any) -> None:
    """A 404 or a response setting a cookie is passed through and computed every time."""
    assert client.get("/page/missing").status_code == 404
    assert client.get("/page/missing").status_code == 404
    assert "session=secret" in client.get("/page/cookie").headers["Set-Cookie"]
    assert "session=secret" in client.get("/page/cookie").headers["Set-Cookie"]
    assert renders == ["missing", "missing", "cookie", "cookie"]


def test_max_age_is_what_is_left_of_the_entry(app: Flask, client: Any) -> None:
    """A hit late in the entry's life sends only the remaining seconds, never the full TTL."""
    assert "max-age=120," in client.get("/page/late").headers["Cache-Control"]
    runtime(app).clock.now += 100.4  # type: ignore[attr-defined]
    assert "max-age=19," in client.get("/page/late").headers["Cache-Control"]
    runtime(app).clock.now += 30  # type: ignore[attr-defined]
    assert runtime(app).store.try_lock("page:late", 10_000)  # another process recomputes
    stale = client.get("/page/late")  # so this request is served the stale copy
    assert stale.headers["Cache-Control"] == "public, max-age=0, stale-while-revalidate=30"
    assert renders == ["late"]


def test_tagged_views_revalidate_and_see_invalidation(app: Flask, client: Any) -> None:
    """A tagged view sends max-age=0, must-revalidate; after invalidation the old ETag gets the
    new body instead of 304."""
    first = client.get("/article/a")
    assert first.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    etag = first.headers["ETag"]
    assert client.get("/article/a", headers={"If-None-Match": etag}).status_code == 304
    with app.app_context():
        assert res.cache.invalidate(tags=["article:a"])
    fresh = client.get("/article/a", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.text == "<p>a v2</p>"
    assert fresh.headers["ETag"] != etag


def test_http_max_age_caps_the_header_and_the_remaining_lifetime_caps_it(
    app: Flask, client: Any
) -> None:
    """http_max_age sets the browser lifetime of a tagged view, but never past the entry's."""
    assert client.get("/capped/x").headers["Cache-Control"] == "public, max-age=30"
    runtime(app).clock.now += 110  # type: ignore[attr-defined]
    assert client.get("/capped/x").headers["Cache-Control"] == "public, max-age=10"


def test_negative_http_max_age_is_refused() -> None:
    """http_max_age is seconds >= 0."""
    with pytest.raises(ValueError, match="http_max_age"):
        res.cache.cached(ttl=1, http_max_age=-1)
