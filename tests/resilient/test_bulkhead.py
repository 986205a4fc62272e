"""Bulkhead: a cap on calls in flight, for sync and async callers."""

from __future__ import annotations

import asyncio

import pytest

from flask_resilience.errors import BulkheadFullError
from flask_resilience.resilient import Bulkhead


def test_sync_bulkhead_rejects_when_full() -> None:
    """With every slot taken, a new call raises BulkheadFullError with its fields."""
    bulkhead = Bulkhead(name="search", max_concurrent=1)

    def nested() -> None:
        with pytest.raises(BulkheadFullError) as caught:
            bulkhead.call(len, "x")
        error = caught.value
        assert (error.policy, error.max_concurrent, error.waited_seconds) == ("search", 1, 0.0)

    bulkhead.call(nested)


def test_sync_slot_is_released_after_an_exception() -> None:
    """A failing call gives its slot back."""
    bulkhead = Bulkhead(max_concurrent=1)
    with pytest.raises(ZeroDivisionError):
        bulkhead.call(lambda: 1 / 0)
    assert bulkhead.call(len, "ab") == 2


def test_sync_wait_gives_up_after_max_wait() -> None:
    """A caller waits up to max_wait for a slot, then is rejected."""
    bulkhead = Bulkhead(max_concurrent=1, max_wait=0.01)

    def nested() -> None:
        with pytest.raises(BulkheadFullError) as caught:
            bulkhead.call(len, "x")
        assert caught.value.waited_seconds == 0.01

    bulkhead.call(nested)


def test_async_bulkhead_rejects_when_full() -> None:
    """An async call finding no free slot raises BulkheadFullError."""
    bulkhead = Bulkhead(name="feed", max_concurrent=1)

    async def inner() -> str:
        return "never"

    async def outer() -> None:
        with pytest.raises(BulkheadFullError):
            await bulkhead.call_async(inner)

    asyncio.run(bulkhead.call_async(outer))


def test_async_waiter_gets_a_freed_slot() -> None:
    """An async caller with max_wait gets the slot another task releases."""
    bulkhead = Bulkhead(max_concurrent=1, max_wait=5.0)
    order: list[str] = []

    async def hold(release: asyncio.Event) -> None:
        order.append("first in")
        await release.wait()

    async def second() -> None:
        order.append("second in")

    async def scenario() -> None:
        release = asyncio.Event()
        first = asyncio.create_task(bulkhead.call_async(hold, release))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(bulkhead.call_async(second))
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, waiter)

    asyncio.run(scenario())
    assert order == ["first in", "second in"]


def test_async_wait_times_out() -> None:
    """An async caller that waits longer than max_wait is rejected."""
    bulkhead = Bulkhead(max_concurrent=1, max_wait=0.01)

    async def inner() -> None:
        return None

    async def outer() -> None:
        with pytest.raises(BulkheadFullError):
            await bulkhead.call_async(inner)

    asyncio.run(bulkhead.call_async(outer))


def test_bulkhead_works_across_event_loops() -> None:
    """Each event loop gets its own semaphore, so separate asyncio.run calls work."""
    bulkhead = Bulkhead(max_concurrent=1)

    async def fn() -> int:
        return 1

    assert [asyncio.run(bulkhead.call_async(fn)) for _ in range(3)] == [1, 1, 1]


@pytest.mark.parametrize("kwargs", [{"max_concurrent": 0}, {"max_wait": -1}, {"max_wait": 7200}])
def test_limits_are_bounded(kwargs: dict[str, float]) -> None:
    """A zero capacity or an unbounded wait is refused."""
    with pytest.raises(ValueError):
        Bulkhead(**kwargs)  # type: ignore[arg-type]
