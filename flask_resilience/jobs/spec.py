"""What a worker, a relay or a scheduler needs to enqueue a task: plain data, JSON-ready.

A ``TaskSpec`` is what survives in the outbox table while Redis is down, so the relay can push a
job without importing the module that declared the task.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from .backoff import Backoff, retry_intervals


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A declared task's name, import path, queue and retry / retention policy."""

    name: str
    func: str
    """Dotted import path RQ calls (``package.module.function``)."""
    queue: str = "default"
    retries: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 2.0
    max_delay: float = 600.0
    jitter: float = 0.25
    timeout: int = 60
    result_ttl: int = 500
    failure_ttl: int | None = None
    unique: bool = False

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def intervals(self, rng: random.Random | None = None) -> list[int]:
        """A fresh jittered interval list for one job (each job gets its own jitter)."""
        return retry_intervals(
            self.retries,
            self.base_delay,
            backoff=self.backoff,
            max_delay=self.max_delay,
            jitter=self.jitter,
            rng=rng,
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        return cls(**data)
