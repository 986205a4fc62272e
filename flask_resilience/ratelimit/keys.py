"""Key functions: who a request counts against.

Every key starts with its kind (``user:``, ``ip:``, ``login:``) so a 429 log line can say what
was limited without knowing which function built the key. The client address is
``request.remote_addr``: the foundation wraps the app in werkzeug's ``ProxyFix`` only when
``RESILIENCE_TRUSTED_PROXIES`` says how many proxies to trust, so a client cannot pick its own
address with a forged ``X-Forwarded-For``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from ..state import EXTENSION_KEY

KeyFunc = Callable[[], str]
LOGIN_FIELDS = ("username", "user", "email", "login")
_USER_MEMO = "resilience.ratelimit.user"
_ANONYMOUS = object()


def client_address() -> str:
    """``ip:<address>``: the peer address, or the forwarded one when proxies are trusted."""
    return f"ip:{request.remote_addr or 'unknown'}"


def current_user_id() -> Any:
    """The host's user id for this request, asked once per request however many limits apply."""
    environ = request.environ
    user = environ.get(_USER_MEMO, _ANONYMOUS)
    if user is _ANONYMOUS:
        state = current_app.extensions.get(EXTENSION_KEY)
        user = state.current_user_id() if state is not None else None
        environ[_USER_MEMO] = user
    return user


def user_or_address() -> str:
    """``user:<id>`` when the host's ``user_loader`` knows the user, else ``ip:<address>``."""
    user = current_user_id()
    return f"user:{user}" if user is not None else client_address()


def submitted_login() -> str:
    """``login:<address>:<digest>``: the address plus a digest of the submitted user name.

    The name comes from a JSON or form body (``username``, ``user``, ``email`` or ``login``),
    case-folded so ``Alice`` and ``alice`` share one budget, and hashed so Redis never holds it.
    """
    name = ""
    body: Any = request.get_json(silent=True) if request.is_json else request.form
    if body is not None and hasattr(body, "get"):
        for field in LOGIN_FIELDS:
            value = body.get(field)
            if isinstance(value, str) and value.strip():
                name = value.strip().casefold()
                break
    digest = hashlib.blake2b(name.encode(), digest_size=8).hexdigest() if name else "-"
    return f"login:{request.remote_addr or 'unknown'}:{digest}"


def user_and_resource() -> str:
    """The user (or address) plus every view argument: one budget per user per resource."""
    args = request.view_args or {}
    resource = ",".join(f"{name}={args[name]}" for name in sorted(args))
    return f"{user_or_address()}|{resource or '-'}"


class UserAndResource:
    """The user (or address) plus the resource id ``resource()`` returns, asked once per request.

    For views whose arguments do not name the resource that is limited: a submit route takes
    ``attempt_id`` while the budget is per quiz. ``resource()`` returning ``None`` means the
    limit does not apply to this request (no such resource, or one the view refuses anyway), so
    Flask-Limiter's ``exempt_when`` and the key share one lookup.
    """

    __slots__ = ("_slot", "resource")

    def __init__(self, resource: Callable[[], object]) -> None:
        self.resource = resource
        self._slot = f"resilience.ratelimit.resource.{id(self)}"

    def value(self) -> object:
        environ = request.environ
        slot = self._slot
        if slot in environ:
            return environ[slot]
        found = environ[slot] = self.resource()
        return found

    def exempt(self) -> bool:
        """True when ``resource()`` found nothing to limit for this request."""
        return self.value() is None

    def __call__(self) -> str:
        return f"{user_or_address()}|{self.value()}"


NAMED_KEYS: dict[str, KeyFunc] = {
    "user": user_or_address,
    "ip": client_address,
    "login": submitted_login,
    "resource": user_and_resource,
}


def resolve_key(key: str | KeyFunc) -> KeyFunc:
    """A key function from a name (``"user"``, ``"ip"``, ``"login"``, ``"resource"``) or itself."""
    if callable(key):
        return key
    try:
        return NAMED_KEYS[key]
    except KeyError:
        known = sorted(NAMED_KEYS)
        raise ValueError(f"unknown key {key!r}; use one of {known} or a callable") from None


def key_kind(key: str) -> str:
    """The kind a key was built for (``user``, ``ip``, ``login``), or ``custom``."""
    kind, sep, _ = key.partition(":")
    return kind if sep and kind in NAMED_KEYS else "custom"
