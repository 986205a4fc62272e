"""Per-app autosave runtime, and ``Autosave``: the object behind ``res.autosave``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..state import get_state
from .config import AutosaveSettings
from .kinds import DraftKind, DraftKinds, OwnerFunc, Validator
from .service import DraftState, delete_draft, load_draft, purge_expired

CAPABILITY = "autosave"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AutosaveRuntime:
    """What the endpoints of one app need: its settings, the shared kinds, sessions, a clock.

    ``now`` is replaceable so tests can move time past a draft's ``ttl`` without sleeping.
    """

    def __init__(self, settings: AutosaveSettings, kinds: DraftKinds, engine: Engine) -> None:
        self.settings = settings
        self.kinds = kinds
        self.session: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self.now: Callable[[], datetime] = utcnow


def runtime_of(app: Flask | None = None) -> AutosaveRuntime:
    """The autosave runtime of ``app`` (default: the current app)."""
    runtime: Any = get_state(app).capabilities[CAPABILITY]
    return runtime  # type: ignore[no-any-return]


class Autosave:
    """Drafts that survive crashes: register kinds, then read or delete drafts from your code.

    >>> from flask_resilience import Resilience
    >>> res = Resilience()
    >>> kind = res.autosave.register("attempt", owner=lambda key: 1, ttl=7 * 24 * 3600)

    The endpoints live at ``<prefix>/autosave/<kind>/<key>``; see ``docs/autosave.md``.
    """

    def __init__(self, kinds: DraftKinds) -> None:
        self.kinds = kinds

    def register(
        self,
        kind: str,
        *,
        owner: OwnerFunc,
        schema: Mapping[str, Any] | Validator | None = None,
        max_bytes: int = 65536,
        ttl: float | timedelta | None = None,
    ) -> DraftKind:
        """Declare a kind of draft.

        ``owner(key)`` returns the id of the user who owns draft ``key`` (compared with the
        ``user_loader``'s id as strings), or raises/aborts 404 when ``key`` names nothing.
        ``schema`` is a JSON Schema dict or a callable that refuses a payload by raising
        ``DraftValidationError`` (or any ``ValueError``) or returning ``False`` (each a 422);
        ``max_bytes`` bounds the request body and the stored document; ``ttl`` (seconds or a
        timedelta after the last write) lets abandoned drafts expire.
        """
        return self.kinds.register(kind, owner=owner, schema=schema, max_bytes=max_bytes, ttl=ttl)

    def get(self, kind: str, key: object) -> DraftState | None:
        """The current app's live draft ``key`` of ``kind``, without any ownership check."""
        runtime = runtime_of()
        with runtime.session() as session:
            return load_draft(session, kind, str(key), now=runtime.now())

    def delete(self, kind: str, key: object) -> bool:
        """Delete a draft (on submit, say); True when one existed."""
        runtime = runtime_of()
        with runtime.session() as session:
            return delete_draft(session, kind, str(key), now=runtime.now())

    def purge(self) -> int:
        """Delete expired drafts and stale idempotency records; run it from a periodic job."""
        runtime = runtime_of()
        with runtime.session() as session:
            return purge_expired(
                session, now=runtime.now(), idempotency_ttl=runtime.settings.idempotency_ttl
            )

    def respond(self, kind: str, key: object) -> Any:
        """Answer the current request (GET/PUT/PATCH/DELETE) for a draft, as the endpoints do.

        For a host route that exposes a draft under its own URL:
        ``return res.autosave.respond("attempt", attempt_id)``.
        """
        from .views import respond

        return respond(kind, str(key))
