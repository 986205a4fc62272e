"""The durable per-job status record: one Redis hash per job, read with a single ``HMGET``.

RQ drops a job's hash ``result_ttl`` seconds (500 by default) after it finishes, and its
``meta`` is rewritten when the job ends (rq/rq#784), so a client polling ``/jobs/<id>`` would
see a 404 or lose the last progress message. This record lives ``RESILIENCE_JOBS_STATUS_TTL``
seconds (7 days by default), carries progress, attempts, the error summary and the owner, and
is written in the same pipeline as the operation it describes, so it costs no extra round trip.

Every write takes a pipeline and only appends commands; callers execute it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""Errors that mean Redis does not answer (as opposed to answering with an error)."""
RECORD_PREFIX = "resilience:job:"
DEAD_PREFIX = "resilience:jobs:dead:"
"""One sorted set per queue (score: when the job died), so a queue's dead letters page cheaply."""
STATS_KEY = "resilience:jobs:stats"
LEASE_PREFIX = "resilience:jobs:lease:"
TERMINAL = frozenset({"finished", "failed", "dead", "canceled"})
STATUSES = (
    "pending",
    "queued",
    "scheduled",
    "started",
    "finished",
    "failed",
    "deferred",
    "canceled",
    "dead",
)
FIELDS = (
    "task",
    "queue",
    "status",
    "percent",
    "message",
    "result",
    "error",
    "attempts",
    "max_attempts",
    "enqueued_at",
    "started_at",
    "ended_at",
    "owner",
)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
"""Upper bounds (seconds) of the job duration histogram; jobs run from milliseconds to minutes."""


def dead_key(queue: str) -> str:
    """The dead-letter set of ``queue``."""
    return DEAD_PREFIX + queue


def record_key(job_id: str) -> str:
    return RECORD_PREFIX + job_id


def lease_key(job_id: str) -> str:
    return LEASE_PREFIX + job_id


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What ``GET /jobs/<id>`` answers; ``owner`` is kept for the access check, not shown."""

    id: str
    task: str | None
    queue: str | None
    status: str
    percent: float | None
    message: str | None
    result: Any
    error: str | None
    attempts: int
    max_attempts: int | None
    enqueued_at: str | None
    started_at: str | None
    ended_at: str | None
    owner: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "status": self.status,
            "progress": {"percent": self.percent, "message": self.message},
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "enqueued_at": self.enqueued_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


def parse_record(job_id: str, values: list[Any]) -> JobRecord | None:
    """A record from the ``HMGET`` of :data:`FIELDS`, or None when the hash does not exist."""
    raw = dict(zip(FIELDS, (_text(v) for v in values), strict=True))
    if raw["status"] is None:
        return None
    percent = raw["percent"]
    result = raw["result"]
    max_attempts = raw["max_attempts"]
    return JobRecord(
        id=job_id,
        task=raw["task"],
        queue=raw["queue"],
        status=raw["status"],
        percent=float(percent) if percent is not None else None,
        message=raw["message"],
        result=json.loads(result) if result is not None else None,
        error=raw["error"],
        attempts=int(raw["attempts"] or 0),
        max_attempts=int(max_attempts) if max_attempts else None,
        enqueued_at=raw["enqueued_at"],
        started_at=raw["started_at"],
        ended_at=raw["ended_at"],
        owner=raw["owner"],
    )


def read_record(connection: Any, job_id: str) -> JobRecord | None:
    """The job's record in one round trip (one ``HMGET``)."""
    return parse_record(job_id, connection.hmget(record_key(job_id), FIELDS))


def read_records(connection: Any, job_ids: list[str]) -> list[JobRecord | None]:
    """Many records in one pipelined round trip (admin listings)."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(record_key(job_id), FIELDS)
        rows = pipe.execute()
    return [parse_record(job_id, row) for job_id, row in zip(job_ids, rows, strict=True)]


def write(pipe: Any, job_id: str, ttl: int, **fields: Any) -> None:
    """Set ``fields`` (None values are removed) and renew the record's retention."""
    key = record_key(job_id)
    mapping = {name: _encode(value) for name, value in fields.items() if value is not None}
    cleared = [name for name, value in fields.items() if value is None]
    if mapping:
        pipe.hset(key, mapping=mapping)
    if cleared:
        pipe.hdel(key, *cleared)
    pipe.expire(key, ttl)


_WRITE_MANY = """
local ttl = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
    redis.call('HSET', key, unpack(ARGV, 2, #ARGV))
    redis.call('EXPIRE', key, ttl)
end
return #KEYS
"""


def write_many(pipe: Any, job_ids: list[str], ttl: int, **fields: Any) -> None:
    """The same ``fields`` on many records, as one script call appended to ``pipe``.

    A batch's records differ only in their key, so sending the fields once instead of once per
    job takes two commands and ~15 arguments per job out of the pipeline: redis-py's command
    packing, not Redis, is what bounds a batch enqueue. Needs Lua (real Redis, not fakeredis).
    """
    mapping = [
        item
        for name, value in fields.items()
        if value is not None
        for item in (name, _encode(value))
    ]
    if not job_ids or not mapping:
        return
    pipe.eval(_WRITE_MANY, len(job_ids), *(record_key(j) for j in job_ids), ttl, *mapping)


def count(pipe: Any, outcome: str, task: str, amount: int = 1) -> None:
    """Bump a fleet-wide counter (finished, failed, retried, dead) that metrics read at scrape."""
    pipe.hincrby(STATS_KEY, f"{outcome}|{task}", amount)


def observe_duration(pipe: Any, task: str, seconds: float) -> None:
    """Add one observation to the Redis-held duration histogram of ``task``."""
    index = next(
        (i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound),
        len(DURATION_BUCKETS),
    )
    pipe.hincrby(STATS_KEY, f"dur|{task}|{index}", 1)
    pipe.hincrbyfloat(STATS_KEY, f"dursum|{task}", seconds)


def error_summary(exc: BaseException) -> str:
    """``ValueError: line 3 has no options``: what a user can read, at most 500 characters."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:500]


def _encode(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def text(value: Any) -> str:
    """A Redis reply as text: ``""`` for a missing value, bytes decoded."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
