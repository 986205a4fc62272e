"""``res.autosave`` from Python, TTLs, registration errors, and the browser assets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from flask_resilience import ConfigurationError, Resilience, get_state
from flask_resilience.autosave import runtime_of

from .conftest import ALICE, URL, assert_problem


def test_get_and_delete_from_python(autosave_app: Flask, client: FlaskClient) -> None:
    """Host code reads and deletes drafts (on submit, say) without an HTTP round trip."""
    client.put(URL, json={"a": 1}, headers=ALICE)
    res_autosave = get_state(autosave_app).capabilities["autosave"]
    assert res_autosave.kinds["note"].max_bytes == 65536
    with autosave_app.app_context():
        from flask_resilience.autosave.runtime import Autosave

        api = Autosave(res_autosave.kinds)
        draft = api.get("note", "alice-1")
        assert draft is not None and draft.payload == {"a": 1}
        assert api.delete("note", "alice-1") is True
        assert api.get("note", "alice-1") is None
        assert api.delete("note", "alice-1") is False


def test_expired_draft_reads_as_absent_and_is_purged(
    autosave_app: Flask, client: FlaskClient
) -> None:
    """A kind's ttl counts from the last write; expired drafts are 404 and purge() removes them."""
    url = "/resilience/autosave/brief/alice-1"
    assert client.put(url, json={"a": 1}, headers=ALICE).get_json()["expires_at"]
    runtime = runtime_of(autosave_app)
    later = datetime.now(UTC) + timedelta(seconds=61)
    runtime.now = lambda: later
    assert_problem(client.get(url, headers=ALICE), 404)
    assert_problem(client.put(url, json={"a": 2}, headers={**ALICE, "If-Match": '"1"'}), 412)
    with autosave_app.app_context():
        from flask_resilience.autosave.runtime import Autosave

        assert Autosave(runtime.kinds).purge() == 1
    response = client.put(url, json={"a": 3}, headers=ALICE)
    assert response.get_json()["payload"] == {"a": 3}


def test_register_refuses_bad_arguments() -> None:
    """Bad kind names, owners, sizes, ttls and schemas fail at registration, not at request."""
    autosave = Resilience().autosave
    with pytest.raises(ConfigurationError):
        autosave.register("Bad Name", owner=str)
    with pytest.raises(ConfigurationError):
        autosave.register("static", owner=str)
    with pytest.raises(ConfigurationError):
        autosave.register("a", owner="nobody")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        autosave.register("a", owner=str, max_bytes=0)
    with pytest.raises(ConfigurationError):
        autosave.register("a", owner=str, ttl=-1)
    with pytest.raises(ConfigurationError, match="JSON Schema"):
        autosave.register("a", owner=str, schema={"type": "no-such-type"})
    kind = autosave.register("a", owner=str, ttl=timedelta(hours=1))
    assert kind.ttl == timedelta(hours=1)


def test_bad_hide_forbidden_setting_fails_at_start(make_autosave_app: object) -> None:
    """A malformed RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN stops init_app."""
    with pytest.raises(ConfigurationError, match="RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN"):
        make_autosave_app({"RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN": "maybe"})  # type: ignore[operator]


def test_autosave_js_is_served(client: FlaskClient) -> None:
    """The blueprint serves autosave.js with no build step."""
    response = client.get("/resilience/autosave/static/autosave.js")
    assert response.status_code == 200
    assert "Autosave" in response.get_data(as_text=True)
    response.close()


def test_template_globals_render_indicator_and_script(autosave_app: Flask) -> None:
    """resilience_autosave_indicator() renders a polite live region; the script tag its URL."""
    with autosave_app.test_request_context("/"):
        html = render_template_string(
            "{{ resilience_autosave_indicator() }}{{ resilience_autosave_script() }}"
        )
    assert 'role="status"' in html and "data-resilience-autosave-indicator" in html
    assert '<script src="/resilience/autosave/static/autosave.js"></script>' in html
