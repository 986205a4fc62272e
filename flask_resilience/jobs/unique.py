"""Unique jobs: one queued-or-running job per task and arguments.

A claim key ``resilience:jobs:unique:<task>:<sha1 of the JSON arguments>`` holds the id of the
live job. ``SET NX`` makes the claim atomic, so two requests racing to enqueue the same work get
the same job (the check-then-enqueue race of rq/rq#1208). The key is released when the job
finishes or gives up, and expires on its own after the job's timeout plus its whole retry
schedule, so a crashed job cannot block its task forever. Unlike RQ 3's ``unique=True``, a
*finished* job does not block a new one for ``result_ttl``, and it works on rq 2 as well.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from redis.exceptions import WatchError

from . import records
from .spec import TaskSpec

PREFIX = "resilience:jobs:unique:"
ACTIVE = frozenset({"pending", "queued", "scheduled", "started", "deferred"})
CLAIM_GRACE_SECONDS = 10
"""How long a claim whose job has no status record yet counts as live: the claimer writes the
record in its next round trip, so only a claimer that crashed in between takes longer."""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def claim_key(spec: TaskSpec, args: Any, kwargs: Any) -> str:
    digest = hashlib.sha1(
        json.dumps([list(args), kwargs], sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()
    return f"{PREFIX}{spec.name}:{digest}"


def claim_seconds(spec: TaskSpec) -> int:
    """How long a claim can outlive its job: every attempt timing out plus the longest waits."""
    return spec.timeout * spec.max_attempts + int(spec.max_delay) * spec.retries + 60


def claim(connection: Any, spec: TaskSpec, args: Any, kwargs: Any, job_id: str) -> str | None:
    """Claim the task and arguments for ``job_id``; the id of the live job when taken already."""
    key = claim_key(spec, args, kwargs)
    seconds = claim_seconds(spec)
    for _ in range(5):
        if connection.set(key, job_id, nx=True, ex=seconds):
            return None
        with connection.pipeline() as pipe:
            try:
                pipe.watch(key)
                holder = pipe.get(key)
                if holder is None:
                    continue
                holder_id = holder.decode() if isinstance(holder, bytes) else str(holder)
                status = pipe.hget(records.record_key(holder_id), "status")
                if status is None:
                    # Claimed, but the claimer's enqueue has not landed yet: the job is live
                    # unless the claim is older than the grace (its claimer crashed).
                    age = seconds - pipe.ttl(key)
                    if age < CLAIM_GRACE_SECONDS:
                        return holder_id
                elif status.decode() in ACTIVE:
                    return holder_id
                pipe.multi()  # the holder ended without releasing (crash): take over
                pipe.set(key, job_id, ex=seconds)
                pipe.execute()
                return None
            except WatchError:
                continue
    raise RuntimeError(f"could not claim unique task {spec.name!r}: too much contention")


def release(pipe: Any, spec: TaskSpec, args: Any, kwargs: Any, job_id: str) -> None:
    """Append a compare-and-delete of the claim (only ``job_id``'s own claim) to ``pipe``."""
    pipe.eval(_RELEASE, 1, claim_key(spec, args, kwargs), job_id)


def drop(connection: Any, spec: TaskSpec, args: Any, kwargs: Any, job_id: str) -> None:
    """Release a claim taken for an enqueue that then failed."""
    connection.eval(_RELEASE, 1, claim_key(spec, args, kwargs), job_id)
