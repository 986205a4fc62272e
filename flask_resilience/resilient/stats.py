"""Per-policy call statistics that cost almost nothing on the call path.

Each thread counts into its own cell (no lock, no lost updates); a scrape sums the cells. The
outermost layer of a policy records outcome and duration; retries and healed calls are counted
by the retry layer on its (already slow) failure path.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from ..errors import CallRejectedError

P = ParamSpec("P")
R = TypeVar("R")

DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_SUCCESS, _FAILURE, _REJECTED, _SUM = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Totals of one policy since start; ``buckets`` are cumulative-free counts per bound."""

    policy: str
    successes: int
    failures: int
    rejected: int
    duration_sum: float
    buckets: tuple[int, ...]

    @property
    def calls(self) -> int:
        return self.successes + self.failures + self.rejected


class PolicyStats:
    """The outermost layer of a named policy: counts outcomes and observes durations.

    >>> stats = PolicyStats("demo")
    >>> stats.call(len, "abc")
    3
    >>> stats.snapshot().successes
    1
    """

    __slots__ = ("_cells", "_local", "_lock", "_retired", "_timer", "name")

    def __init__(self, name: str, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.name = name
        self._timer = timer
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cells: list[tuple[threading.Thread, list[float]]] = []
        self._retired = _empty_cell()

    def _cell(self) -> list[float]:
        try:
            cell: list[float] = self._local.cell
        except AttributeError:
            cell = _empty_cell()
            self._local.cell = cell
            with self._lock:
                self._cells.append((threading.current_thread(), cell))
        return cell

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        timer = self._timer
        started = timer()
        try:
            result = fn(*args, **kwargs)
        except CallRejectedError:
            self._record(_REJECTED, started)
            raise
        except Exception:
            self._record(_FAILURE, started)
            raise
        # The success path inlines _record: this layer runs on every call of every policy.
        elapsed = timer() - started
        try:
            cell = self._local.cell
        except AttributeError:
            cell = self._cell()
        cell[_SUCCESS] += 1
        cell[_SUM] += elapsed
        cell[4 + bisect_left(DURATION_BUCKETS, elapsed)] += 1
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        started = self._timer()
        try:
            result = await fn(*args, **kwargs)
        except CallRejectedError:
            self._record(_REJECTED, started)
            raise
        except Exception:
            self._record(_FAILURE, started)
            raise
        self._record(_SUCCESS, started)
        return result

    def _record(self, outcome: int, started: float) -> None:
        elapsed = self._timer() - started
        cell = self._cell()
        cell[outcome] += 1
        cell[_SUM] += elapsed
        cell[4 + bisect_left(DURATION_BUCKETS, elapsed)] += 1

    def snapshot(self) -> StatsSnapshot:
        """Sum every thread's cell (a scrape; not on the call path).

        Cells of finished threads are folded into one retired total, so a thread-per-request
        server does not grow the list without bound.
        """
        with self._lock:
            live = []
            for thread, cell in self._cells:
                if thread.is_alive():
                    live.append((thread, cell))
                else:
                    _add(self._retired, cell)
            self._cells = live
            totals = list(self._retired)
            for _, cell in live:
                _add(totals, cell)
        return StatsSnapshot(
            policy=self.name,
            successes=int(totals[_SUCCESS]),
            failures=int(totals[_FAILURE]),
            rejected=int(totals[_REJECTED]),
            duration_sum=float(totals[_SUM]),
            buckets=tuple(int(x) for x in totals[4:]),
        )


def _empty_cell() -> list[float]:
    return [0, 0, 0, 0.0] + [0] * (len(DURATION_BUCKETS) + 1)


def _add(into: list[float], cell: list[float]) -> None:
    for index, value in enumerate(cell):
        into[index] += value
