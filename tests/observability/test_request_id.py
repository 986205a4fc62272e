"""Request ids: accepted when safe, generated otherwise, echoed and bound to log lines."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from loguru import logger


def _app(make_app: Callable[..., Flask], sqlite_url: str, lines: list[dict[str, object]]) -> Flask:
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})

    def view() -> str:
        logger.info("inside the view")
        return "ok"

    app.add_url_rule("/work", "work", view)
    return app


def test_safe_incoming_id_is_kept_echoed_and_logged(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A well-formed X-Request-ID is echoed and appears in the log record's extra."""
    lines: list[dict[str, object]] = []
    sink = logger.add(lambda message: lines.append(dict(message.record["extra"])))
    try:
        app = _app(make_app, sqlite_url, lines)
        response = app.test_client().get("/work", headers={"X-Request-ID": "abc-123"})
    finally:
        logger.remove(sink)
    assert response.headers["X-Request-ID"] == "abc-123"
    assert {"request_id": "abc-123"} in lines


def test_unsafe_incoming_id_is_replaced(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """An id with unsafe characters or too long is not trusted; a fresh one is generated."""
    app = _app(make_app, sqlite_url, [])
    client = app.test_client()
    for bad in ("semi;colon<script>", "x" * 300):
        echoed = client.get("/work", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32
    first = client.get("/work").headers["X-Request-ID"]
    second = client.get("/work").headers["X-Request-ID"]
    assert first != second
