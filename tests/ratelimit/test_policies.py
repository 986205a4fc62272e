"""Presets, res.limit and exemptions: limits, keys and config overrides, resolved per app."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, current_app, request

from flask_resilience import Resilience
from flask_resilience.ratelimit import limit, limits

from .conftest import LimitedApp, login


def test_login_preset_refuses_the_sixth_attempt(limited_app: LimitedApp) -> None:
    """Five login attempts per 15 minutes pass; the sixth is a 429 problem with Retry-After."""
    client = limited_app().test_client()
    for attempt in range(5):
        response = client.post("/login", json={"username": "alice"})
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == str(4 - attempt)
        assert "Retry-After" not in response.headers
    response = client.post("/login", json={"username": "alice"})
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 895 <= int(response.headers["Retry-After"]) <= 900
    body = response.get_json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["type"].endswith("#quota-exceeded")
    assert body["retry_after"] == int(response.headers["Retry-After"])
    assert body["violated_policies"] == ["login"] == body["violated-policies"]
    assert "login" in body["detail"]


def test_login_is_keyed_by_address_and_user_name(limited_app: LimitedApp) -> None:
    """Another user name, or the same name from another address, has its own login budget."""
    client = limited_app({"RESILIENCE_RATELIMIT_LOGIN": "1/minute"}).test_client()
    assert client.post("/login", json={"username": "alice"}).status_code == 200
    assert client.post("/login", data={"username": "ALICE "}).status_code == 429
    assert client.post("/login", json={"username": "bob"}).status_code == 200
    other = {"REMOTE_ADDR": "10.1.1.1"}
    response = client.post("/login", json={"username": "alice"}, environ_base=other)
    assert response.status_code == 200


def test_login_counts_only_posts(limited_app: LimitedApp) -> None:
    """Showing the login form never spends a login attempt."""
    client = limited_app({"RESILIENCE_RATELIMIT_LOGIN": "1/minute"}).test_client()
    for _ in range(3):
        assert client.get("/login").status_code == 200
    assert client.post("/login", json={"username": "a"}).status_code == 200
    assert client.post("/login", json={"username": "a"}).status_code == 429


def test_upload_is_per_user_else_per_address(limited_app: LimitedApp) -> None:
    """Each signed-in user has an upload budget; anonymous clients count per address."""
    client = limited_app({"RESILIENCE_RATELIMIT_UPLOAD": "1/hour"}).test_client()
    assert client.post("/upload", headers={"X-User": "1"}).status_code == 200
    assert client.post("/upload", headers={"X-User": "1"}).status_code == 429
    assert client.post("/upload", headers={"X-User": "2"}).status_code == 200
    assert client.post("/upload").status_code == 200
    assert client.post("/upload").status_code == 429
    assert client.post("/upload", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200


def test_submit_is_per_user_and_resource(limited_app: LimitedApp) -> None:
    """One submission per 5 minutes per user and quiz id; another quiz or user is separate."""
    client = limited_app().test_client()
    user = {"X-User": "7"}
    assert client.post("/quiz/1/submit", headers=user).status_code == 200
    assert client.post("/quiz/1/submit", headers=user).status_code == 429
    assert client.post("/quiz/2/submit", headers=user).status_code == 200
    assert client.post("/quiz/1/submit", headers={"X-User": "8"}).status_code == 200


def test_presets_keep_their_defaults(limited_app: LimitedApp) -> None:
    """Listing allows 60 a minute and autosave 120, each replacing the default 100/minute."""
    client = limited_app().test_client()
    listing = client.get("/listing", headers={"X-User": "1"})
    autosave = client.put("/autosave", headers={"X-User": "1"})
    assert listing.headers["RateLimit-Policy"] == '"listing";q=60;w=60'
    assert autosave.headers["RateLimit-Policy"] == '"autosave";q=120;w=60'


def test_limit_with_ip_key_and_custom_key(limited_app: LimitedApp) -> None:
    """``limit(..., key="ip")`` ignores the user; a callable key groups however it says."""
    client = limited_app().test_client()
    for user in ("1", "2", "3"):
        assert client.get("/search", headers={"X-User": user}).status_code == 200
    assert client.get("/search", headers={"X-User": "4"}).status_code == 429
    for _ in range(2):
        assert client.get("/tenant", headers={"X-Tenant": "a"}).status_code == 200
    assert client.get("/tenant", headers={"X-Tenant": "a"}).status_code == 429
    assert client.get("/tenant", headers={"X-Tenant": "b"}).status_code == 200


def test_default_limit_applies_to_undecorated_views(limited_app: LimitedApp) -> None:
    """Views without a decorator get RESILIENCE_RATELIMIT_DEFAULT per user or address."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "2/minute"}).test_client()
    assert [client.get("/hello").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/hello", headers={"X-User": "5"}).status_code == 200


def test_exempt_view_is_never_limited(limited_app: LimitedApp) -> None:
    """An ``@exempt`` view ignores the default limit and sends no rate-limit headers."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "1/minute"}).test_client()
    for _ in range(5):
        response = client.get("/health")
        assert response.status_code == 200
        assert "RateLimit" not in response.headers and "X-RateLimit-Limit" not in response.headers


def test_probes_and_metrics_are_not_limited(limited_app: LimitedApp) -> None:
    """/healthz and /metrics always answer, whatever the default limit."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "1/minute"}).test_client()
    assert {client.get("/healthz").status_code for _ in range(3)} == {200}
    assert {client.get("/metrics").status_code for _ in range(3)} == {200}


def test_allow_list_bypasses_every_limit(limited_app: LimitedApp) -> None:
    """Clients inside RESILIENCE_RATELIMIT_ALLOW are never limited; others still are."""
    app = limited_app(
        {
            "RESILIENCE_RATELIMIT_ALLOW": "10.0.0.0/8, 192.168.1.7",
            "RESILIENCE_RATELIMIT_LOGIN": "1/hour",
        }
    )
    client = app.test_client()
    inside = {"REMOTE_ADDR": "10.2.3.4"}
    for _ in range(3):
        assert client.post("/login", json={"username": "x"}, environ_base=inside).status_code == 200
    outside = {"REMOTE_ADDR": "192.168.1.8"}
    assert client.post("/login", json={"username": "x"}, environ_base=outside).status_code == 200
    assert client.post("/login", json={"username": "x"}, environ_base=outside).status_code == 429


def test_decorators_exist_before_any_app_and_serve_two_apps(limited_app: LimitedApp) -> None:
    """One import-time decorated view gets each app's own configured limit."""
    strict = limited_app({"RESILIENCE_RATELIMIT_LOGIN": "1/minute"}, redis=False).test_client()
    loose = limited_app({"RESILIENCE_RATELIMIT_LOGIN": "3/minute"}, redis=False).test_client()
    assert [strict.post("/login", json={}).status_code for _ in range(2)] == [200, 429]
    assert [loose.post("/login", json={}).status_code for _ in range(3)] == [200, 200, 200]


def test_view_without_extension_runs_unlimited() -> None:
    """A decorated view on an app without the extension just runs."""
    app = Flask(__name__)
    app.add_url_rule("/login", "login", login, methods=["POST"])
    client = app.test_client()
    assert {client.post("/login").status_code for _ in range(8)} == {200}


def test_extension_exposes_the_same_decorators(sqlite_url: str) -> None:
    """``res.limits``, ``res.limit`` and ``res.exempt`` are the importable decorators."""
    res = Resilience()
    assert res.limits is limits
    assert res.limit("5/minute", key="ip").policy.limit == "5/minute"

    def view() -> str:
        return "x"

    assert res.exempt(view) is view


def test_bad_decorator_arguments_fail_at_import_time() -> None:
    """A bad limit string, key name or fail mode raises when the module is imported."""
    with pytest.raises(ValueError):
        limit("lots per minute")
    with pytest.raises(ValueError):
        limit("5/minute", key="session")
    with pytest.raises(ValueError):
        limit("5/minute", fail="maybe")  # type: ignore[arg-type]


QUIZ_OF_ATTEMPT = {1: 10, 2: 10, 3: 20}


def open_attempt_quiz() -> int | None:
    """The quiz of the attempt being submitted; None (not limited) when it is already finished."""
    attempt = (request.view_args or {})["attempt_id"]
    if attempt in current_app.config.setdefault("SUBMITTED", set()):
        return None  # the view answers 409; a repeated submit is not a new submission
    return QUIZ_OF_ATTEMPT.get(attempt)


@limits.submit.keyed(open_attempt_quiz)
def submit_attempt(attempt_id: int) -> tuple[str, int]:
    submitted = current_app.config.setdefault("SUBMITTED", set())
    if attempt_id not in QUIZ_OF_ATTEMPT:
        return "no such attempt", 404
    if attempt_id in submitted:
        return "already submitted", 409
    submitted.add(attempt_id)
    return "scored", 200


@limits.submit
def answer(quiz_id: int) -> tuple[str, int]:
    return ("conflict", 409) if request.args.get("conflict") else ("saved", 200)


@limits.submit.keyed(lambda: request.args["quiz"], deduct_when=None)
def strict_answer() -> tuple[str, int]:
    return ("conflict", 409) if request.args.get("conflict") else ("saved", 200)


def submit_app(limited_app: LimitedApp, config: dict[str, Any] | None = None, **kw: Any) -> Flask:
    app = limited_app(config, **kw)
    app.add_url_rule(
        "/attempts/<int:attempt_id>/submit", view_func=submit_attempt, methods=["POST"]
    )
    app.add_url_rule("/answer/<int:quiz_id>", view_func=answer, methods=["POST"])
    app.add_url_rule("/strict", view_func=strict_answer, methods=["POST"])
    return app


def test_keyed_submit_meets_the_example_app_contract(limited_app: LimitedApp) -> None:
    """Per user and quiz, not attempt: a re-submit is 409, another attempt of the quiz is 429."""
    client = submit_app(limited_app).test_client()
    user = {"X-User": "7"}
    first = client.post("/attempts/1/submit", headers=user)
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"submit";q=1;w=300'
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert client.post("/attempts/1/submit", headers=user).status_code == 409
    second = client.post("/attempts/2/submit", headers=user)  # attempt 2 is quiz 10 too
    assert second.status_code == 429
    assert second.get_json()["violated_policies"] == ["submit"]
    assert 295 <= int(second.headers["Retry-After"]) <= 300
    assert client.post("/attempts/3/submit", headers=user).status_code == 200  # quiz 20
    assert client.post("/attempts/2/submit", headers={"X-User": "8"}).status_code == 200
    assert client.post("/attempts/99/submit", headers=user).status_code == 404


def test_a_refused_submit_does_not_consume_the_budget(limited_app: LimitedApp) -> None:
    """The submit preset counts only 2xx: 409s leave the budget, the first success spends it."""
    client = submit_app(limited_app).test_client()
    user = {"X-User": "7"}
    for _ in range(3):
        refused = client.post("/answer/5?conflict=1", headers=user)
        assert refused.status_code == 409
        assert refused.headers["X-RateLimit-Remaining"] == "1"
    assert client.post("/answer/5", headers=user).status_code == 200
    assert client.post("/answer/5", headers=user).status_code == 429
    assert client.post("/answer/5?conflict=1", headers=user).status_code == 429
    assert client.post("/answer/6", headers=user).status_code == 200


def test_keyed_submit_keeps_its_config_key(limited_app: LimitedApp) -> None:
    """RESILIENCE_RATELIMIT_SUBMIT still sets the keyed preset's limit."""
    client = submit_app(limited_app, {"RESILIENCE_RATELIMIT_SUBMIT": "2/minute"}).test_client()
    user = {"X-User": "7"}
    assert client.post("/attempts/1/submit", headers=user).status_code == 200
    response = client.post("/attempts/2/submit", headers=user)
    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"submit";q=2;w=60'
    assert client.post("/attempts/3/submit", headers=user).status_code == 200  # another quiz


def test_keyed_with_deduct_when_none_counts_every_request(limited_app: LimitedApp) -> None:
    """``keyed(fn, deduct_when=None)`` counts a 409 too, so the next request is a 429."""
    client = submit_app(limited_app).test_client()
    assert client.post("/strict?quiz=4&conflict=1").status_code == 409
    assert client.post("/strict?quiz=4").status_code == 429
    assert client.post("/strict?quiz=5").status_code == 200


def test_deduct_on_success_works_from_memory_too(limited_app: LimitedApp) -> None:
    """Embedded mode (no Redis) applies the same 2xx-only rule."""
    client = submit_app(limited_app, redis=False).test_client()
    assert client.post("/answer/5?conflict=1").status_code == 409
    assert [client.post("/answer/5").status_code for _ in range(2)] == [200, 429]
