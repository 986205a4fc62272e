"""Wires the resilient capability into an app: its runtime, healer and learned rules."""

from __future__ import annotations

import logging

from flask import Flask
from loguru import logger
from sqlalchemy.engine import Engine

from .._foundation.settings import METRICS_ENABLED
from ..state import ResilienceState
from .config import HEALING_ENABLED, make_healer, preset_defaults, read_policies
from .healer import BackoffTuned, Healer, HealingEvent, RuleLearned
from .named import CAPABILITY, RUNTIME_KEY
from .redis_store import redis_store_factory
from .rules import load_rules, save_rules
from .runtime import PolicyRuntime

log = logging.getLogger("flask_resilience")


def init_app(app: Flask, state: ResilienceState) -> None:
    """Build the app's policy runtime; policies resolve against it inside the app context."""
    healer = None
    if state.config.boolean(HEALING_ENABLED, True):
        healer = make_healer(state.settings.engine)
        healer.add_listener(RulePersister(healer, state.engine))
    # Embedded mode keeps breakers in process memory: nothing else could share them anyway.
    store_factory = None
    if state.settings.redis_url is not None:
        store_factory = redis_store_factory(state.settings.redis_url)
    runtime = state.capabilities[CAPABILITY] = PolicyRuntime(
        defaults=preset_defaults(state.settings.engine),
        policies=read_policies(state.config),
        healer=healer,
        prepare_healer=lambda loading: restore_rules(loading, state.engine),
        preset=state.settings.engine,
        store_factory=store_factory,
        instrument=state.config.boolean(METRICS_ENABLED, True),
    )
    app.extensions[RUNTIME_KEY] = runtime


def restore_rules(healer: Healer, engine: Engine) -> int:
    """Start from what the fleet learned; a database not migrated yet just means no rules."""
    try:
        loaded = healer.load(load_rules(engine))
    except Exception as exc:
        log.warning("learned healing rules not loaded (%s); starting without them", exc)
        return 0
    if loaded:
        logger.info("loaded {count} learned healing rule(s)", count=loaded)
    return loaded


class RulePersister:
    """Saves a rule when the healer learns it or retunes its backoff, so restarts and peers start
    from it. A failed save is logged and dropped: persistence must never fail the call that
    taught it.
    """

    def __init__(self, healer: Healer, engine: Engine) -> None:
        self._healer = healer
        self._engine = engine

    def __call__(self, event: HealingEvent) -> None:
        if not isinstance(event, RuleLearned | BackoffTuned):
            return
        rules = [
            rule
            for rule in self._healer.learned_rules(event.policy)
            if rule.signature == event.signature
        ]
        if not rules:
            return
        try:
            save_rules(self._engine, rules)
        except Exception as exc:
            log.warning("learned rule for %s not saved: %s", event.policy, exc)
