"""Metric-archive configuration keys, read once per app into a frozen ``ArchiveSettings``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from croniter import croniter

from .._foundation.config_reader import ConfigReader
from ..errors import ConfigurationError

AFTER_DAYS = "RESILIENCE_ARCHIVE_AFTER_DAYS"
DROP_AFTER_DAYS = "RESILIENCE_ARCHIVE_DROP_AFTER_DAYS"
PARTITIONS_AHEAD = "RESILIENCE_ARCHIVE_PARTITIONS_AHEAD"
LOCK_TIMEOUT_MS = "RESILIENCE_ARCHIVE_LOCK_TIMEOUT_MS"
SCHEDULE = "RESILIENCE_ARCHIVE_SCHEDULE"
DEFAULT_SCHEDULE = "0 2 * * *"
_OFF = {"", "off", "false", "no", "none", "0"}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


@dataclass(frozen=True, slots=True)
class ArchiveSettings:
    """When months leave the live table, when archived months are dropped, how far to premake.

    ``lock_timeout_ms`` bounds how long one catalogue change may wait for its lock: while it
    waits, writers queue behind it, so this is the writers' worst stall per attempt.
    ``schedule`` is the cron expression (UTC) of the daily maintenance job, None when disabled.
    """

    after_days: int = 30
    drop_after_days: int | None = None
    partitions_ahead: int = 3
    lock_timeout_ms: int = 40
    schedule: str | None = DEFAULT_SCHEDULE

    @property
    def archive_after(self) -> timedelta:
        return timedelta(days=self.after_days)

    @property
    def drop_after(self) -> timedelta | None:
        return None if self.drop_after_days is None else timedelta(days=self.drop_after_days)

    @classmethod
    def from_reader(cls, reader: ConfigReader) -> ArchiveSettings:
        drop_after = None
        if reader.is_set(DROP_AFTER_DAYS) and reader.raw(DROP_AFTER_DAYS) is not None:
            drop_after = reader.integer(DROP_AFTER_DAYS, 0, minimum=1)
        settings = cls(
            after_days=reader.integer(AFTER_DAYS, 30, minimum=0),
            drop_after_days=drop_after,
            partitions_ahead=reader.integer(PARTITIONS_AHEAD, 3, minimum=0, maximum=60),
            lock_timeout_ms=reader.integer(LOCK_TIMEOUT_MS, 40, minimum=1, maximum=60_000),
            schedule=_schedule(reader),
        )
        if drop_after is not None and drop_after <= settings.after_days:
            raise ConfigurationError(
                DROP_AFTER_DAYS,
                drop_after,
                f"must exceed {AFTER_DAYS} ({settings.after_days}): months would drop unarchived",
            )
        return settings


def _schedule(reader: ConfigReader) -> str | None:
    """The cron expression of the daily job; ``off`` (or empty, ``false``) disables it."""
    value = reader.raw(SCHEDULE) if reader.is_set(SCHEDULE) else None
    if value is None:  # unset, or None in app config: the default, as for every key
        return DEFAULT_SCHEDULE
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    if not isinstance(value, str) or not croniter.is_valid(value.strip()):
        raise ConfigurationError(
            SCHEDULE, value, "expected a cron expression in UTC such as '0 2 * * *', or 'off'"
        )
    return " ".join(value.split())


def parse_duration(value: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` or a bare number of days.

    >>> parse_duration("2w")
    datetime.timedelta(days=14)
    """
    found = _DURATION.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a duration such as 30d, 12h or 2w")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


__all__ = [
    "AFTER_DAYS",
    "DROP_AFTER_DAYS",
    "LOCK_TIMEOUT_MS",
    "PARTITIONS_AHEAD",
    "SCHEDULE",
    "ArchiveSettings",
    "parse_duration",
]
