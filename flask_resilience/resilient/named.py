"""``resilient("payments", ...)``: a named policy bound late to the app that runs it.

Decorators run at import time, before any app exists, so a named policy resolves its settings
(keyword arguments, ``RESILIENCE_POLICIES``, the ``RESILIENCE_ENV`` preset) and its shared state
(Redis or local breakers, stats) at call time from the current app, and from a process-wide
runtime configured by ``RESILIENCE_*`` environment variables when no app context is pushed
(RQ workers, scripts). The resolved ``Policy`` is cached, so a call costs a context lookup and
one dictionary lookup on top of the policy itself.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, ParamSpec, TypeVar, Unpack, cast, overload

from flask.globals import _cv_app

from .._foundation.config_reader import ConfigReader
from .._foundation.presets import ENVIRONMENTS, resolve_preset
from .config import HEALING_ENABLED, make_healer, preset_defaults, read_policies
from .policy import (
    Caller,
    Policy,
    PolicyOptions,
    PolicyRegistry,
    _is_coroutine_function,
    build_policy,
)
from .runtime import PolicyRuntime, options_key

P = ParamSpec("P")
R = TypeVar("R")
EXTENSION_KEY = "resilience"
CAPABILITY = "resilient"
RUNTIME_KEY = "resilience.policies"
"""Where the runtime also sits in ``app.extensions``: one lookup fewer on every call."""


class NamedPolicy:
    """A policy known by name; see the module docstring for how it finds its settings.

    >>> @NamedPolicy("inventory", {"max_attempts": 2})
    ... def stock(sku: str) -> int:
    ...     return 3
    >>> stock("A-1")
    3
    """

    __slots__ = ("key", "name", "options")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name = name
        self.options = options
        self.key: Hashable = options_key(name, options)

    def resolve(self) -> Policy:
        """The concrete policy for the current app (or the process runtime)."""
        return current_runtime().policy(self.name, self.key, self.options)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        resolve = self.resolve
        if _is_coroutine_function(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                coroutine_fn = cast(Callable[..., Awaitable[Any]], fn)
                return await resolve().call_async(coroutine_fn, *args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        # One-entry cache of (runtime, head layer, inner layers): with one app per process the
        # call path is a context lookup and an identity check, not a settings lookup. The tuple
        # is replaced whole, so threads never see a runtime paired with another one's layers.
        bound: tuple[Any, Any, tuple[Any, ...]] = (None, None, ())
        key, name, options = self.key, self.name, self.options

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal bound
            ctx = _cv_app.get(None)  # current_runtime(), inlined: this runs on every call
            runtime = ctx.app.extensions.get(RUNTIME_KEY) if ctx is not None else None
            if runtime is None:
                runtime = process_runtime()
            cached_runtime, head, rest = bound
            if runtime is not cached_runtime:
                layers = runtime.policy(name, key, options)._sync
                if not layers:
                    return fn(*args, **kwargs)
                head, rest = layers[0], (*layers[1:], fn)
                bound = (runtime, head, rest)
            return head(*rest, *args, **kwargs)

        return cast(Callable[P, R], wrapper)

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` through the policy; an ``async def`` gives an awaitable."""
        return self.resolve().call(fn, *args, **kwargs)

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return await self.resolve().call_async(fn, *args, **kwargs)

    def __enter__(self) -> Caller:
        return self.resolve().call

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def __aenter__(self) -> Caller:
        return self.resolve().call

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"NamedPolicy({self.name!r}, {self.options!r})"


def current_runtime() -> PolicyRuntime:
    """The runtime of the app whose context is pushed, else the process runtime."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        runtime = ctx.app.extensions.get(RUNTIME_KEY)
        if runtime is not None:
            return cast(PolicyRuntime, runtime)
    return process_runtime()


_process_lock = threading.Lock()
_process: list[PolicyRuntime] = []


def process_runtime() -> PolicyRuntime:
    """The runtime for code outside any app context, configured from ``RESILIENCE_*`` env vars."""
    if _process:
        return _process[0]
    with _process_lock:
        if not _process:
            reader = ConfigReader({}, os.environ)
            env = reader.choice("RESILIENCE_ENV", "development", ENVIRONMENTS)
            preset = resolve_preset(env, reader)
            healing = reader.boolean(HEALING_ENABLED, True)
            _process.append(
                PolicyRuntime(
                    defaults=preset_defaults(preset),
                    policies=read_policies(reader),
                    healer=make_healer(preset) if healing else None,
                )
            )
    return _process[0]


def reset_process_runtime() -> None:
    """Forget the process runtime so the next call re-reads the environment (tests)."""
    with _process_lock:
        _process.clear()


@overload
def resilient(
    name: str, /, *, registry: PolicyRegistry, **settings: Unpack[PolicyOptions]
) -> Policy: ...


@overload
def resilient(name: str, /, **settings: Unpack[PolicyOptions]) -> NamedPolicy: ...


def resilient(
    name: str, /, *, registry: PolicyRegistry | None = None, **settings: Unpack[PolicyOptions]
) -> Policy | NamedPolicy:
    """The policy called ``name``: a decorator, a context manager (``with ... as call``) and a
    caller (``.call(fn, *args)``), for plain and ``async def`` functions alike.

    Without ``registry`` the policy is named and configured by the app (see the module
    docstring); with an explicit ``registry`` it is built at once from ``settings`` alone, for
    code that manages its own breakers.

    >>> @resilient("recommender", max_attempts=2, timeout=0.5)
    ... def recommendations(user_id: int) -> list[int]:
    ...     return [1, 2, 3]
    >>> recommendations(7)
    [1, 2, 3]
    """
    if registry is not None:
        return build_policy(name, registry=registry, **settings)
    return NamedPolicy(name, dict(settings))
