"""The admin stress API: lifecycle, limits, reaping and problem responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from flask_resilience import ConfigurationError, Resilience, get_state
from flask_resilience._foundation.clock import ManualClock
from flask_resilience.admin.stress import StressRegistry

BASE = "/resilience/admin/stress"
ADMIN = {"X-Admin": "yes"}
PRODUCTION = {"RESILIENCE_ENV": "production", "RESILIENCE_POLICIES": {"stress": {"healing": True}}}


@pytest.fixture
def admin_app(make_app: Callable[..., Flask], sqlite_url: str) -> Flask:
    """An app whose admin_auth approves requests with ``X-Admin: yes``; at most 3 stress runs."""
    app = make_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_STRESS_MAX_RUNS": 3, **PRODUCTION},
        init=False,
    )
    Resilience(app).admin_auth(lambda: request.headers.get("X-Admin") == "yes")
    return app


@pytest.fixture
def client(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


def _registry(app: Flask) -> StressRegistry:
    registry: StressRegistry = get_state(app).capabilities["stress_runs"]
    return registry


def _create(client: FlaskClient, body: Any = None, status: int = 201) -> dict[str, Any]:
    response = client.post(BASE, json=body if body is not None else {}, headers=ADMIN)
    assert response.status_code == status, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def _assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body.get("field") == field
    return body


def test_routes_absent_without_admin_auth(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Without an admin_auth callback the stress API does not exist (404 problem)."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    client = app.test_client()
    _assert_problem(client.post(BASE, json={}), 404)
    _assert_problem(client.get(BASE), 404)
    assert "stress_runs" not in get_state(app).capabilities


def test_non_admins_get_403(client: FlaskClient, admin_app: Flask) -> None:
    """Every stress route asks admin_auth first; a refused request starts nothing."""
    _assert_problem(client.post(BASE, json={"requests": 10}), 403)
    _assert_problem(client.get(BASE), 403)
    _assert_problem(client.delete(f"{BASE}/whatever"), 403)
    assert _registry(admin_app).entries() == []


def test_full_lifecycle(client: FlaskClient, admin_app: Flask) -> None:
    """Create with a batch, list, show, process one request in a new scenario, delete."""
    created = _create(client, {"policy": "payments", "scenario": "degraded", "requests": 50})
    run_id = created["run_id"]
    assert created["status_url"] == f"{BASE}/{run_id}"
    assert created["total"] == 50 and created["policy"] == "payments"
    assert created["scenario"]["name"] == "degraded"

    listed = client.get(BASE, headers=ADMIN).get_json()
    assert [run["run_id"] for run in listed["runs"]] == [run_id]
    assert listed["max_runs"] == 3
    shown = client.get(created["status_url"], headers=ADMIN).get_json()
    assert shown["total"] == 50 and shown["created_at"] == created["created_at"]

    body = {"request": {"id": "r-1", "type": "payment"}, "scenario": {"name": "outage"}}
    processed = client.post(f"{BASE}/{run_id}/process", json=body, headers=ADMIN).get_json()
    assert processed["outcome"]["request_id"] == "r-1"
    assert processed["outcome"]["request_type"] == "payment"
    assert processed["total"] == 51 and processed["scenario"]["failure_rate"] == 0.95

    deleted = client.delete(created["status_url"], headers=ADMIN)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    _assert_problem(client.get(created["status_url"], headers=ADMIN), 404)
    assert client.get(BASE, headers=ADMIN).get_json()["runs"] == []


def test_create_with_defaults_and_a_location(client: FlaskClient) -> None:
    """An empty body starts policy `stress` on `degraded`, with no request processed yet."""
    response = client.post(BASE, headers=ADMIN)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == body["status_url"]
    assert (body["policy"], body["scenario"]["name"], body["total"]) == ("stress", "degraded", 0)
    assert body["system_health"] == 1.0 and body["config"] == {} and body["seed"] == 0


def test_degraded_run_heals_with_the_production_preset(client: FlaskClient) -> None:
    """The API runs the same harness as the CLI: degraded traffic heals and stays healthy."""
    report = _create(client, {"requests": 2000, "seed": 7})
    assert report["healed"] > 0 and report["system_health"] >= 0.85


def test_config_overrides_apply_to_that_run_only(client: FlaskClient, admin_app: Flask) -> None:
    """`config` changes the policy of one run; the app's own policies stay as configured."""
    plain = _create(client, {"requests": 300, "seed": 1})
    no_retry = _create(client, {"requests": 300, "seed": 1, "config": {"max_attempts": 1}})
    assert plain["healed"] > 0
    assert no_retry["healed"] == 0 and no_retry["config"] == {"max_attempts": 1}
    runtime = get_state(admin_app).capabilities["resilient"]
    assert runtime.built() == [] and runtime.settings_for("stress", {}).max_attempts == 6


def test_custom_scenario_object(client: FlaskClient) -> None:
    """A scenario object with its own failure rate and latency is used as given."""
    scenario = {"name": "brownout", "failure_rate": 0.0, "avg_latency_ms": 20, "description": "x"}
    report = _create(client, {"scenario": scenario, "requests": 100})
    assert report["scenario"]["name"] == "brownout" and report["scenario"]["description"] == "x"
    assert report["successful"] == 100 and report["failed"] == 0


