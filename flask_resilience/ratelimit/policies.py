"""Named limit policies and the decorators that attach them to views, before any app exists.

A decorator only records its :class:`Policy` on the view; each app resolves the policy against its
own configuration and its own Flask-Limiter at the first request (app-factory style, like
``limiter.limit``), so one module of views serves any number of apps.

>>> from flask_resilience.ratelimit import limits, limit
>>> @limits.login
... def login_view(): ...
>>> @limit("20/minute", key="ip")
... def search(): ...
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import current_app

from ..state import EXTENSION_KEY
from .config import (
    RATELIMIT_AUTOSAVE,
    RATELIMIT_LISTING,
    RATELIMIT_LOGIN,
    RATELIMIT_SUBMIT,
    RATELIMIT_UPLOAD,
    RateLimitConfig,
    parse_limit,
)
from .keys import KeyFunc, resolve_key

CAPABILITY = "ratelimit"
POLICIES_ATTR = "_resilience_ratelimit_policies"
VIEW_ATTR = "_resilience_ratelimit_view"
EXEMPT_ATTR = "_resilience_ratelimit_exempt"
FailMode = Literal["open", "closed"]
F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Policy:
    """One named limit: what it allows, whom it counts, and what happens when Redis is down.

    ``fail="closed"`` keeps enforcing the limit from process memory during a Redis outage
    (divided by ``RESILIENCE_RATELIMIT_REPLICAS``); ``fail="open"`` stops limiting until Redis
    returns, for limits where availability matters more than the budget.
    """

    name: str
    limit: str
    key: KeyFunc
    fail: FailMode = "closed"
    config_key: str | None = None
    methods: tuple[str, ...] | None = None

    def limit_for(self, config: RateLimitConfig) -> str:
        """This policy's limit string in an app: the app's override key, else the default."""
        if self.config_key is None:
            return self.limit
        return config.presets.get(self.name, self.limit)


LOGIN = Policy("login", "5/15minutes", resolve_key("login"), "closed", RATELIMIT_LOGIN, ("POST",))
UPLOAD = Policy("upload", "10/hour", resolve_key("user"), "closed", RATELIMIT_UPLOAD)
LISTING = Policy("listing", "60/minute", resolve_key("user"), "open", RATELIMIT_LISTING)
AUTOSAVE = Policy("autosave", "120/minute", resolve_key("user"), "open", RATELIMIT_AUTOSAVE)
SUBMIT = Policy("submit", "1/5minutes", resolve_key("resource"), "closed", RATELIMIT_SUBMIT)
PRESETS = {policy.name: policy for policy in (LOGIN, UPLOAD, LISTING, AUTOSAVE, SUBMIT)}


class LimitDecorator:
    """Applies one policy to a view; stacking several keeps one wrapper with all of them."""

    __slots__ = ("policy",)

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, fn: F) -> F:
        policies: list[Policy] | None = getattr(fn, POLICIES_ATTR, None)
        if policies is not None:
            policies.append(self.policy)
            return fn

        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any) -> Any:
            return _dispatch(view, args, kwargs)

        setattr(view, POLICIES_ATTR, [self.policy])
        setattr(view, VIEW_ATTR, fn)
        return view  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<limit {self.policy.name} {self.policy.limit}>"


def _dispatch(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    state = current_app.extensions.get(EXTENSION_KEY)
    runtime = state.capabilities.get(CAPABILITY) if state is not None else None
    if runtime is None:  # the app has no extension: the view runs unlimited
        return current_app.ensure_sync(getattr(view, VIEW_ATTR))(*args, **kwargs)
    return runtime.call_view(view, args, kwargs)


class Presets:
    """The named presets, each overridable per app by its config key.

    ``login``    5 per 15 minutes per client address and submitted user name (POST only)
    ``upload``   10 per hour per user
    ``listing``  60 per minute per user (fails open)
    ``autosave`` 120 per minute per user (fails open)
    ``submit``   1 per 5 minutes per user and resource (the view arguments)
    """

    login = LimitDecorator(LOGIN)
    upload = LimitDecorator(UPLOAD)
    listing = LimitDecorator(LISTING)
    autosave = LimitDecorator(AUTOSAVE)
    submit = LimitDecorator(SUBMIT)


limits = Presets()


def limit(
    value: str,
    *,
    key: str | KeyFunc = "user",
    name: str | None = None,
    fail: FailMode = "closed",
    methods: Iterable[str] | None = None,
) -> LimitDecorator:
    """A limit for any view: ``@limit("20/minute", key="ip")``.

    ``key`` is ``"user"`` (the user, else the client address), ``"ip"``, ``"login"``,
    ``"resource"`` or a callable returning a string. ``name`` is the policy name in the
    ``RateLimit`` headers, the 429 body and the metrics (default: derived from ``value``).
    """
    parse_limit(value)
    policy_name = name or re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if not _NAME.match(policy_name):
        raise ValueError(f"policy name {policy_name!r} must match {_NAME.pattern}")
    if fail not in ("open", "closed"):
        raise ValueError(f"fail must be 'open' or 'closed', not {fail!r}")
    method_names = tuple(m.upper() for m in methods) if methods is not None else None
    return LimitDecorator(Policy(policy_name, value, resolve_key(key), fail, None, method_names))


def exempt(fn: F) -> F:
    """Exempt a view from every limit, the default one included: ``@exempt``."""
    setattr(fn, EXEMPT_ATTR, True)
    return fn
