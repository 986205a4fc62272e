"""Answer with something useful when the call failed: a static value, a computed one, or the last
good result.

A fallback sits outermost in a policy, so it also covers ``CircuitOpenError`` and
``RetryExhaustedError``: while the breaker is open, users get the fallback at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar, cast

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ._matching import ExceptionSpec, exception_matcher

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_MISSING: Any = object()


class Fallback:
    """Return ``value``, or ``function(exc, *args, **kwargs)``, when the call raises ``on``.

    ``function`` may be ``async def`` when used on async calls.

    >>> Fallback(value=0, on=ZeroDivisionError).call(lambda: 1 / 0)
    0
    >>> Fallback(function=lambda exc, x: f"no {x}: {type(exc).__name__}").call(int, "a")
    'no a: ValueError'
    """

    __slots__ = ("_function", "_matches", "_value")

    def __init__(
        self,
        *,
        value: Any = _MISSING,
        function: Callable[..., Any] | None = None,
        on: ExceptionSpec = Exception,
    ) -> None:
        if (value is _MISSING) == (function is None):
            raise ValueError("give exactly one of value= or function=")
        self._value = value
        self._function = function
        self._matches = exception_matcher(on)

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn``; on a matching exception return the fallback instead."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            return cast(R, self.answer(exc, args, kwargs))

    def answer(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The fallback for ``exc`` raised by a call with ``args``; re-raise when not ``on``."""
        if not self._matches(exc):
            raise exc
        if self._function is None:
            return self._value
        return self._function(exc, *args, **kwargs)

    def in_chain(self, depth: int) -> ChainedFallback:
        """This fallback as the outer layer of a policy with ``depth`` layers inside it.

        Layers pass the inner layers ahead of the user's arguments; the fallback function must
        see only the user's arguments, so the first ``depth`` positional ones are dropped.
        """
        return ChainedFallback(self, depth)

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``fn``; on a matching exception return (or await) the fallback instead."""
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if not self._matches(exc):
                raise
            if self._function is None:
                return cast(R, self._value)
            result = self._function(exc, *args, **kwargs)
            return cast(R, await result if inspect.isawaitable(result) else result)


class ChainedFallback:
    """A ``Fallback`` inside a policy's layer chain; see ``Fallback.in_chain``."""

    __slots__ = ("_depth", "fallback")

    def __init__(self, fallback: Fallback, depth: int) -> None:
        self.fallback = fallback
        self._depth = depth

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            return cast(R, self.fallback.answer(exc, args[self._depth :], kwargs))

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            result = self.fallback.answer(exc, args[self._depth :], kwargs)
            return cast(R, await result if inspect.isawaitable(result) else result)


class LastGoodValue(Generic[T]):
    """Remember the last successful result and serve it when the call fails.

    Use it for data that may be a little stale rather than missing (prices, feature flags, a
    config document). ``max_age`` seconds bounds the staleness; with nothing remembered (or too
    old), ``default`` is returned if given, else the original exception propagates.

    >>> last = LastGoodValue[int](on=ConnectionError)
    >>> last.call(lambda: 42)
    42
    >>> def down() -> int:
    ...     raise ConnectionError("down")
    >>> last.call(down)
    42
    """

    __slots__ = ("_clock", "_default", "_matches", "_saved_at", "_value", "max_age")

    def __init__(
        self,
        *,
        on: ExceptionSpec = Exception,
        max_age: float | None = None,
        default: T = _MISSING,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._matches = exception_matcher(on)
        self.max_age = max_age
        self._default = default
        self._clock = clock
        self._value: T = _MISSING
        self._saved_at = 0.0

    @property
    def value(self) -> T | None:
        """The remembered result, or ``None`` when there is none yet."""
        return None if self._value is _MISSING else self._value

    def remember(self, value: T) -> None:
        """Store ``value`` as the last good result (``call`` does this on every success)."""
        self._value = value
        if self.max_age is not None:
            self._saved_at = self._clock.monotonic()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn``; remember its result, or fall back to the remembered one."""
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return self._recall(exc)
        self.remember(result)
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """The ``async`` twin of ``call``."""
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            return self._recall(exc)
        self.remember(result)
        return result

    def _recall(self, exc: Exception) -> T:
        if not self._matches(exc):
            raise exc
        value = self._value
        fresh = self.max_age is None or self._clock.monotonic() - self._saved_at <= self.max_age
        if value is not _MISSING and fresh:
            return value
        if self._default is not _MISSING:
            return self._default
        raise exc
