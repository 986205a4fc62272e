"""How a named policy's settings are resolved: keyword arguments, then ``RESILIENCE_POLICIES``,
then the environment preset (``RESILIENCE_ENV``), then the core defaults.

``RESILIENCE_POLICIES`` maps policy names to settings, as a dict in ``app.config`` or as JSON in
the environment variable of the same name::

    RESILIENCE_POLICIES = {"payments": {"max_attempts": 4, "timeout": 2.0, "failure_threshold": 3}}
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .._foundation.clock import SYSTEM_CLOCK, Clock
from .._foundation.config_reader import ConfigReader
from .._foundation.presets import EnginePreset
from ..errors import ConfigurationError
from .healer import Healer
from .policy import Policy, PolicyRegistry, PolicySettings

POLICIES = "RESILIENCE_POLICIES"
HEALING_ENABLED = "RESILIENCE_HEALING_ENABLED"
"""Master switch: when false, policies asking for ``healing`` use a plain ``Retry``."""

# Settings an operator may give in configuration: plain values, nothing callable.
CONFIGURABLE = frozenset(
    {
        "max_attempts",
        "backoff_base",
        "backoff_multiplier",
        "backoff_max",
        "jitter",
        "breaker",
        "window",
        "window_size",
        "minimum_calls",
        "failure_rate_threshold",
        "failure_threshold",
        "slow_call_threshold",
        "slow_call_rate_threshold",
        "half_open_max_calls",
        "reset_timeout",
        "timeout",
        "max_concurrent",
        "max_wait",
        "healing",
    }
)


def preset_defaults(preset: EnginePreset) -> dict[str, Any]:
    """The policy settings an environment preset implies.

    ``max_retries`` counts retries, ``max_attempts`` counts the first call too. The preset's
    consecutive-failure threshold opens the breaker; the rate rule stays on for busy policies.
    """
    return {
        "max_attempts": preset.max_retries + 1,
        "backoff_base": preset.base_backoff_ms / 1000,
        "failure_threshold": preset.breaker_failure_threshold,
        "reset_timeout": preset.breaker_reset_timeout_ms / 1000,
    }


def make_healer(
    preset: EnginePreset, *, seed: int | None = None, clock: Clock = SYSTEM_CLOCK
) -> Healer:
    """A healer tuned by the environment preset (exploration, learning rate and thresholds)."""
    return Healer(
        clock=clock,
        exploration_rate=preset.exploration_rate,
        learning_rate_alpha=preset.learning_rate_alpha,
        learning_threshold=preset.learning_threshold,
        strategy_evolution_interval=preset.strategy_evolution_interval,
        base_backoff=preset.base_backoff_ms / 1000,
        rng=random.Random(seed),
    )


def read_policies(reader: ConfigReader) -> dict[str, dict[str, Any]]:
    """``RESILIENCE_POLICIES`` validated: known names, values the settings accept."""
    if not reader.is_set(POLICIES):
        return {}
    raw = reader.raw(POLICIES)
    if raw is None:
        return {}
    if isinstance(raw, str):
        text = reader.string(POLICIES, "{}") or "{}"
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(POLICIES, text, f"not valid JSON ({exc.msg})") from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(POLICIES, raw, "expected a mapping of policy name -> settings")
    return {str(name): _policy_entry(str(name), entry) for name, entry in raw.items()}


def _policy_entry(name: str, entry: object) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{POLICIES}[{name!r}]", entry, "expected a mapping of settings")
    unknown = set(entry) - CONFIGURABLE
    if unknown:
        raise ConfigurationError(
            f"{POLICIES}[{name!r}]",
            dict(entry),
            f"unknown setting(s) {sorted(unknown)}; known: {sorted(CONFIGURABLE)}",
        )
    settings = dict(entry)
    validate_settings(f"{POLICIES}[{name!r}]", settings)
    return settings


def validate_settings(key: str, settings: Mapping[str, Any]) -> PolicySettings:
    """Build the settings once so a bad value fails at start, naming where it came from."""
    core = {k: v for k, v in settings.items() if k in _CORE_FIELDS}
    try:
        policy_settings = PolicySettings(**core)
        # Building a throwaway policy runs every block's own validation (attempts, timeouts).
        Policy.from_settings("validation", policy_settings, registry=PolicyRegistry())
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(key, dict(settings), str(exc)) from exc
    return policy_settings


_CORE_FIELDS = frozenset(field.name for field in fields(PolicySettings))
