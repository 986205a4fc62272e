"""Retry policy of a task, compiled into the list of intervals RQ's ``Retry`` understands.

RQ's ``Retry(max, interval=[...])`` takes fixed delays and has no multiplier, cap or jitter
(rq/rq#201), so the exponential policy is written out here once, at declaration time: retry
``n`` waits ``base_delay * 2**(n-1)`` seconds, capped at ``max_delay``, then jittered. The list is
stored in the job, so stock rq 2.x and 3.x workers apply it with no code of ours.

>>> import random
>>> retry_intervals(4, base_delay=2.0, jitter=0.0)
[2, 4, 8, 16]
>>> retry_intervals(3, base_delay=2.0, backoff="fixed", jitter=0.0)
[2, 2, 2]
>>> all(1 <= d <= 2 for d in retry_intervals(5, 2.0, max_delay=2, rng=random.Random(1)))
True
"""

from __future__ import annotations

import math
import random
from typing import Literal

Backoff = Literal["exponential", "fixed"]
BACKOFFS: tuple[str, ...] = ("exponential", "fixed")


def retry_intervals(
    retries: int,
    base_delay: float,
    *,
    backoff: Backoff = "exponential",
    max_delay: float = 600.0,
    jitter: float = 0.25,
    rng: random.Random | None = None,
) -> list[int]:
    """Delays in whole seconds before each of ``retries`` retries.

    ``jitter`` is the fraction of each delay that is randomised downwards ("equal jitter"): 0.25
    turns 8 s into a value in [6, 8], so jobs that failed together do not retry in lockstep,
    while the delay never exceeds the schedule a user reads in the docs. RQ schedules in whole
    seconds; a delay never rounds below 1 s unless ``base_delay`` is 0 (retry at once).
    """
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays must be >= 0")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter is a fraction between 0 and 1")
    if backoff not in BACKOFFS:
        raise ValueError(f"backoff must be one of {', '.join(BACKOFFS)}")
    pick = rng or random.Random()
    delays = []
    for attempt in range(retries):
        raw = base_delay * (2**attempt if backoff == "exponential" else 1)
        capped = min(raw, max_delay)
        jittered = capped - capped * jitter * pick.random()
        delays.append(0 if base_delay == 0 else max(1, math.ceil(jittered)))
    return delays
