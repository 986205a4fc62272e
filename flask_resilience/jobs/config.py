"""Job configuration keys, read once per app into a frozen ``JobSettings``."""

from __future__ import annotations

from dataclasses import dataclass

from .._foundation.config_reader import ConfigReader

QUEUES = "RESILIENCE_JOBS_QUEUES"
EMBEDDED_WORKER = "RESILIENCE_JOBS_EMBEDDED_WORKER"
STATUS_TTL = "RESILIENCE_JOBS_STATUS_TTL"
LEASE_SECONDS = "RESILIENCE_JOBS_LEASE_SECONDS"
SWEEP_INTERVAL = "RESILIENCE_JOBS_SWEEP_INTERVAL"
OUTBOX = "RESILIENCE_JOBS_OUTBOX"
RELAY_BATCH = "RESILIENCE_JOBS_RELAY_BATCH"
DEFAULT_QUEUES: tuple[str, ...] = ("high", "default", "low")
SEVEN_DAYS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class JobSettings:
    """Queues in priority order, retention of status records and the crash-recovery timings.

    ``lease_seconds`` bounds how long a job whose process died stays "started" before a
    worker's sweep (every ``sweep_interval`` seconds) hands it back to its retry policy.
    """

    queues: tuple[str, ...]
    embedded_worker: bool
    status_ttl: int = SEVEN_DAYS
    lease_seconds: int = 15
    sweep_interval: float = 2.0
    outbox: bool = True
    relay_batch: int = 500

    @classmethod
    def from_reader(cls, reader: ConfigReader) -> JobSettings:
        queues = reader.parsed(QUEUES, DEFAULT_QUEUES, _queue_names)
        return cls(
            queues=queues,
            embedded_worker=reader.boolean(EMBEDDED_WORKER, True),
            status_ttl=reader.integer(STATUS_TTL, SEVEN_DAYS, minimum=60),
            lease_seconds=reader.integer(LEASE_SECONDS, 15, minimum=3, maximum=3600),
            sweep_interval=reader.number(SWEEP_INTERVAL, 2.0, minimum=0.1, maximum=60),
            outbox=reader.boolean(OUTBOX, True),
            relay_batch=reader.integer(RELAY_BATCH, 500, minimum=1, maximum=10_000),
        )


def _queue_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ValueError("name at least one queue, highest priority first: high,default,low")
    if len(set(names)) != len(names):
        raise ValueError("a queue is named twice")
    return names
