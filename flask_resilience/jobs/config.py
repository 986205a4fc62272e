"""Job configuration keys."""

from __future__ import annotations

from dataclasses import dataclass

from .._foundation.config_reader import ConfigReader

QUEUES = "RESILIENCE_JOBS_QUEUES"
EMBEDDED_WORKER = "RESILIENCE_JOBS_EMBEDDED_WORKER"
DEFAULT_QUEUES: tuple[str, ...] = ("high", "default", "low")


@dataclass(frozen=True, slots=True)
class JobSettings:
    """Queue names in priority order, and whether embedded mode runs an in-process worker."""

    queues: tuple[str, ...]
    embedded_worker: bool

    @classmethod
    def from_reader(cls, reader: ConfigReader) -> JobSettings:
        queues = reader.parsed(QUEUES, DEFAULT_QUEUES, _queue_names)
        return cls(queues=queues, embedded_worker=reader.boolean(EMBEDDED_WORKER, True))


def _queue_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ValueError("name at least one queue, highest priority first: high,default,low")
    if len(set(names)) != len(names):
        raise ValueError("a queue is named twice")
    return names
