"""Autosave configuration keys, read once per app into a frozen ``AutosaveSettings``."""

from __future__ import annotations

from dataclasses import dataclass

from .._foundation.config_reader import ConfigReader

HIDE_FORBIDDEN = "RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN"
IDEMPOTENCY_TTL = "RESILIENCE_AUTOSAVE_IDEMPOTENCY_TTL"
ONE_DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class AutosaveSettings:
    """How the autosave endpoints answer strangers and how long they remember retried writes.

    ``hide_forbidden`` answers 404 instead of 403 for someone else's draft, so a caller cannot
    probe which keys exist; ``idempotency_ttl`` is how long (seconds) a write's
    ``Idempotency-Key`` replays its first response (Stripe keeps keys for 24 hours).
    """

    hide_forbidden: bool = False
    idempotency_ttl: int = ONE_DAY

    @classmethod
    def from_reader(cls, reader: ConfigReader) -> AutosaveSettings:
        return cls(
            hide_forbidden=reader.boolean(HIDE_FORBIDDEN, False),
            idempotency_ttl=reader.integer(IDEMPOTENCY_TTL, ONE_DAY, minimum=60),
        )
