"""Per-app state in ``app.extensions["resilience"]``; one Resilience object may serve many apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from ._foundation.config_reader import ConfigReader
from ._foundation.settings import Settings

EXTENSION_KEY = "resilience"

ReadinessCheck = Callable[[], "CheckResult"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one readiness check; ``critical`` failures make the instance unavailable."""

    ok: bool
    critical: bool
    latency_ms: float | None = None
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok}
        if self.latency_ms is not None:
            body["latency_ms"] = round(self.latency_ms, 2)
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass
class ResilienceState:
    """Everything the extension knows about one app."""

    settings: Settings
    config: ConfigReader
    engine: Engine
    redis: Any
    owns_engine: bool
    user_loader: Callable[[], Any] | None = None
    admin_auth: Callable[[], bool] | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    """Each capability's per-app runtime object, by capability name."""

    def current_user_id(self) -> Any:
        """The id the host's ``user_loader`` returns for this request, or None."""
        return self.user_loader() if self.user_loader else None

    def is_admin(self) -> bool:
        """True only when an ``admin_auth`` callback is configured and approves this request."""
        return bool(self.admin_auth and self.admin_auth())


def get_state(app: Flask | None = None) -> ResilienceState:
    """The state of ``app`` (default: the current app); a clear error when it has no extension."""
    target = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    state = target.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            f"flask-resilience is not initialised on app {target.name!r}: "
            "call Resilience(app) or resilience.init_app(app) in your app factory."
        )
    return state  # type: ignore[no-any-return]
