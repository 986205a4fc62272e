"""Named limit policies and the decorators that attach them to views, before any app exists.

A decorator only records its :class:`Policy` on the view; each app resolves the policy against its
own configuration and its own Flask-Limiter at the first request (app-factory style, like
``limiter.limit``), so one module of views serves any number of apps.

>>> from flask_resilience.ratelimit import limits, limit
>>> @limits.login
... def login_view(): ...
>>> @limit("20/minute", key="ip")
... def search(): ...
>>> @limits.submit.keyed(lambda: 7)  # per user and quiz 7, counted only when it succeeds
... def submit_attempt(attempt_id): ...
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Response, current_app

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
from .keys import KeyFunc, UserAndResource, resolve_key, user_and_resource, user_or_address

CAPABILITY = "ratelimit"
POLICIES_ATTR = "_resilience_ratelimit_policies"
VIEW_ATTR = "_resilience_ratelimit_view"
EXEMPT_ATTR = "_resilience_ratelimit_exempt"
FailMode = Literal["open", "closed"]
F = TypeVar("F", bound=Callable[..., Any])
DeductWhen = Callable[[Response], bool]
"""Receives the view's response; the request counts against the limit only when it says True."""
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
    deduct_when: DeductWhen | None = None
    """Count a request only when this returns True for its response (after the view ran)."""
    exempt_when: Callable[[], bool] | None = None

    def limit_for(self, config: RateLimitConfig) -> str:
        """This policy's limit string in an app: the app's override key, else the default."""
        if self.config_key is None:
            return self.limit
        return config.presets.get(self.name, self.limit)


def succeeded(response: Response) -> bool:
    """Count only 2xx responses: a refused (409, 422, 404) or denied request spends nothing."""
    return 200 <= response.status_code < 300


LOGIN = Policy("login", "5/15minutes", resolve_key("login"), "closed", RATELIMIT_LOGIN, ("POST",))
UPLOAD = Policy("upload", "10/hour", resolve_key("user"), "closed", RATELIMIT_UPLOAD)
LISTING = Policy("listing", "60/minute", resolve_key("user"), "open", RATELIMIT_LISTING)
AUTOSAVE = Policy("autosave", "120/minute", resolve_key("user"), "open", RATELIMIT_AUTOSAVE)
SUBMIT = Policy(
    "submit",
    "1/5minutes",
    resolve_key("resource"),
    "closed",
    RATELIMIT_SUBMIT,
    deduct_when=succeeded,
)
PRESETS = {policy.name: policy for policy in (LOGIN, UPLOAD, LISTING, AUTOSAVE, SUBMIT)}


class _Keep(enum.Enum):
    KEEP = "keep"


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
        view = _limited_view(fn)
        setattr(view, POLICIES_ATTR, [self.policy])
        setattr(view, VIEW_ATTR, fn)
        return view  # type: ignore[return-value]

    def keyed(
        self,
        resource: Callable[[], object],
        *,
        deduct_when: DeductWhen | _Keep | None = _Keep.KEEP,
    ) -> LimitDecorator:
        """This policy, counted per user (else address) and the id ``resource()`` returns.

        The limit value, its config key (``RESILIENCE_RATELIMIT_SUBMIT`` for ``limits.submit``),
        name and fail mode stay the preset's; only the resource part of the key changes, for
        routes whose arguments do not name what is limited. ``resource()`` runs in the request
        (``request.view_args`` holds the view's arguments), once however many times the key is
        needed; returning ``None`` exempts the request (no such resource, or one the view refuses
        anyway). ``deduct_when`` replaces the preset's rule (``None``: count every request).

        >>> from flask import request
        >>> def quiz_of_attempt():
        ...     return QUIZ_OF_ATTEMPT.get(request.view_args["attempt_id"])
        >>> @limits.submit.keyed(quiz_of_attempt)
        ... def submit(attempt_id): ...
        """
        base = self.policy.key
        who = user_or_address if base is user_and_resource else base
        key = (
            UserAndResource(resource) if who is user_or_address else _KeyAndResource(who, resource)
        )
        deduct = self.policy.deduct_when if isinstance(deduct_when, _Keep) else deduct_when
        policy = dataclasses.replace(
            self.policy, key=key, deduct_when=deduct, exempt_when=key.exempt
        )
        return LimitDecorator(policy)

    def __repr__(self) -> str:
        return f"<limit {self.policy.name} {self.policy.limit}>"


class _KeyAndResource(UserAndResource):
    """A policy's own key (``login``, ``ip``, a callable) plus a resource id."""

    __slots__ = ("who",)

    def __init__(self, who: KeyFunc, resource: Callable[[], object]) -> None:
        super().__init__(resource)
        self.who = who

    def __call__(self) -> str:
        return f"{self.who()}|{self.value()}"


def _limited_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def view(*args: Any, **kwargs: Any) -> Any:
        return _dispatch(view, args, kwargs)

    return view


_VIEW_CODE = _limited_view(lambda: None).__code__


def is_limit_wrapper(fn: object) -> bool:
    """True for the wrapper a limit decorator returns, not for one that copied its attributes."""
    return getattr(fn, "__code__", None) is _VIEW_CODE


def cache_above_limits(view: object, depth: int = 32) -> object | None:
    """The caching wrapper that sits above ``view``'s limit decorators, if one does.

    A cache hit returns before the limit wrapper runs, so the limits (and, because Flask-Limiter
    leaves decorated views to their decorators, the default limit too) never see the request.
    A caching wrapper is recognised as Flask-Caching's and ``res.cache.cached`` both build it:
    ``functools.wraps`` (``__wrapped__``) plus ``uncached`` set to the same wrapped function.
    Wrappers above the limits that call through (login checks, ...) are left alone.
    """
    current = view
    for _ in range(depth):
        if current is None or is_limit_wrapper(current):
            return None
        wrapped = getattr(current, "__wrapped__", None)
        uncached = getattr(current, "uncached", None)
        if uncached is not None and uncached is wrapped and getattr(wrapped, POLICIES_ATTR, None):
            return current
        current = wrapped
    return None


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
    ``submit``   1 per 5 minutes per user and resource (the view arguments, or
                 ``limits.submit.keyed(fn)``), counted only for 2xx responses
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
    deduct_when: DeductWhen | None = None,
) -> LimitDecorator:
    """A limit for any view: ``@limit("20/minute", key="ip")``.

    ``key`` is ``"user"`` (the user, else the client address), ``"ip"``, ``"login"``,
    ``"resource"`` or a callable returning a string. ``name`` is the policy name in the
    ``RateLimit`` headers, the 429 body and the metrics (default: derived from ``value``).
    ``deduct_when`` (e.g. :func:`succeeded`) counts a request only when it returns True for the
    response; such a limit costs a second Redis round trip, after the view.
    """
    parse_limit(value)
    policy_name = name or re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if not _NAME.match(policy_name):
        raise ValueError(f"policy name {policy_name!r} must match {_NAME.pattern}")
    if fail not in ("open", "closed"):
        raise ValueError(f"fail must be 'open' or 'closed', not {fail!r}")
    method_names = tuple(m.upper() for m in methods) if methods is not None else None
    policy = Policy(policy_name, value, resolve_key(key), fail, None, method_names, deduct_when)
    return LimitDecorator(policy)


def exempt(fn: F) -> F:
    """Exempt a view from every limit, the default one included: ``@exempt``."""
    setattr(fn, EXEMPT_ATTR, True)
    return fn
