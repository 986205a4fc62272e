"""What the named policies of one app (or one worker script) share: settings, breakers, stats.

A ``PolicyRuntime`` resolves ``resilient("name", **kwargs)`` into a concrete ``Policy`` once and
caches it, so the call path pays one dictionary lookup for configuration, not a settings merge.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any

from .._foundation.clock import ManualClock
from .._foundation.presets import EnginePreset
from .config import CONFIGURABLE, make_healer
from .healer import Healer
from .policy import Policy, PolicyRegistry, PolicySettings
from .stats import PolicyStats
from .store import StoreFactory


class PolicyRuntime:
    """Resolves named policies with precedence kwargs > ``RESILIENCE_POLICIES`` > preset.

    >>> runtime = PolicyRuntime(defaults={"max_attempts": 2}, policies={"db": {"timeout": 1.0}})
    >>> runtime.settings_for("db", {}).timeout, runtime.settings_for("db", {}).max_attempts
    (1.0, 2)
    """

    def __init__(
        self,
        *,
        defaults: Mapping[str, Any],
        policies: Mapping[str, Mapping[str, Any]] | None = None,
        registry: PolicyRegistry | None = None,
        store_factory: StoreFactory | None = None,
        healer: Healer | None = None,
        prepare_healer: Callable[[Healer], object] | None = None,
        preset: EnginePreset | None = None,
        instrument: bool = True,
    ) -> None:
        self.defaults = dict(defaults)
        self.policies = {name: dict(entry) for name, entry in (policies or {}).items()}
        self.registry = registry if registry is not None else PolicyRegistry()
        self.store_factory = store_factory
        self.healer = healer
        self._prepare_healer = prepare_healer
        self.preset = preset
        self.instrument = instrument
        self.stats: dict[str, PolicyStats] = {}
        self._built: dict[Hashable, Policy] = {}
        self._lock = threading.Lock()

    def settings_for(self, name: str, options: Mapping[str, Any]) -> PolicySettings:
        """Merge the three sources and add the shared pieces (breaker store, healer)."""
        merged = {**self.defaults, **self.policies.get(name, {}), **options}
        if self.store_factory is not None and merged.get("store_factory") is None:
            merged["store_factory"] = self.store_factory
        if merged.get("healing") and merged.get("healer") is None:
            merged["healer"] = self.healer
            merged["healing"] = self.healer is not None
        return PolicySettings(**merged)

    def policy(self, name: str, key: Hashable, options: Mapping[str, Any]) -> Policy:
        """The policy for ``key`` (name + options), built on first use and then reused."""
        policy = self._built.get(key)
        if policy is not None:
            return policy
        with self._lock:
            policy = self._built.get(key)
            if policy is None:
                policy = self._build(name, options)
                self._built[key] = policy
        return policy

    def _build(self, name: str, options: Mapping[str, Any]) -> Policy:
        stats = None
        if self.instrument:
            stats = self.stats.get(name)
            if stats is None:
                stats = self.stats[name] = PolicyStats(name)
        settings = self.settings_for(name, options)
        if settings.healer is not None and self._prepare_healer is not None:
            # Learned rules are loaded on first use, not at start: the database may not be
            # migrated (or reachable) yet when the app object is created.
            prepare, self._prepare_healer = self._prepare_healer, None
            prepare(settings.healer)
        return Policy.from_settings(name, settings, registry=self.registry, stats=stats)

    def simulation_factory(
        self, *, seed: int = 0, overrides: Mapping[str, Any] | None = None
    ) -> PolicyFactory:
        """Build policies as configured here, but isolated for the stress harness.

        Same settings (preset, ``RESILIENCE_POLICIES``, then ``overrides`` on top, the way
        keyword arguments of ``resilient()`` would be), on the harness's simulated clock, with a
        private breaker registry and a private healer, and no timeout threads: a stress run
        never touches the live breakers, rules or stats of the app. ``seed`` seeds the healer
        and the backoff jitter, so one seed gives one report.
        """
        options = dict(overrides or {})

        def build(name: str, clock: ManualClock) -> Policy:
            settings = self.settings_for(name, options)
            healer = None
            if settings.healing and self.preset is not None:
                healer = make_healer(self.preset, seed=seed, clock=clock)
            isolated = replace(
                settings,
                rng=random.Random(f"jitter-{seed}"),  # not the stream the dependency draws from
                clock=clock,
                store_factory=None,
                healer=healer,
                healing=healer is not None,
                timeout=None,
                timeout_threads=None,
            )
            return Policy.from_settings(name, isolated, registry=PolicyRegistry())

        return build

    def built(self) -> list[Policy]:
        """Every concrete policy resolved so far (several per name when options differ)."""
        with self._lock:
            return list(self._built.values())

    def retry_counts(self) -> dict[str, tuple[int, int]]:
        """``(retries, healed)`` per policy name, summed over its concrete policies."""
        counts: dict[str, tuple[int, int]] = {}
        for policy in self.built():
            retry = policy.retry
            if retry is None:
                continue
            retries, healed = counts.get(policy.name, (0, 0))
            counts[policy.name] = (retries + retry.retries, healed + retry.healed)
        return counts

    def configured_names(self) -> list[str]:
        """Every policy named in configuration or used so far, sorted."""
        return sorted(set(self.policies) | set(self.stats) | {s.name for s in self.snapshots()})

    def snapshots(self) -> list[Any]:
        return self.registry.snapshots()


def options_key(name: str, options: Mapping[str, Any]) -> Hashable:
    """A hashable identity of ``resilient(name, **options)``; unhashable values count by id."""
    return (name, tuple(sorted((k, _freeze(v)) for k, v in options.items())))


def _freeze(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value  # type: ignore[no-any-return]


PolicyFactory = Callable[[str, ManualClock], Policy]

__all__ = ["CONFIGURABLE", "PolicyFactory", "PolicyRuntime", "options_key"]
