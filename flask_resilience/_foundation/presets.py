"""Per-environment defaults for the resilience engine (``RESILIENCE_ENV``).

Development fails fast and learns quickly so a developer sees behaviour within a few calls;
production retries more, waits longer before half-opening, and learns conservatively so one noisy
minute does not rewrite the fleet's rules. An explicit ``RESILIENCE_<SETTING>`` key always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .config_reader import PREFIX, ConfigReader

ENVIRONMENTS = ("development", "staging", "production")


@dataclass(frozen=True, slots=True)
class EnginePreset:
    """The tunables of retries, breakers and the adaptive healer."""

    exploration_rate: float
    max_retries: int
    breaker_reset_timeout_ms: int
    breaker_failure_threshold: int
    base_backoff_ms: int
    learning_rate_alpha: float
    learning_threshold: int
    strategy_evolution_interval: int


PRESETS: dict[str, EnginePreset] = {
    "development": EnginePreset(0.10, 2, 3000, 2, 50, 0.3, 3, 10),
    "staging": EnginePreset(0.05, 3, 5000, 3, 100, 0.3, 5, 20),
    "production": EnginePreset(0.03, 5, 10000, 5, 100, 0.2, 10, 50),
}

# (minimum, maximum) for each tunable; None means unbounded.
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "exploration_rate": (0.0, 1.0),
    "max_retries": (0, 100),
    "breaker_reset_timeout_ms": (1, None),
    "breaker_failure_threshold": (1, None),
    "base_backoff_ms": (0, None),
    "learning_rate_alpha": (0.0, 1.0),
    "learning_threshold": (1, None),
    "strategy_evolution_interval": (1, None),
}


def resolve_preset(env: str, reader: ConfigReader) -> EnginePreset:
    """The preset of ``env`` with every explicitly set ``RESILIENCE_<NAME>`` key applied on top."""
    preset = PRESETS[env]
    changes: dict[str, float | int] = {}
    for field in fields(preset):
        key = PREFIX + field.name.upper()
        if not reader.is_set(key):
            continue
        low, high = _BOUNDS[field.name]
        default = getattr(preset, field.name)
        if isinstance(default, int):
            changes[field.name] = reader.integer(
                key, default, minimum=_int(low), maximum=_int(high)
            )
        else:
            changes[field.name] = reader.number(key, default, minimum=low, maximum=high)
    return replace(preset, **changes)  # type: ignore[arg-type]


def _int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)
