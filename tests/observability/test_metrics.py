"""Prometheus metrics at /metrics: HTTP metrics and the resilience engine's own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from flask_resilience import CircuitOpenError, RetryExhaustedError
from flask_resilience.resilient import resilient


def _samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _app(make_app: Callable[..., Flask], sqlite_url: str, **config: object) -> Flask:
    return make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **config})


def test_policy_outcomes_breaker_state_and_health(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Calls by outcome, retries, breaker state and transitions, and the health ratio."""
    app = _app(make_app, sqlite_url)
    outcomes = iter([True, False, True, True, True, True])

    @resilient("pricing", max_attempts=2, backoff_base=0.0, failure_threshold=3)
    def price() -> int:
        if next(outcomes):
            raise ConnectionError("reset")
        return 10

    with app.app_context():
        assert price() == 10  # fails once, healed by the retry (1 retry)
        with pytest.raises(RetryExhaustedError):
            price()  # fails twice (1 retry), two consecutive failures
        with pytest.raises(CircuitOpenError):
            price()  # third consecutive failure opens; the retry (3rd) is rejected
    samples = _samples(app)
    calls = {
        outcome: samples[("resilience_calls_total", (("outcome", outcome), ("policy", "pricing")))]
        for outcome in ("success", "healed", "failure", "rejected")
    }
    assert calls == {"success": 0.0, "healed": 1.0, "failure": 1.0, "rejected": 1.0}
    assert samples[("resilience_retries_total", (("policy", "pricing"),))] == 3.0
    assert samples[("resilience_breaker_state", (("policy", "pricing"), ("state", "open")))] == 1.0
    transition = (("from_state", "closed"), ("policy", "pricing"), ("to_state", "open"))
    assert samples[("resilience_breaker_transitions_total", transition)] == 1.0
    assert samples[("resilience_call_duration_seconds_count", (("policy", "pricing"),))] == 3.0
    assert samples[("resilience_system_health_ratio", ())] == pytest.approx(1 / 3)


def test_http_metrics_are_grouped_by_rule(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Requests are counted by URL rule, so ids in paths do not explode cardinality."""
    app = _app(make_app, sqlite_url, RESILIENCE_HEALTH_ENABLED=True)
    app.add_url_rule("/items/<int:item_id>", "item", lambda item_id: str(item_id))
    client = app.test_client()
    for item_id in (1, 2, 3):
        client.get(f"/items/{item_id}")
    samples = _samples(app)
    counted = [
        value
        for (name, labels), value in samples.items()
        if name == "flask_http_request_total" and ("status", "200") in labels
    ]
    assert counted == [3.0]
    paths = {dict(labels).get("url_rule") for (name, labels) in samples if "flask_http" in name}
    assert "/items/1" not in paths


def test_two_apps_in_one_process_keep_separate_metrics(
    make_app: Callable[..., Flask], tmp_path: object
) -> None:
    """Each app has its own registry: no duplicate-metric errors, no shared counts."""
    first = make_app({"RESILIENCE_DATABASE_URL": f"sqlite:///{tmp_path}/1.db"})
    second = make_app({"RESILIENCE_DATABASE_URL": f"sqlite:///{tmp_path}/2.db"})
    with first.app_context():
        resilient("only-first")(lambda: 1)()
    assert ("resilience_calls_total", (("outcome", "success"), ("policy", "only-first"))) in (
        _samples(first)
    )
    assert not any("only-first" in str(key) for key in _samples(second))


def test_metrics_can_be_disabled(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """RESILIENCE_METRICS_ENABLED=false registers no /metrics route."""
    app = _app(make_app, sqlite_url, RESILIENCE_METRICS_ENABLED="false")
    assert app.test_client().get("/metrics").status_code == 404
