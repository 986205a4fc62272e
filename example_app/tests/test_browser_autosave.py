"""The quiz page in a real browser: answers survive a closed tab and an offline spell.

Drives Debian's Chromium (``/usr/bin/chromium``, the ``chromium`` apt package; ``make test``
installs it) through Playwright for Python. Nothing is downloaded: no ``playwright install``.
A missing browser fails the test rather than skipping it, so CI cannot pass without running it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from .conftest import AppFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAVE_TIMEOUT_MS = 15_000


@pytest.fixture
def draft_writes_refused() -> threading.Event:
    """Set it and the live server answers every draft write 503, whoever sends it.

    Playwright's routes stop a page's requests, but not a page-exit save (``keepalive``
    fetch or ``sendBeacon``) that Chromium delivers for a page already closed, once the
    network is back; only the server can refuse that one reliably.
    """
    return threading.Event()


@pytest.fixture
def live_server(
    make_example_app: AppFactory, sqlite_url: str, draft_writes_refused: threading.Event
) -> Iterator[str]:
    """The example app in embedded mode, served by werkzeug on a free loopback port."""
    app: Flask = make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    wsgi = app.wsgi_app

    def gate(environ: dict[str, Any], start_response: Any) -> Any:
        is_write = environ.get("REQUEST_METHOD") != "GET"
        if is_write and draft_writes_refused.is_set() and _draft_urls(environ["PATH_INFO"]):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"draft writes refused by the test"]
        return wsgi(environ, start_response)

    app.wsgi_app = gate  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium; fails (never skips) when the browser or Playwright is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _draft_urls(url: str) -> bool:
    return "/resilience/autosave/" in url and "/static/" not in url


def _refuse_writes(route: Any) -> None:
    if route.request.method == "GET":
        route.continue_()
    else:
        route.abort()


def radio(page: Any, question: int, option: int) -> Any:
    fieldset = page.locator("fieldset[data-question-id]").nth(question)
    return fieldset.locator("input[type=radio]").nth(option)


def test_answers_survive_a_closed_tab_and_going_offline(
    live_server: str, browser: Any, draft_writes_refused: threading.Event
) -> None:
    """Saved answers come back on reopen; answers made offline are offered back and recovered."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.goto("/login?next=/quiz/1")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wonderland")
    page.click("main button[type=submit]")
    page.wait_for_url("**/quiz/1")
    draft_url = page.locator("#quiz-form").get_attribute("data-autosave-url")

    radio(page, 0, 1).check()
    radio(page, 1, 0).check()
    indicator = page.locator("[data-resilience-autosave-indicator]")
    expect(indicator).to_contain_text("Saved", timeout=SAVE_TIMEOUT_MS)
    page.close()

    page = context.new_page()
    page.goto("/quiz/1")
    expect(radio(page, 0, 1)).to_be_checked()
    expect(radio(page, 1, 0)).to_be_checked()
    expect(page.locator("[data-resilience-autosave-indicator]")).to_contain_text("Saved")

    context.set_offline(True)
    radio(page, 2, 1).check()
    expect(page.locator("[data-resilience-autosave-indicator]")).to_have_text(
        "Offline \u2013 saved locally", timeout=SAVE_TIMEOUT_MS
    )
    # A closed page's renderer can outlive close() for a moment and, seeing the network come
    # back, save (correct, but then there is nothing left to recover): refuse its writes, in
    # the page and at the server (a keepalive or beacon exit save outlives the page's routes).
    context.route(_draft_urls, _refuse_writes)
    draft_writes_refused.set()
    page.close()
    context.set_offline(False)
    assert len(context.request.get(draft_url).json()["payload"]["answers"]) == 2

    page = context.new_page()
    page.goto("/quiz/1")
    dialog = page.locator("dialog.resilience-autosave-dialog")
    try:
        expect(dialog).to_be_visible(timeout=SAVE_TIMEOUT_MS)
    except AssertionError as exc:
        server = context.request.get(draft_url).json()
        storage = page.evaluate("JSON.stringify(localStorage)")
        raise AssertionError(f"no recovery dialog; server: {server}; storage: {storage}") from exc
    context.unroute(_draft_urls, _refuse_writes)
    draft_writes_refused.clear()
    dialog.get_by_role("button", name="Recover").click()
    for question, option in ((0, 1), (1, 0), (2, 1)):
        expect(radio(page, question, option)).to_be_checked()
    expect(page.locator("[data-resilience-autosave-indicator]")).to_contain_text(
        "Saved", timeout=SAVE_TIMEOUT_MS
    )
    draft = context.request.get(draft_url).json()
    assert len(draft["payload"]["answers"]) == 3
    context.close()


