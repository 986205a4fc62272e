"""Cap how many calls to one dependency run at once, so one slow dependency cannot take every
worker thread (or every task) of the app with it.

Sync calls share a ``threading.BoundedSemaphore``; async calls an ``asyncio.Semaphore`` per event
loop (an asyncio semaphore belongs to one loop). The two limits are separate: a process that
mixes sync and async calls of one policy may run up to ``max_concurrent`` of each. A call that
finds no free slot waits at most ``max_wait`` seconds, then gets ``BulkheadFullError``.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from ..errors import BulkheadFullError

P = ParamSpec("P")
R = TypeVar("R")


class Bulkhead:
    """At most ``max_concurrent`` calls in flight; wait up to ``max_wait`` seconds for a slot.

    >>> Bulkhead(name="search", max_concurrent=4).call(max, 1, 2)
    2
    """

    __slots__ = ("_async", "_lock", "_sync", "max_concurrent", "max_wait", "name")

    def __init__(
        self, *, name: str = "anonymous", max_concurrent: int = 10, max_wait: float = 0.0
    ) -> None:
        if not 1 <= max_concurrent <= 100_000:
            raise ValueError(f"max_concurrent must be within [1, 100000], got {max_concurrent!r}")
        if not 0 <= max_wait <= 3600:
            raise ValueError(f"max_wait must be within [0, 3600] seconds, got {max_wait!r}")
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_wait = max_wait
        self._sync = threading.BoundedSemaphore(max_concurrent)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` in a free slot, or raise ``BulkheadFullError``."""
        if not self._sync.acquire(timeout=self.max_wait or None, blocking=self.max_wait > 0):
            raise BulkheadFullError(self.name, self.max_concurrent, self.max_wait)
        try:
            return fn(*args, **kwargs)
        finally:
            self._sync.release()

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``fn`` in a free slot of this event loop, or raise ``BulkheadFullError``."""
        semaphore = self._semaphore()
        if semaphore.locked():
            if self.max_wait == 0:
                raise BulkheadFullError(self.name, self.max_concurrent, 0.0)
            try:
                async with asyncio.timeout(self.max_wait):
                    await semaphore.acquire()
            except TimeoutError:
                raise BulkheadFullError(self.name, self.max_concurrent, self.max_wait) from None
        else:
            await semaphore.acquire()
        try:
            return await fn(*args, **kwargs)
        finally:
            semaphore.release()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._async.get(loop)
        if semaphore is None:
            with self._lock:
                semaphore = self._async.setdefault(loop, asyncio.Semaphore(self.max_concurrent))
        return semaphore

    def __repr__(self) -> str:
        return f"Bulkhead(name={self.name!r}, max_concurrent={self.max_concurrent})"
