"""``@res.cache.cached`` on views and functions: key templates, query args, per-user keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, jsonify, request

from .conftest import res, runtime

calls: list[Any] = []


@res.cache.cached(ttl=60, key="quiz:{quiz_id}", tags=["quiz:{quiz_id}"], query_args=["page"])
def quiz_view(quiz_id: int) -> Any:
    calls.append(("view", quiz_id, request.args.get("page")))
    return jsonify(id=quiz_id, page=request.args.get("page"))


@res.cache.cached(ttl=60, key="score:{user}:{level}")
def score(user: str, level: int = 0) -> dict[str, Any]:
    calls.append(("fn", user, level))
    return {"user": user, "level": level}


@res.cache.cached(ttl=60, key="me", vary_user=True)
def me_view() -> str:
    calls.append(("me",))
    return f"hello {res_user['id']}"


res_user: dict[str, Any] = {"id": None}


@res.cache.cached(ttl=60, key="quiz:list:{category}", tags=["quizzes"], query_args=["page"])
def quiz_list() -> Any:
    category, page = request.args.get("category"), request.args.get("page")
    calls.append(("list", category, page))
    return jsonify(category=category, page=page)


@res.cache.cached(ttl=60, key="{slug}", tags=["page:{slug}"])
def by_slug(slug: str) -> str:
    calls.append(("slug", slug))
    return f"page {slug}"


@res.cache.cached(ttl=60, key="quiz:{quiz_id}", tags=["quiz:{quiz_id}"])
def clashing_view(quiz_id: int) -> str:
    calls.append(("clash", quiz_id))
    return f"quiz {quiz_id}"


@pytest.fixture
def app(cache_app: Callable[..., Flask]) -> Flask:
    calls.clear()
    app = cache_app()
    app.add_url_rule("/quiz/<int:quiz_id>", view_func=quiz_view)
    app.add_url_rule("/me", view_func=me_view)
    app.add_url_rule("/quizzes", view_func=quiz_list)
    app.add_url_rule("/s/<path:slug>", view_func=by_slug)
    app.add_url_rule("/clash/<int:quiz_id>", view_func=clashing_view)
    app.extensions["resilience"].user_loader = lambda: res_user["id"]
    return app


def test_view_key_is_filled_from_view_args(app: Flask) -> None:
    """The key template takes the URL argument; each quiz id gets its own entry in Redis."""
    client = app.test_client()
    assert client.get("/quiz/1").json == {"id": 1, "page": None}
    assert client.get("/quiz/1").json == {"id": 1, "page": None}
    assert client.get("/quiz/2").json == {"id": 2, "page": None}
    assert calls == [("view", 1, None), ("view", 2, None)]
    with app.app_context():
        assert res.redis.exists("resilience:cache:quiz:1", "resilience:cache:quiz:2") == 2


def test_listed_query_args_vary_the_key_others_do_not(app: Flask) -> None:
    """Only the listed query argument is part of the key; tracking noise shares the entry."""
    client = app.test_client()
    client.get("/quiz/1?page=2&utm_source=x")
    client.get("/quiz/1?utm_source=y&page=2")
    client.get("/quiz/1?page=3")
    assert calls == [("view", 1, "2"), ("view", 1, "3")]


def test_function_key_uses_bound_arguments_with_defaults(app: Flask) -> None:
    """f(u) and f(u, 0) are one entry (defaults applied); f(u, 1) is another."""
    with app.app_context():
        assert score("ann") == {"user": "ann", "level": 0}
        assert score("ann", 0) == {"user": "ann", "level": 0}
        assert score("ann", level=1) == {"user": "ann", "level": 1}
        assert res.redis.exists("resilience:cache:score:ann:0") == 1
    assert calls == [("fn", "ann", 0), ("fn", "ann", 1)]


def test_function_called_inside_a_view_is_cached_as_a_value(app: Flask) -> None:
    """A decorated helper called from another view returns its value, not a response."""

    @app.get("/score/<user>")
    def score_page(user: str) -> Any:
        return {"wrapped": score(user)}

    client = app.test_client()
    assert client.get("/score/bob").json == {"wrapped": {"user": "bob", "level": 0}}
    assert client.get("/score/bob").json == {"wrapped": {"user": "bob", "level": 0}}
    assert calls == [("fn", "bob", 0)]


def test_vary_user_keeps_users_apart(app: Flask) -> None:
    """With vary_user each user id (and anonymous) gets its own entry and a private response."""
    client = app.test_client()
    res_user["id"] = 1
    assert client.get("/me").text == "hello 1"
    res_user["id"] = 2
    response = client.get("/me")
    assert response.text == "hello 2"
    assert response.headers["Cache-Control"].startswith("private")
    res_user["id"] = 1
    assert client.get("/me").text == "hello 1"
    assert calls == [("me",), ("me",)]


def test_template_naming_an_unknown_argument_fails_at_import_time() -> None:
    """A typo in a template is caught when decorating, not at the first request: the key names
    a field the view does not take and leaves out one it does."""
    with pytest.raises(ValueError, match=r"quizid.*leaves out \['quiz_id'\]"):

        @res.cache.cached(key="quiz:{quizid}")
        def view(quiz_id: int) -> str:
            return ""

    with pytest.raises(ValueError, match="quizid"):

        @res.cache.cached(key="quiz:{quiz_id}:{quizid}", view=False)
        def function(quiz_id: int) -> str:
            return ""


def test_query_fields_fill_view_key_templates(app: Flask) -> None:
    """A field the view does not take comes from the query string (empty when absent), and
    query_args=[...] still adds its arguments."""
    client = app.test_client()
    assert client.get("/quizzes?category=science").json == {"category": "science", "page": None}
    client.get("/quizzes?category=science&utm=x")
    client.get("/quizzes?category=history")
    client.get("/quizzes?category=history&page=2")
    client.get("/quizzes")
    client.get("/quizzes")
    assert calls == [
        ("list", "science", None),
        ("list", "history", None),
        ("list", "history", "2"),
        ("list", None, None),
    ]
    with app.app_context():
        names = ["quiz:list:science", "quiz:list:history", "quiz:list:history?page=2", "quiz:list:"]
        assert res.redis.exists(*(f"resilience:cache:{name}" for name in names)) == 4


def test_query_field_listed_in_query_args_may_leave_view_args_out() -> None:
    """Listing a query field in query_args says it is meant, even if a view argument is unused."""

    @res.cache.cached(key="list:{category}", query_args=["category"])
    def view(lang: str) -> str:
        return lang

    with pytest.raises(ValueError, match="plain string"):

        @res.cache.cached(key="list:{category.name}")
        def other() -> str:
            return ""


def test_query_field_template_cannot_be_called_as_a_function(app: Flask) -> None:
    """Outside a view a query field has nothing to fill it: a clear TypeError, not a KeyError."""
    with app.app_context(), pytest.raises(TypeError, match="query string"):
        quiz_list()


def test_request_values_cannot_reach_internal_keys(app: Flask) -> None:
    """Values from the request are percent-encoded into keys: "{slug}" cannot write ~tag: or
    ~lock: keys, nor fake the query part of another key; nothing answers 500."""
    client = app.test_client()
    with app.app_context():
        tag_key = "resilience:cache:~tag:quizzes"
        res.redis.set(tag_key, 123)
        for path in ("/s/~tag:quizzes", "/s/~lock:x", "/s/a%3Fpage=2", "/s/a|u=1"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert client.get(path).status_code == 200
        assert res.redis.get(tag_key) == b"123"
        assert not res.redis.exists("resilience:cache:~lock:x")
        assert res.redis.exists("resilience:cache:%7Etag%3Aquizzes")
        assert res.redis.exists("resilience:cache:a%3Fpage%3D2")
    assert len(calls) == 4


def test_foreign_value_in_a_tag_counter_is_a_miss_not_a_500(app: Flask) -> None:
    """A tag counter holding something that is not an integer invalidates, never raises."""
    client = app.test_client()
    with app.app_context():
        res.redis.set("resilience:cache:~tag:page:p", '{"v": "junk"}')
        assert client.get("/s/p").status_code == 200
        assert client.get("/s/p").status_code == 200
        assert int(res.redis.get("resilience:cache:~tag:page:p")) > 1
        res.redis.set("resilience:cache:~tag:page:p", "junk")
        assert res.cache.invalidate(tags=["page:p"])
        assert client.get("/s/p").status_code == 200
    assert calls == [("slug", "p")] * 2


def test_template_starting_with_the_internal_marker_is_rejected() -> None:
    """Templates starting with '~' would name internal keys; refused at decoration time."""
    with pytest.raises(ValueError, match="reserved"):
        res.cache.cached(key="~lock:{x}")(lambda x: x)


def test_view_and_value_sharing_a_key_are_logged_once(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """get_or_set("quiz:7") and a view keyed "quiz:{quiz_id}" clash: both still answer right,
    uncached, and one WARNING says so (not a silent loss of the cache)."""
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_resilience.cache"):
        with app.app_context():
            assert res.cache.get_or_set("quiz:7", lambda: {"id": 7}, 60) == {"id": 7}
        for _ in range(3):
            assert client.get("/clash/7").text == "quiz 7"
        assert client.get("/clash/8").text == "quiz 8"  # its own key: cached as a response
        with app.app_context():
            assert res.cache.get_or_set("quiz:8", lambda: {"id": 8}, 60) == {"id": 8}
            assert res.cache.get_or_set("quiz:8", lambda: {"id": 8}, 60) == {"id": 8}
    clashes = [r for r in caplog.records if "holds" in r.getMessage()]
    assert len(clashes) == 2  # once for the view, once for get_or_set
    assert calls == [("clash", 7)] * 3 + [("clash", 8)]
    assert "quiz" in runtime(app).clashes


def test_post_requests_bypass_the_cache(app: Flask) -> None:
    """Only GET and HEAD are cached."""
    app.add_url_rule("/quiz-post/<int:quiz_id>", "post", quiz_view, methods=["POST"])
    client = app.test_client()
    client.post("/quiz-post/5")
    client.post("/quiz-post/5")
    assert len(calls) == 2
