"""autosave.js in a real headless Chromium against a real server: exits, early answers, races.

Debian's ``/usr/bin/chromium`` driven by Playwright for Python; nothing is downloaded. Network
delays and lost answers are made with Playwright's request interception, at the network level:
the requests that go through reach the real Flask app and its real database. Waits are on page
state, server state or requests, never on fixed sleeps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from .live_page import LiveServer, page_app, serve

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 10_000
KEY = "alice-1"
DIALOG = "dialog.resilience-autosave-dialog"
HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
  delete document.visibilityState;
}"""
WATCH_STATES = """() => {
  var indicator = document.querySelector("[data-resilience-autosave-indicator]");
  window.seenStates = [];
  new MutationObserver(function () { window.seenStates.push(indicator.dataset.state); })
    .observe(indicator, {attributes: true, attributeFilter: ["data-state"]});
}"""
SETTLED = "() => !window.saver.dirty && !window.saver.inflight"


@pytest.fixture
def live(make_app: Callable[..., Flask], sqlite_url: str) -> Iterator[LiveServer]:
    app, hits = page_app(make_app, sqlite_url)
    with serve(app, hits) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium; fails (never skips) when the browser or Playwright is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        launched.new_context().close()  # fail here, not mid-test, if the browser cannot start
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, live: LiveServer) -> Any:
    context = browser.new_context(base_url=live.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "user", "value": "alice", "url": live.url}])
    return context


def open_page(context: Any, url: str, *, loaded: bool = True) -> Any:
    page = context.new_page()
    page.goto(url)
    if loaded:
        page.evaluate("() => window.saver.ready")
    page.evaluate(WATCH_STATES)
    return page


def wait_until(page: Any, condition: Callable[[], bool]) -> None:
    """Wait for a server-side or routing condition, letting Playwright dispatch its events."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(20)


def eventually(condition: Callable[[], bool]) -> None:
    """Wait for the server to see what a page that is already gone sent."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def is_draft(url: str) -> bool:
    return "/resilience/autosave/" in url and "/static/" not in url


def never_conflicted(page: Any) -> None:
    assert "conflict" not in page.evaluate("window.seenStates")
    assert page.locator(DIALOG).count() == 0


def test_closing_a_page_saves_unsaved_changes_by_keepalive(browser: Any, live: LiveServer) -> None:
    """Changes not yet saved (debounce pending) leave with the page in a keepalive PUT."""
    from playwright.sync_api import expect

    context = signed_in(browser, live)
    page = open_page(context, live.page("note", KEY, debounce=60_000))
    page.check("[name=a]")
    page.fill("textarea", "written just before closing")
    assert live.writes() == []
    page.close()
    eventually(lambda: bool(live.writes()))  # logged after the write committed
    [write] = live.writes()
    assert (write.method, write.status, write.if_none_match) == ("PUT", 200, "*")
    context.close()

    fresh = signed_in(browser, live)  # no localStorage: whatever shows came from the server
    page = open_page(fresh, live.page("note", KEY))
    expect(page.locator("[name=a]")).to_be_checked()
    expect(page.locator("textarea")).to_have_value("written just before closing")
    assert page.locator(DIALOG).count() == 0
    fresh.close()


def test_a_state_over_the_keepalive_budget_leaves_by_beacon(browser: Any, live: LiveServer) -> None:
    """A body over the 60 KiB keepalive budget (under the 64 KiB beacon quota) is beaconed."""
    notes = "x" * 62_000
    context = signed_in(browser, live)
    page = open_page(context, live.page("big", KEY, debounce=60_000))
    page.fill("textarea", notes)
    page.close()
    eventually(lambda: bool(live.writes()))
    [write] = live.writes()
    assert (write.method, write.path, write.status) == (
        "POST",
        f"/resilience/autosave/big/{KEY}/beacon",
        200,
    )
    context.close()

    fresh = signed_in(browser, live)
    page = open_page(fresh, live.page("big", KEY))
    assert page.evaluate("document.querySelector('textarea').value.length") == len(notes)
    fresh.close()


def test_a_state_over_the_beacon_quota_leaves_as_a_merge_patch(
    browser: Any, live: LiveServer
) -> None:
    """Past 64 KiB even sendBeacon refuses, so the exit save is a patch of what changed."""
    from playwright.sync_api import expect

    context = signed_in(browser, live)
    page = open_page(context, live.page("big", KEY, debounce=60_000))
    page.fill("textarea", "y" * 100_000)
    page.evaluate("() => window.saver.save()")
    assert live.stored("big", KEY)["version"] == 1
    page.check("[name=b]")
    page.close()
    eventually(lambda: len(live.writes()) == 2)
    exit_save = live.writes()[-1]
    assert (exit_save.method, exit_save.status, exit_save.if_match) == ("PATCH", 200, '"1"')
    context.close()

    fresh = signed_in(browser, live)
    page = open_page(fresh, live.page("big", KEY))
    expect(page.locator("[name=b]")).to_be_checked()
    assert page.evaluate("document.querySelector('textarea').value.length") == 100_000
    fresh.close()


