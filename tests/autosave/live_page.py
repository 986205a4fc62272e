"""A test-only page that uses autosave.js, served by a real werkzeug server on a free port.

The page is three checkboxes and a text area; the signed-in user is the ``user`` cookie (so
``sendBeacon``, which cannot send headers, authenticates like everything else). The server
records every draft request it answers, which is how tests tell a keepalive PUT from a beacon.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, render_template_string, request
from werkzeug.serving import make_server

from flask_resilience import Resilience, schema

from .conftest import owner_from_key

BIG_MAX_BYTES = 256 * 1024
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autosave test page</title></head>
<body>
<form id="form">
  <label><input type="checkbox" name="a"> a</label>
  <label><input type="checkbox" name="b"> b</label>
  <label><input type="checkbox" name="c"> c</label>
  <textarea name="notes"></textarea>
</form>
{{ resilience_autosave_indicator() }}
{{ resilience_autosave_script() }}
<script>
  var form = document.getElementById("form");
  window.saver = Autosave.attach({
    url: {{ url|tojson }},
    watch: form,
    debounce: {{ debounce }},
    interval: {{ interval }},
    getState: function () {
      return {a: form.a.checked, b: form.b.checked, c: form.c.checked, notes: form.notes.value};
    },
    applyState: function (state) {
      ["a", "b", "c"].forEach(function (name) { form[name].checked = Boolean(state[name]); });
      form.notes.value = state.notes || "";
    },
  });
</script>
</body></html>
"""


@dataclass(frozen=True, slots=True)
class Hit:
    """One draft request from the browser, as the server answered it."""

    method: str
    path: str
    status: int
    if_match: str | None
    if_none_match: str | None
    supersedes: str | None


@dataclass
class LiveServer:
    """The running app: its base URL, the browser's draft requests, and direct access (whose
    requests are not recorded)."""

    url: str
    app: Flask
    hits: list[Hit] = field(default_factory=list)

    def page(self, kind: str, key: str, *, debounce: int = 50, interval: int = 60_000) -> str:
        return f"{self.url}/page/{kind}/{key}?debounce={debounce}&interval={interval}"

    def draft(self, kind: str, key: str) -> dict[str, Any] | None:
        """The stored draft as GET returns it (None when there is none)."""
        response = self._client().get(draft_path(kind, key))
        return response.get_json() if response.status_code == 200 else None

    def stored(self, kind: str, key: str) -> dict[str, Any]:
        """The stored draft, which must exist."""
        draft = self.draft(kind, key)
        assert draft is not None, f"no {kind} draft {key}"
        return draft

    def put(self, kind: str, key: str, payload: dict[str, Any]) -> int:
        """Store a draft behind the page's back (another device); returns its version."""
        response = self._client().put(draft_path(kind, key), json=payload)
        assert response.status_code == 200, response.get_data(as_text=True)
        return int(response.get_json()["version"])

    def writes(self) -> list[Hit]:
        return [hit for hit in self.hits if hit.method in ("PUT", "PATCH", "POST")]

    def _client(self) -> Any:
        client = self.app.test_client()
        client.set_cookie("user", "alice")
        return client


def draft_path(kind: str, key: str) -> str:
    return f"/resilience/autosave/{kind}/{key}"


def page_app(make_app: Callable[..., Flask], db_url: str) -> tuple[Flask, list[Hit]]:
    """The app: kinds ``note`` (64 KiB) and ``big`` (256 KiB), the page, and a request log."""
    res = Resilience()
    res.autosave.register("note", owner=owner_from_key)
    res.autosave.register("big", owner=owner_from_key, max_bytes=BIG_MAX_BYTES)
    res.user_loader(lambda: request.cookies.get("user"))
    app = make_app({"RESILIENCE_DATABASE_URL": db_url, "RATELIMIT_ENABLED": False}, init=False)
    res.init_app(app)
    schema.upgrade(app)
    hits: list[Hit] = []

    @app.get("/page/<kind>/<key>")
    def page(kind: str, key: str) -> str:
        return render_template_string(
            PAGE,
            url=draft_path(kind, key),
            debounce=int(request.args.get("debounce", 50)),
            interval=int(request.args.get("interval", 60_000)),
        )

    @app.after_request
    def record(response: Any) -> Any:
        from_browser = "Chrome" in request.headers.get("User-Agent", "")
        if from_browser and "/autosave/" in request.path and "/static/" not in request.path:
            headers = request.headers
            hits.append(
                Hit(
                    request.method,
                    request.path,
                    response.status_code,
                    headers.get("If-Match"),
                    headers.get("If-None-Match"),
                    headers.get("Autosave-Supersedes"),
                )
            )
        return response

    return app, hits


@contextmanager
def serve(app: Flask, hits: list[Hit]) -> Iterator[LiveServer]:
    """Serve ``app`` with werkzeug on a free loopback port until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, hits)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
