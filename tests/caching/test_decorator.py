"""``@res.cache.cached`` on views and functions: key templates, query args, per-user keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, jsonify, request

from .conftest import res

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


@pytest.fixture
def app(cache_app: Callable[..., Flask]) -> Flask:
    calls.clear()
    app = cache_app()
    app.add_url_rule("/quiz/<int:quiz_id>", view_func=quiz_view)
    app.add_url_rule("/me", view_func=me_view)
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
    """A typo in a template is caught when decorating, not at the first request."""
    with pytest.raises(ValueError, match="quizid"):

        @res.cache.cached(key="quiz:{quizid}")
        def view(quiz_id: int) -> str:
            return ""


def test_post_requests_bypass_the_cache(app: Flask) -> None:
    """Only GET and HEAD are cached."""
    app.add_url_rule("/quiz-post/<int:quiz_id>", "post", quiz_view, methods=["POST"])
    client = app.test_client()
    client.post("/quiz-post/5")
    client.post("/quiz-post/5")
    assert len(calls) == 2
