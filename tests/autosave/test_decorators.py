"""``autosave.init_app(..., decorators=...)``: every draft endpoint is wrapped, the script is not.

The extension passes ``decorators=(limits.autosave,)``; these tests mount a second copy of the
blueprint (``autosave_blueprint(decorators)``, what ``init_app`` registers) beside the plain one.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from flask_resilience import Resilience, autosave, schema
from flask_resilience.autosave.views import autosave_blueprint
from flask_resilience.ratelimit import limits

from .conftest import ALICE, owner_from_key

DECORATED = "/decorated/autosave/note/alice-1"


def counting(calls: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(**kwargs: Any) -> Any:
            calls.append(f"{request.method} {view.__name__}")
            return view(**kwargs)

        return wrapped

    return decorate


def test_init_app_takes_decorators_keyword() -> None:
    """The signature the extension calls: init_app(app, state, kinds, *, decorators=())."""
    parameter = inspect.signature(autosave.init_app).parameters["decorators"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default == ()


def test_every_draft_endpoint_is_decorated(autosave_app: Flask) -> None:
    """GET, PUT, PATCH, DELETE and the beacon pass through the decorators; the script does not."""
    calls: list[str] = []
    autosave_app.register_blueprint(
        autosave_blueprint((counting(calls),)), name="decorated", url_prefix="/decorated/autosave"
    )
    client = autosave_app.test_client()
    client.put(DECORATED, json={"a": 1}, headers=ALICE)
    client.patch(DECORATED, json={"b": 1}, headers=ALICE)
    client.get(DECORATED, headers=ALICE)
    beacon = json.dumps({"version": 2, "payload": {"a": 2}})
    client.post(DECORATED + "/beacon", data=beacon, content_type="text/plain", headers=ALICE)
    client.delete(DECORATED, headers=ALICE)
    client.get("/decorated/autosave/static/autosave.js").close()
    assert calls == ["PUT draft", "PATCH draft", "GET draft", "POST beacon", "DELETE draft"]


def test_the_autosave_rate_limit_preset_applies(
    make_app: Callable[..., Flask], sqlite_url: str, redis_url: str
) -> None:
    """With limits.autosave the draft endpoints answer under the 120-a-minute policy."""
    res = Resilience()
    res.autosave.register("note", owner=owner_from_key)
    res.user_loader(lambda: request.headers.get("X-User"))
    app = make_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_REDIS_URL": redis_url}, init=False
    )
    res.init_app(app)
    schema.upgrade(app)
    app.register_blueprint(
        autosave_blueprint((limits.autosave,)), name="limited", url_prefix="/decorated/autosave"
    )
    client = app.test_client()
    response = client.put(DECORATED, json={"a": 1}, headers=ALICE)
    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"autosave";q=120;w=60'
    beacon = json.dumps({"version": 1, "payload": {"a": 2}})
    response = client.post(
        DECORATED + "/beacon", data=beacon, content_type="text/plain", headers=ALICE
    )
    assert response.headers["RateLimit-Policy"] == '"autosave";q=120;w=60'
