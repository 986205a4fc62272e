"""Give up waiting for a call after ``seconds``.

Async calls are cancelled with ``asyncio.timeout``, which really stops them. A sync call runs in a
worker thread while the caller waits on a future; when time is up the caller gets
``CallTimeoutError`` but Python cannot kill a thread, so the call keeps running until it returns
on its own (give the client library its own socket timeout too). To keep abandoned calls from
piling up, workers come from one bounded pool of daemon threads (``ThreadBudget``): at most
``max_threads`` ever exist, a call still queued when its time runs out is dropped without
running, and daemon threads never block interpreter exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, ParamSpec, TypeVar

from ..errors import CallTimeoutError

P = ParamSpec("P")
R = TypeVar("R")

_Work = tuple[Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ThreadBudget:
    """A small pool of daemon worker threads, started on demand, never more than ``max_threads``.

    >>> budget = ThreadBudget(max_threads=2)
    >>> budget.submit(max, (1, 2)).result()
    2
    """

    def __init__(self, *, max_threads: int = 16) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be >= 1, got {max_threads!r}")
        self.max_threads = max_threads
        self._queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # workers blocked on the queue
        self._queued = 0  # submitted work no worker has taken yet

    def submit(
        self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
    ) -> Future[R]:
        """Queue ``fn(*args, **kwargs)`` in a copy of the caller's context (Flask's, too)."""
        future: Future[R] = Future()
        context = contextvars.copy_context()
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and self._threads < self.max_threads:
                self._threads += 1
                threading.Thread(target=self._work, name="resilience-timeout", daemon=True).start()
        self._queue.put((future, context, fn, args, kwargs or {}))
        return future

    @property
    def threads(self) -> int:
        """Worker threads started so far (they stay for the life of the process)."""
        return self._threads

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, context, fn, args, kwargs = self._queue.get()
            with self._lock:
                self._idle -= 1
                self._queued -= 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(context.run(fn, *args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            del future, context, fn, args, kwargs  # do not keep the last result alive


DEFAULT_THREADS = ThreadBudget()
"""The pool shared by every ``Timeout`` that is not given its own."""


class Timeout:
    """Raise ``CallTimeoutError`` when a call takes longer than ``seconds``.

    >>> Timeout(name="slow-api", seconds=1.0).call(len, "abc")
    3
    """

    __slots__ = ("_threads", "name", "seconds")

    def __init__(
        self, *, name: str = "anonymous", seconds: float = 10.0, threads: ThreadBudget | None = None
    ) -> None:
        if not 0 < seconds < 86_400:
            raise ValueError(f"seconds must be within (0, 86400), got {seconds!r}")
        self.name = name
        self.seconds = seconds
        self._threads = threads if threads is not None else DEFAULT_THREADS

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` in a pool thread and wait at most ``seconds`` for it."""
        future = self._threads.submit(fn, args, kwargs)
        try:
            return future.result(self.seconds)
        except FutureTimeoutError:
            if future.done() and not future.cancelled():
                return future.result()  # fn raised TimeoutError itself, or finished just now
            future.cancel()  # still queued: it will never start
            raise CallTimeoutError(self.name, self.seconds) from None

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``fn`` and cancel it after ``seconds``."""
        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                return await fn(*args, **kwargs)
        except TimeoutError:
            if not deadline.expired():
                raise  # fn's own TimeoutError, not ours
            raise CallTimeoutError(self.name, self.seconds) from None

    def __repr__(self) -> str:
        return f"Timeout(name={self.name!r}, seconds={self.seconds!r})"
