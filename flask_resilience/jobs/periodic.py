"""Periodic jobs with exactly one enqueue per period, however many schedulers run.

RQ's ``CronScheduler`` keeps its state in-process and takes no lock, so two of them enqueue
twice; rq-scheduler and celery beat have the same problem (rq/rq#1354, celery/celery#2856).
Here each scheduler tick:

1. takes or renews a leader lock (``SET NX`` with expiry, renewed only by its holder), so one
   scheduler does the work while the others idle;
2. for each periodic task computes the start of the current period (the latest cron time, or
   the epoch-aligned ``every`` slot) and enqueues it with the deterministic id
   ``periodic-<task>-<period start>``, atomically with a per-period marker (``WATCH`` + ``MULTI``),
   so even two leaders (a lock that expired mid-tick) cannot enqueue one period twice.

A period is enqueued only while it is recent (``misfire_grace``, default one hour, never more
than one period): a scheduler that was down for a day runs the latest missed run once, not a
backlog, and a fresh deployment at 15:00 does not run the 02:00 job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from redis.exceptions import WatchError

LEADER_KEY = "resilience:jobs:scheduler:leader"
MARKER_PREFIX = "resilience:jobs:periodic:"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a periodic task runs: a cron expression (UTC) or a fixed interval.

    >>> s = Schedule(cron="0 2 * * *")
    >>> s.period_start(datetime(2026, 11, 24, 2, 30, tzinfo=UTC)).isoformat()
    '2026-11-24T02:00:00+00:00'
    >>> Schedule(every=timedelta(minutes=5)).period_start(
    ...     datetime(2026, 11, 24, 2, 7, tzinfo=UTC)).isoformat()
    '2026-11-24T02:05:00+00:00'
    """

    cron: str | None = None
    every: timedelta | None = None
    misfire_grace: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron= or every=")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"invalid cron expression {self.cron!r}")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("every= must be at least one second")

    def period_start(self, now: datetime) -> datetime:
        """The start of the period ``now`` falls in."""
        if self.every is not None:
            slots = (now - EPOCH) // self.every
            return EPOCH + slots * self.every
        assert self.cron is not None
        start: datetime = croniter(self.cron, now + timedelta(seconds=1)).get_prev(datetime)
        return start

    def length(self, start: datetime) -> timedelta:
        if self.every is not None:
            return self.every
        assert self.cron is not None
        following: datetime = croniter(self.cron, start).get_next(datetime)
        return following - start

    def due(self, now: datetime) -> datetime | None:
        """The period to enqueue at ``now``, or None when the latest one is too old."""
        start = self.period_start(now)
        grace = min(self.misfire_grace, self.length(start))
        return start if now - start < grace else None


@dataclass(frozen=True, slots=True)
class PeriodicEntry:
    """A task and its schedule, as declared by ``@res.jobs.periodic``."""

    task: Any
    schedule: Schedule


def period_job_id(task_name: str, start: datetime) -> str:
    return f"periodic-{task_name}-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class PeriodicScheduler:
    """Runs in workers started ``--with-scheduler`` (and in the embedded worker thread).

    ``enqueue(pipe, entry, job_id)`` appends the job to a MULTI pipeline; ``now`` is the wall
    clock, injectable so tests move time instead of waiting for it.
    """

    def __init__(
        self,
        connection: Any,
        entries: Callable[[], list[PeriodicEntry]],
        enqueue: Callable[[Any, PeriodicEntry, str], None],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lock_seconds: int = 30,
    ) -> None:
        self.connection = connection
        self._entries = entries
        self._enqueue = enqueue
        self._now = now
        self._lock_seconds = lock_seconds
        self.token = uuid.uuid4().hex

    def is_leader(self) -> bool:
        """Take the lock if free, renew it if ours."""
        if self.connection.set(LEADER_KEY, self.token, nx=True, ex=self._lock_seconds):
            return True
        return bool(self.connection.eval(_RENEW, 1, LEADER_KEY, self.token, self._lock_seconds))

    def tick(self) -> list[str]:
        """Enqueue every due period not enqueued yet; returns the new job ids."""
        entries = self._entries()
        if not entries or not self.is_leader():
            return []
        now = self._now()
        enqueued = []
        for entry in entries:
            start = entry.schedule.due(now)
            if start is None:
                continue
            job_id = period_job_id(entry.task.name, start)
            ttl = int(entry.schedule.length(start).total_seconds()) * 2 + 60
            if self._enqueue_once(entry, job_id, ttl):
                enqueued.append(job_id)
        return enqueued

    def release(self) -> None:
        """Give up leadership (on shutdown) so another scheduler takes over at once."""
        self.connection.eval(_RENEW, 1, LEADER_KEY, self.token, 0)

    def _enqueue_once(self, entry: PeriodicEntry, job_id: str, ttl: int) -> bool:
        marker = MARKER_PREFIX + job_id
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(marker)
                if pipe.exists(marker):
                    return False
                pipe.multi()
                pipe.set(marker, 1, ex=ttl)
                self._enqueue(pipe, entry, job_id)
                pipe.execute()
                return True
            except WatchError:
                return False