def test_max_runs_gives_429_until_one_is_deleted(client: FlaskClient) -> None:
    """The fourth live run is refused with a 429 problem and Retry-After; deleting frees a slot."""
    runs = [_create(client) for _ in range(3)]
    response = client.post(BASE, json={}, headers=ADMIN)
    body = _assert_problem(response, 429)
    assert body["max_runs"] == 3 and "RESILIENCE_STRESS_MAX_RUNS" in body["detail"]
    assert 3500 < int(response.headers["Retry-After"]) <= 3600
    assert client.delete(runs[0]["status_url"], headers=ADMIN).status_code == 204
    _create(client)


def test_runs_are_reaped_after_an_hour(client: FlaskClient, admin_app: Flask) -> None:
    """A run is gone an hour after it started, which frees its slot."""
    clock = ManualClock()
    _registry(admin_app).clock = clock
    runs = [_create(client) for _ in range(3)]
    clock.advance(3599)
    shown = client.get(runs[0]["status_url"], headers=ADMIN).get_json()
    assert shown["age_seconds"] == 3599
    clock.advance(1)
    _assert_problem(client.get(runs[0]["status_url"], headers=ADMIN), 404)
    assert client.get(BASE, headers=ADMIN).get_json()["runs"] == []
    _create(client)


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("delete", ""), ("post", "/process")])
def test_unknown_run_is_a_404_problem(client: FlaskClient, method: str, suffix: str) -> None:
    """Any route with an unknown run id answers 404 problem JSON."""
    response = getattr(client, method)(f"{BASE}/nope{suffix}", json={}, headers=ADMIN)
    assert "nope" in _assert_problem(response, 404)["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "meltdown"}, "scenario"),
        ({"scenario": {"name": "x", "failure_rate": 2}}, "scenario"),
        ({"scenario": 3}, "scenario"),
        ({"config": {"retry_on": "Exception"}}, "config.retry_on"),
        ({"config": {"max_attempts": 0}}, "config.max_attempts"),
        ({"config": []}, "config"),
        ({"requests": 100_001}, "requests"),
        ({"requests": "ten"}, "requests"),
        ({"seed": True}, "seed"),
        ({"interval_ms": -1}, "interval_ms"),
        ({"type": "email"}, "type"),
        ({"policy": ""}, "policy"),
        ({"color": "red"}, "color"),
    ],
)
def test_create_rejects_bad_content(
    client: FlaskClient, admin_app: Flask, body: dict[str, Any], field: str
) -> None:
    """Bad content is a 422 problem naming the field, and starts no run."""
    _assert_problem(client.post(BASE, json=body, headers=ADMIN), 422, field)
    assert _registry(admin_app).entries() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"request": {"type": "email"}}, "request.type"),
        ({"request": {"id": 1.5}}, "request.id"),
        ({"request": "r-1"}, "request"),
        ({"scenario": {"failure_rate": -1}}, "scenario"),
        ({"extra": 1}, "extra"),
    ],
)
def test_process_rejects_bad_content(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    """A bad request or scenario is a 422 problem and processes nothing."""
    run = _create(client, {"scenario": "steady"})
    url = f"{run['status_url']}/process"
    _assert_problem(client.post(url, json=body, headers=ADMIN), 422, field)
    shown = client.get(run["status_url"], headers=ADMIN).get_json()
    assert shown["total"] == 0 and shown["scenario"]["name"] == "steady"


def test_process_defaults_to_an_api_call(client: FlaskClient) -> None:
    """An empty body processes one api_call, numbered after the run's earlier requests."""
    run = _create(client, {"requests": 2})
    processed = client.post(f"{run['status_url']}/process", headers=ADMIN).get_json()
    assert processed["outcome"]["request_type"] == "api_call"
    assert processed["outcome"]["request_id"] == "2" and processed["total"] == 3


@pytest.mark.parametrize("suffix", ["", "/RUN/process"])
def test_invalid_json_is_a_400_problem(client: FlaskClient, suffix: str) -> None:
    """A body that is not JSON answers 400 problem JSON."""
    url = BASE + suffix.replace("RUN", _create(client)["run_id"]) if suffix else BASE
    response = client.post(url, data="{nope", content_type="application/json", headers=ADMIN)
    assert "not valid JSON" in _assert_problem(response, 400)["detail"]


def test_a_body_that_is_not_an_object_is_a_422_problem(client: FlaskClient) -> None:
    """JSON that is not an object (a list) answers 422."""
    _assert_problem(client.post(BASE, json=[1, 2], headers=ADMIN), 422)


def test_max_runs_setting_is_validated(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """RESILIENCE_STRESS_MAX_RUNS below 1 fails at start, naming the key."""
    app = make_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_STRESS_MAX_RUNS": 0}, init=False
    )
    with pytest.raises(ConfigurationError, match="RESILIENCE_STRESS_MAX_RUNS"):
        Resilience(app).admin_auth(lambda: True)
