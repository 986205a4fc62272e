"""Timeout: sync calls in a bounded daemon pool, async calls cancelled by asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from flask_resilience.errors import CallTimeoutError
from flask_resilience.resilient import ThreadBudget, Timeout

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_sync_call_returns_its_result() -> None:
    """A call that finishes in time returns its value and keeps its arguments."""
    assert Timeout(seconds=5).call(divmod, 7, 2) == (3, 1)
    assert Timeout(seconds=5).call(int, "ff", base=16) == 255


def test_sync_call_times_out_and_its_thread_is_bounded() -> None:
    """An overrunning call raises CallTimeoutError; queued work that timed out never runs."""
    threads = ThreadBudget(max_threads=1)
    timeout = Timeout(name="reports", seconds=0.02, threads=threads)
    release = threading.Event()
    ran: list[str] = []
    try:
        with pytest.raises(CallTimeoutError) as caught:
            timeout.call(release.wait, 5)
        assert (caught.value.policy, caught.value.timeout_seconds) == ("reports", 0.02)
        with pytest.raises(CallTimeoutError):
            timeout.call(ran.append, "queued")  # the only worker is still busy
    finally:
        release.set()
    assert threads.threads == 1
    assert timeout.call(len, "abc") == 3
    assert ran == []


def test_sync_call_exceptions_propagate() -> None:
    """The function's own exceptions, TimeoutError included, reach the caller unchanged."""

    def own_timeout() -> None:
        raise TimeoutError("socket timeout")

    with pytest.raises(ZeroDivisionError):
        Timeout(seconds=5).call(lambda: 1 / 0)
    with pytest.raises(TimeoutError, match="socket timeout") as caught:
        Timeout(seconds=5).call(own_timeout)
    assert not isinstance(caught.value, CallTimeoutError)


def test_sync_call_sees_the_callers_context_variables() -> None:
    """The worker thread runs in a copy of the caller's context (Flask's app context too)."""
    token = request_id.set("req-42")
    try:
        assert Timeout(seconds=5).call(request_id.get) == "req-42"
    finally:
        request_id.reset(token)


def test_async_call_is_cancelled_after_the_timeout() -> None:
    """An async call past its deadline is cancelled and raises CallTimeoutError."""
    cancelled: list[bool] = []

    async def hang() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(CallTimeoutError):
        asyncio.run(Timeout(name="feed", seconds=0.01).call_async(hang))
    assert cancelled == [True]


def test_async_own_timeout_error_is_not_converted() -> None:
    """A TimeoutError the coroutine raises itself is not mistaken for ours."""

    async def fn() -> None:
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError, match="upstream") as caught:
        asyncio.run(Timeout(seconds=5).call_async(fn))
    assert not isinstance(caught.value, CallTimeoutError)


@pytest.mark.parametrize("seconds", [0, -1, 86_400])
def test_timeout_must_be_bounded(seconds: float) -> None:
    """A zero, negative or day-long timeout is refused."""
    with pytest.raises(ValueError):
        Timeout(seconds=seconds)
