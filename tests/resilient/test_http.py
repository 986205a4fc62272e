"""ResilientSession against a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

from flask_resilience import Resilience, RetryExhaustedError
from flask_resilience.resilient.http import ResilientSession, retry_after_seconds


class Upstream:
    """A tiny service whose answers the test scripts, and which records what it received."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.received: list[dict[str, str]] = []
        app = Flask("upstream")
        app.add_url_rule("/thing", "thing", self._thing)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/thing"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _thing(self) -> Response:
        self.received.append(dict(request.headers))
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return Response("body", status=status, headers=headers)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    service = Upstream()
    service.thread.start()
    yield service
    service.server.shutdown()
    service.thread.join(5)


@pytest.fixture
def app(make_app: Callable[..., Flask], sqlite_url: str) -> Flask:
    return make_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "RESILIENCE_POLICIES": {
                "upstream": {"max_attempts": 3, "backoff_base": 0.0, "failure_threshold": 10}
            },
        },
    )


def test_5xx_is_retried_and_counted_as_healed(app: Flask, upstream: Upstream) -> None:
    """Two 503s then a 200: the caller gets the 200 and the upstream saw three requests."""
    upstream.answers = [(503, {}), (502, {})]
    session = ResilientSession(policies={"127.0.0.1": "upstream"})
    with app.app_context():
        response = session.get(upstream.url)
    assert response.status_code == 200
    assert len(upstream.received) == 3


def test_4xx_is_returned_not_retried(app: Flask, upstream: Upstream) -> None:
    """A 404 is the caller's answer: returned at once, no retry."""
    upstream.answers = [(404, {})]
    session = ResilientSession(policies={"127.0.0.1": "upstream"})
    with app.app_context():
        assert session.get(upstream.url).status_code == 404
    assert len(upstream.received) == 1


def test_exhausted_5xx_raises_with_the_last_response(app: Flask, upstream: Upstream) -> None:
    """Three 500s exhaust the policy; the last upstream error is chained."""
    upstream.answers = [(500, {})] * 3
    session = ResilientSession(policies={"127.0.0.1": "upstream"})
    with app.app_context(), pytest.raises(RetryExhaustedError) as info:
        session.get(upstream.url)
    assert info.value.attempts == 3
    cause = info.value.__cause__
    assert isinstance(cause, requests.HTTPError) and cause.response is not None
    assert cause.response.status_code == 500


def test_retry_after_sets_the_wait(
    make_app: Callable[..., Flask], sqlite_url: str, upstream: Upstream
) -> None:
    """A 503 with Retry-After: 1 makes the next attempt wait one second on the policy clock."""
    from flask_resilience import ManualClock
    from flask_resilience.resilient import resilient

    clock = ManualClock()
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    upstream.answers = [(503, {"Retry-After": "1"})]
    session = ResilientSession()
    with app.app_context():
        policy = resilient("http:127.0.0.1", max_attempts=2, backoff_base=0.0, clock=clock)
        session._named["http:127.0.0.1"] = policy
        assert session.get(upstream.url).status_code == 200
    assert clock.sleeps == [1.0]


def test_request_id_is_forwarded(app: Flask, upstream: Upstream) -> None:
    """Inside a request, the incoming X-Request-ID travels to the upstream call."""
    extension = Resilience()  # any instance: `http` reads the current app's state
    app.add_url_rule("/proxy", "proxy", lambda: extension.http.get(upstream.url).text)
    response = app.test_client().get("/proxy", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert upstream.received[-1]["X-Request-Id"] == "req-42"


def test_connection_error_is_a_failure(app: Flask) -> None:
    """Nothing listening: connection errors are retried, then reported as exhausted."""
    session = ResilientSession(policies={"127.0.0.1": "upstream"}, timeout=0.5)
    with app.app_context(), pytest.raises(RetryExhaustedError) as info:
        session.get("http://127.0.0.1:1/nothing")
    assert isinstance(info.value.__cause__, requests.ConnectionError)


def test_retry_after_parsing() -> None:
    """Delta seconds and HTTP dates both parse; garbage gives None."""
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
