"""Fallback values, fallback functions and the last good value."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.resilient import Fallback, LastGoodValue


def down(*args: object, **kwargs: object) -> Any:
    raise ConnectionError("down")


def test_static_value_replaces_a_matching_failure() -> None:
    """A matching exception is answered with the static value."""
    assert Fallback(value=0, on=ConnectionError).call(down) == 0


def test_other_exceptions_propagate() -> None:
    """Exceptions outside on= are not swallowed."""
    with pytest.raises(ConnectionError):
        Fallback(value=0, on=KeyError).call(down)


def test_function_receives_the_exception_and_arguments() -> None:
    """A fallback function is called with the exception and the call's arguments."""
    fallback = Fallback(function=lambda exc, sku, *, region: f"{sku}@{region}:{exc}")
    assert fallback.call(down, "A-1", region="eu") == "A-1@eu:down"


def test_success_is_returned_untouched() -> None:
    """Without a failure the function's own result comes back."""
    assert Fallback(value=0).call(len, "abc") == 3


def test_async_fallback_function_is_awaited() -> None:
    """On the async path an async fallback function is awaited."""

    async def failing() -> int:
        raise ConnectionError("down")

    async def cached(exc: BaseException) -> int:
        return 99

    assert asyncio.run(Fallback(function=cached).call_async(failing)) == 99
    assert asyncio.run(Fallback(value=1).call_async(failing)) == 1


def test_exactly_one_kind_of_fallback_is_required() -> None:
    """Giving neither or both of value= and function= is refused."""
    with pytest.raises(ValueError):
        Fallback()
    with pytest.raises(ValueError):
        Fallback(value=1, function=lambda exc: 2)


def test_last_good_value_serves_the_previous_success() -> None:
    """After a success, a failure returns the remembered result."""
    last = LastGoodValue[int](on=ConnectionError)
    with pytest.raises(ConnectionError):
        last.call(down)  # nothing remembered yet
    assert last.call(lambda: 5) == 5
    assert last.call(down) == 5
    assert last.value == 5


def test_last_good_value_expires_after_max_age(clock: ManualClock) -> None:
    """A remembered value older than max_age is not served; default is used if given."""
    last = LastGoodValue[int](max_age=10.0, clock=clock)
    last.call(lambda: 5)
    clock.advance(11.0)
    with pytest.raises(ConnectionError):
        last.call(down)
    with_default = LastGoodValue[int](max_age=10.0, default=-1, clock=clock)
    assert with_default.call(down) == -1


def test_last_good_value_async() -> None:
    """The async path remembers and serves results too."""
    last = LastGoodValue[str]()

    async def good() -> str:
        return "fresh"

    async def bad() -> str:
        raise ConnectionError("down")

    assert asyncio.run(last.call_async(good)) == "fresh"
    assert asyncio.run(last.call_async(bad)) == "fresh"
