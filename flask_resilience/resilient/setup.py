"""Wires the resilient capability into an app: its runtime, from the app's settings."""

from __future__ import annotations

from flask import Flask

from ..state import ResilienceState
from .config import preset_defaults, read_policies
from .named import CAPABILITY
from .runtime import PolicyRuntime


def init_app(app: Flask, state: ResilienceState) -> None:
    """Build the app's policy runtime; policies resolve against it inside the app context."""
    runtime = PolicyRuntime(
        defaults=preset_defaults(state.settings.engine),
        policies=read_policies(state.config),
    )
    state.capabilities[CAPABILITY] = runtime
