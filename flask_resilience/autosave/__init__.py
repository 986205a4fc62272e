"""Autosave: drafts that survive crashes, closed tabs and flaky networks.

Server side: kinds of draft (``res.autosave.register``), a ``resilience_drafts`` table, and
endpoints under ``<prefix>/autosave`` with strong ETags, ``If-Match``, RFC 7396 merge patches,
``Idempotency-Key`` replay and a ``sendBeacon`` fallback. Browser side: ``static/autosave.js``
and the ``resilience_autosave_indicator()`` template global. See ``docs/autosave.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from ..state import ResilienceState
from .config import AutosaveSettings
from .documents import DraftError
from .kinds import DraftKind, DraftKinds, DraftValidationError
from .merge import diff_merge_patch, merge_patch
from .runtime import CAPABILITY, Autosave, AutosaveRuntime, runtime_of
from .service import DraftState, IfMatch, PreconditionFailed, Write
from .views import BLUEPRINT, autosave_blueprint, indicator, respond, script


def init_app(
    app: Flask,
    state: ResilienceState,
    kinds: DraftKinds,
    *,
    decorators: Iterable[Callable[[Callable[..., Any]], Callable[..., Any]]] = (),
) -> None:
    """Mount the endpoints under ``<prefix>/autosave`` and add the template globals.

    ``decorators`` wrap the draft views; the extension passes the ``limits.autosave`` preset.
    """
    settings = AutosaveSettings.from_reader(state.config)
    state.capabilities[CAPABILITY] = AutosaveRuntime(settings, kinds, state.engine)
    blueprint = autosave_blueprint(decorators)
    app.register_blueprint(blueprint, url_prefix=f"{state.settings.url_prefix}/autosave")
    app.add_template_global(indicator, "resilience_autosave_indicator")
    app.add_template_global(script, "resilience_autosave_script")


__all__ = [
    "BLUEPRINT",
    "Autosave",
    "AutosaveRuntime",
    "AutosaveSettings",
    "DraftError",
    "DraftKind",
    "DraftKinds",
    "DraftState",
    "DraftValidationError",
    "IfMatch",
    "PreconditionFailed",
    "Write",
    "diff_merge_patch",
    "init_app",
    "merge_patch",
    "respond",
    "runtime_of",
]
