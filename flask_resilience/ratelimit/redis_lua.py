"""One Lua call that checks every limit of a request on a ``limits`` Redis storage.

Flask-Limiter asks its strategy one limit at a time and then reads each window again for the
headers: with headers on, a fixed-window limit costs three round trips (EVALSHA, GET, TTL) and a
moving-window limit two. :class:`LuaBatch` sends all of a request's limits in one EVALSHA and gets
back, per limit, allowed / remaining / reset, so the headers need no further reads. The keys and
data layout are the ``limits`` library's own (same prefix, same types), so its strategies and
Flask-Limiter's CLI keep working on them. Nothing here imports Flask.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from importlib.resources import files
from typing import Any, NamedTuple

from limits import RateLimitItem
from limits.storage import RedisClusterStorage, RedisStorage
from limits.util import WindowStats

SCRIPT = files(__package__).joinpath("batch_hit.lua").read_text()
SLIDING = "sliding-window-counter"
UNAVAILABLE_CODES = (
    "READONLY",
    "OOM",
    "LOADING",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "NOREPLICAS",
)
"""Error codes that say the node cannot serve our writes at all, whichever key is asked."""


class StorageUnavailable(Exception):
    """The script met an error that concerns the whole node (a replica, out of memory, ...)."""


class Check(NamedTuple):
    """One limit to consume (``hit``) or only test, for one set of identifiers."""

    key: str
    item: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int = 1
    hit: bool = True

    @classmethod
    def of(cls, item: RateLimitItem, identifiers: Sequence[str], cost: int, hit: bool) -> Check:
        return cls(item.key_for(*identifiers), item, tuple(identifiers), cost, hit)


class Outcome(NamedTuple):
    """``allowed`` is None when the limit was not evaluated (an earlier one was denied, or
    ``error`` says why its keys could not be read)."""

    allowed: bool | None
    stats: WindowStats | None
    error: str | None = None


NOT_EVALUATED = Outcome(None, None)


class LuaBatch:
    """Runs :data:`SCRIPT` for a list of checks against one ``limits`` Redis storage.

    On Redis Cluster the keys of different limits live in different slots, and a script may only
    touch one slot, so each limit gets its own call there (still one per limit, headers included).
    """

    def __init__(self, storage: RedisStorage, strategy: str) -> None:
        self._storage = storage
        self._strategy = strategy
        self._script = storage.get_connection().register_script(SCRIPT)  # type: ignore[arg-type]
        self._per_limit = isinstance(storage, RedisClusterStorage)

    def close(self) -> None:
        """Close the storage's connections."""
        close = getattr(self._storage.get_connection(), "close", None)
        if callable(close):
            close()

    def run(self, checks: Sequence[Check], *, stop_on_denial: bool) -> list[Outcome]:
        """Evaluate ``checks`` in order; raises the storage's errors (the caller falls back).

        A limit whose keys fail (WRONGTYPE) comes back with ``error`` set and does not stop the
        others; an error that means the node cannot serve raises :class:`StorageUnavailable`.
        """
        if not self._per_limit or len(checks) == 1:
            return self._call(checks, stop_on_denial)
        outcomes: list[Outcome] = []
        stopped = False
        for check in checks:
            if stopped:
                outcomes.append(NOT_EVALUATED)
                continue
            outcome = self._call([check], False)[0]
            outcomes.append(outcome)
            stopped = stop_on_denial and outcome.allowed is False
        return outcomes

    def _call(self, checks: Sequence[Check], stop_on_denial: bool) -> list[Outcome]:
        now = time.time()
        keys: list[str] = []
        args: list[Any] = [self._strategy, repr(now), 1 if stop_on_denial else 0]
        prefixed = self._storage.prefixed_key
        for check in checks:
            if self._strategy == SLIDING:
                # the same hash-tagged pair the limits storage uses, so both stay on one node
                keys += [prefixed(f"{{{check.key}}}/-1"), prefixed(f"{{{check.key}}}")]
            else:
                keys.append(prefixed(check.key))
            args += [check.item.amount, check.item.get_expiry(), check.cost, 1 if check.hit else 0]
        raw = self._script(keys=keys, args=args)
        outcomes = []
        for i in range(len(checks)):
            status, remaining, reset_ms = raw[3 * i : 3 * i + 3]
            if status == -2:
                error = remaining.decode() if isinstance(remaining, bytes) else str(remaining)
                if error.startswith(UNAVAILABLE_CODES):
                    raise StorageUnavailable(error)
                outcomes.append(Outcome(None, None, error))
            elif status < 0:
                outcomes.append(NOT_EVALUATED)
            else:
                stats = WindowStats(now + int(reset_ms) / 1000.0, int(remaining))
                outcomes.append(Outcome(status == 1, stats))
        return outcomes
