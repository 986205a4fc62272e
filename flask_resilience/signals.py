"""Blinker signals the capabilities send and observability subscribes to.

Capabilities never import Prometheus or loguru; they send a signal with a frozen payload and the
observability layer turns it into a metric or a log line.

>>> from flask_resilience.signals import resilience_configured
>>> received = []
>>> _ = resilience_configured.connect(lambda app, **kw: received.append(kw["embedded"]))
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

resilience_configured = _signals.signal("resilience-configured")
"""Sent with the app as sender after ``init_app`` finished; keyword ``embedded`` (bool)."""
