"""POST .../beacon: page-exit saves from navigator.sendBeacon (text/plain, version in the body)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem

BEACON = URL + "/beacon"


def beacon(client: FlaskClient, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        BEACON, data=data, content_type="text/plain;charset=UTF-8", headers={**ALICE, **headers}
    )


def test_beacon_replaces_the_payload(client: FlaskClient) -> None:
    """A text/plain envelope with the expected version saves like a PUT with If-Match."""
    client.put(URL, json={"a": 1}, headers=ALICE)
    response = beacon(client, {"version": 1, "payload": {"a": 2}, "client_saved_at": 1767225600000})
    assert response.status_code == 200
    body = client.get(URL, headers=ALICE).get_json()
    assert (body["version"], body["payload"]) == (2, {"a": 2})


def test_beacon_with_a_stale_version_is_412(client: FlaskClient) -> None:
    """The version in the body is checked like If-Match."""
    client.put(URL, json={"a": 1}, headers=ALICE)
    client.put(URL, json={"a": 2}, headers=ALICE)
    assert_problem(beacon(client, {"version": 1, "payload": {"a": 3}}), 412)
    assert client.get(URL, headers=ALICE).get_json()["payload"] == {"a": 2}


def test_beacon_without_version_is_unconditional(client: FlaskClient) -> None:
    """``version: null`` (a first save) writes without a precondition."""
    assert beacon(client, {"version": None, "payload": {"a": 1}}).status_code == 200


def test_beacon_idempotency_key_in_the_body(client: FlaskClient) -> None:
    """A keepalive fetch and a beacon of the same save with one key write once."""
    envelope = {"version": None, "payload": {"a": 1}, "idempotency_key": "save-1"}
    beacon(client, envelope)
    assert beacon(client, envelope).headers["Idempotent-Replayed"] == "true"
    assert client.get(URL, headers=ALICE).get_json()["version"] == 1


def test_bad_envelope_is_400(client: FlaskClient) -> None:
    """No payload, a non-integer version or broken JSON is a 400."""
    assert_problem(beacon(client, {"version": 1}), 400)
    assert_problem(beacon(client, {"version": "1", "payload": {}}), 400)
    assert_problem(beacon(client, "{"), 400)


def test_cross_site_beacon_is_403(client: FlaskClient) -> None:
    """A text/plain POST skips CORS preflight, so another site's beacons are refused."""
    assert_problem(beacon(client, {"payload": {"a": 1}}, Origin="https://evil.example"), 403)
    assert_problem(beacon(client, {"payload": {"a": 1}}, **{"Sec-Fetch-Site": "cross-site"}), 403)
    assert beacon(client, {"payload": {"a": 1}}, Origin="http://localhost").status_code == 200


def test_beacon_behind_a_trusted_proxy_compares_the_public_host(
    make_autosave_app: Callable[..., Flask],
) -> None:
    """With RESILIENCE_TRUSTED_PROXIES the origin is checked against X-Forwarded-Host."""
    client = make_autosave_app({"RESILIENCE_TRUSTED_PROXIES": 1}).test_client()
    forwarded = {"Origin": "https://quiz.example", "X-Forwarded-Host": "quiz.example"}
    assert beacon(client, {"payload": {"a": 1}}, **forwarded).status_code == 200
    assert_problem(beacon(client, {"payload": {"a": 1}}, Origin="https://quiz.example"), 403)


def test_forwarded_host_is_ignored_without_trusted_proxies(client: FlaskClient) -> None:
    """Anyone can send X-Forwarded-Host; it counts only when a proxy is trusted."""
    forwarded = {"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"}
    assert_problem(beacon(client, {"payload": {"a": 1}}, **forwarded), 403)