def test_keep_mine_then_later_answers_are_saved(browser: Any, live: LiveServer) -> None:
    """After a conflict answered "Keep mine", the tab saves its state and every later change."""
    context = signed_in(browser, live)
    first = open_page(context, live.page("note", KEY))
    first.check("[name=a]")
    first.wait_for_function("() => window.saver.version === 1")
    second = open_page(context, live.page("note", KEY))
    first.check("[name=b]")
    first.wait_for_function("() => window.saver.version === 2")

    second.check("[name=c]")  # based on version 1
    second.locator(DIALOG).get_by_role("button", name="Keep mine").click()
    second.wait_for_function(f"() => window.saver.version === 3 && ({SETTLED})()")
    second.fill("textarea", "and later")
    second.wait_for_function(f"() => window.saver.version === 4 && ({SETTLED})()")
    assert live.stored("note", KEY)["payload"] == {
        "a": True,
        "b": False,
        "c": True,
        "notes": "and later",
    }
    context.close()


def test_answers_given_before_the_draft_loads_never_replace_it(
    browser: Any, live: LiveServer
) -> None:
    """While the first GET is slow, nothing is sent; then the user chooses, nothing is lost."""
    from playwright.sync_api import expect

    saved = {"a": True, "b": False, "c": False, "notes": "from another device"}
    live.put("note", KEY, saved)
    context = signed_in(browser, live)
    held: list[Any] = []

    def delay_first_get(route: Any) -> None:
        if route.request.method == "GET" and not held:
            held.append(route)
        else:
            route.continue_()

    context.route(is_draft, delay_first_get)
    page = open_page(context, live.page("note", KEY), loaded=False)
    wait_until(page, lambda: bool(held))
    page.check("[name=b]")
    page.evaluate("() => { window.saver.save(); }")  # waits for the draft instead of sending
    held[0].continue_()
    expect(page.locator(DIALOG)).to_be_visible()
    assert live.writes() == []
    stored = live.stored("note", KEY)
    assert (stored["version"], stored["payload"]) == (1, saved)

    page.locator(DIALOG).get_by_role("button", name="Start fresh").click()
    expect(page.locator("[name=a]")).to_be_checked()
    expect(page.locator("[name=b]")).not_to_be_checked()
    page.check("[name=c]")
    page.wait_for_function(f"() => window.saver.version === 2 && ({SETTLED})()")
    assert live.stored("note", KEY)["payload"] == {**saved, "c": True}
    assert [w.if_match for w in live.writes()] == ['"1"']
    context.close()


def test_a_failed_first_load_is_retried_before_anything_is_saved(
    browser: Any, live: LiveServer
) -> None:
    """A first GET lost to the network is retried; saves then build on the draft it returns."""
    from playwright.sync_api import expect

    live.put("note", KEY, {"a": True, "b": False, "c": False, "notes": ""})
    context = signed_in(browser, live)
    failed: list[str] = []

    def fail_first_get(route: Any) -> None:
        if route.request.method == "GET" and not failed:
            failed.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route(is_draft, fail_first_get)
    page = open_page(context, live.page("note", KEY))
    assert failed
    expect(page.locator("[name=a]")).to_be_checked()
    page.check("[name=b]")
    page.wait_for_function(f"() => window.saver.version === 2 && ({SETTLED})()")
    assert live.stored("note", KEY)["payload"]["a"] is True
    assert [w.if_match for w in live.writes()] == ['"1"']
    context.close()


@pytest.mark.parametrize("first", ["exit-save", "regular-save"])
def test_an_exit_save_overlapping_a_save_never_conflicts(
    browser: Any, live: LiveServer, first: str
) -> None:
    """Hidden mid-save: the keepalive flush and the save land in either order, silently."""
    live.put("note", KEY, {"a": False, "b": False, "c": False, "notes": ""})
    context = signed_in(browser, live)
    held: list[Any] = []

    def hold_two_writes(route: Any) -> None:
        if route.request.method == "PUT" and len(held) < 2:
            held.append(route)
        else:
            route.continue_()

    context.route(is_draft, hold_two_writes)
    page = open_page(context, live.page("note", KEY))
    page.check("[name=a]")
    wait_until(page, lambda: len(held) == 1)  # the regular save, in flight
    page.check("[name=b]")
    page.evaluate(HIDE)  # a tab switch: flush at once, keepalive
    wait_until(page, lambda: len(held) == 2)
    regular, exit_save = held
    for count, route in enumerate((exit_save, regular) if first == "exit-save" else held, 1):
        route.continue_()
        wait_until(page, lambda count=count: len(live.writes()) >= count)
    page.wait_for_function(SETTLED)
    page.check("[name=c]")
    page.wait_for_function(SETTLED)
    never_conflicted(page)
    assert live.stored("note", KEY)["payload"] == {"a": True, "b": True, "c": True, "notes": ""}
    context.close()


def test_a_save_whose_answer_was_lost_does_not_conflict_with_the_next(
    browser: Any, live: LiveServer
) -> None:
    """A save that landed but whose response was lost, then a new change: no self-conflict."""
    live.put("note", KEY, {"a": False, "b": False, "c": False, "notes": ""})
    context = signed_in(browser, live)
    lost: list[int] = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method == "PUT" and not lost:
            lost.append(route.fetch().status)  # the server applies it; the page never hears
            route.abort()
        else:
            route.continue_()

    context.route(is_draft, lose_first_answer)
    page = open_page(context, live.page("note", KEY))
    page.check("[name=a]")
    wait_until(page, lambda: lost == [200])
    page.check("[name=b]")  # a new state, a new key, still based on version 1
    page.wait_for_function(SETTLED)
    never_conflicted(page)
    assert live.stored("note", KEY)["payload"] == {"a": True, "b": True, "c": False, "notes": ""}
    assert all(write.status == 200 for write in live.writes())
    context.close()