def test_a_stale_tab_gets_a_conflict_and_can_load_the_saved_version(
    live_server: str, browser: Any
) -> None:
    """Two tabs: the one saving on an old version sees Conflict and can take the server's copy."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server)
    first = context.new_page()
    first.goto("/login?next=/quiz/1")
    first.fill("input[name=username]", "bob")
    first.fill("input[name=password]", "builder")
    first.click("main button[type=submit]")
    first.wait_for_url("**/quiz/1")
    radio(first, 0, 0).check()
    expect(first.locator("[data-resilience-autosave-indicator]")).to_contain_text(
        "Saved", timeout=SAVE_TIMEOUT_MS
    )

    second = context.new_page()
    second.goto("/quiz/1")
    expect(radio(second, 0, 0)).to_be_checked()
    radio(first, 1, 1).check()  # the first tab moves the draft on
    expect(first.locator("[data-resilience-autosave-indicator]")).to_contain_text(
        "Saved just now", timeout=SAVE_TIMEOUT_MS
    )
    first.wait_for_function("window.quizAutosave.version === 2")

    radio(second, 2, 0).check()  # still based on version 1
    expect(second.locator("[data-resilience-autosave-indicator]")).to_have_text(
        "Conflict", timeout=SAVE_TIMEOUT_MS
    )
    second.get_by_role("button", name="Load saved version").click()
    expect(radio(second, 1, 1)).to_be_checked()
    expect(radio(second, 2, 0)).not_to_be_checked()
    context.close()


def _abort_posts(route: Any) -> None:
    if route.request.method == "POST":
        route.abort()
    else:
        route.continue_()


def test_submit_forgets_the_backup_only_once_it_succeeded(live_server: str, browser: Any) -> None:
    """A submit that never reaches the server keeps this browser's backup; a successful one
    shows the result, forgets the backup and ends the server draft."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.goto("/login?next=/quiz/1")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wonderland")
    page.click("main button[type=submit]")
    page.wait_for_url("**/quiz/1")
    draft_url = page.locator("#quiz-form").get_attribute("data-autosave-url")
    backup = f"localStorage.getItem('resilience-autosave:' + {draft_url!r})"

    context.route(_draft_urls, _refuse_writes)  # answers stay unsaved: only the backup has them
    radio(page, 0, 1).check()
    page.wait_for_function(f"{backup} !== null", timeout=SAVE_TIMEOUT_MS)

    context.route("**/quiz/1", _abort_posts)
    page.click("#quiz-form button[type=submit]")  # the network drops the submit
    page.wait_for_url(lambda url: url.startswith("chrome-error:"))
    context.unroute("**/quiz/1", _abort_posts)
    page.goto("/quiz/1")  # back on the quiz: the answer is still in this browser
    assert page.evaluate(backup) is not None, "a failed submit must keep the backup"
    dialog = page.locator("dialog.resilience-autosave-dialog")
    expect(dialog).to_be_visible(timeout=SAVE_TIMEOUT_MS)
    dialog.get_by_role("button", name="Recover").click()
    expect(radio(page, 0, 1)).to_be_checked()

    page.click("#quiz-form button[type=submit]")
    expect(page.locator("p.result")).to_be_visible()
    assert page.evaluate(backup) is None
    assert context.request.get(draft_url).status == 409  # submitted: the draft is final
    context.close()
