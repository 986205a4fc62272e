"""HTTP caching of cached views: strong ETag, 304 on If-None-Match, Cache-Control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, abort, make_response

from .conftest import res

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


@pytest.fixture
def client(cache_app: Callable[..., Flask]) -> Any:
    renders.clear()
    app = cache_app()
    app.add_url_rule("/page/<slug>", view_func=page)
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
