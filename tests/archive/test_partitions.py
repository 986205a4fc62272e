"""The plain-Python partition DDL builders and month arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from flask_resilience.archive import partitions as ddl
from flask_resilience.archive.config import parse_duration


def test_month_start_uses_utc() -> None:
    """A moment just after midnight UTC on the 1st belongs to that month, whatever its offset."""
    eastern = timezone(timedelta(hours=-5))
    assert ddl.month_start(datetime(2024, 1, 31, 19, 0, 1, tzinfo=eastern)) == date(2024, 2, 1)
    assert ddl.month_start(datetime(2024, 1, 31, 23, 59, 59)) == date(2024, 1, 1)


def test_add_months_crosses_years() -> None:
    """Month arithmetic wraps December into January in both directions."""
    assert ddl.add_months(date(2024, 11, 1), 3) == date(2025, 2, 1)
    assert ddl.add_months(date(2024, 1, 1), -1) == date(2023, 12, 1)


def test_names_and_month_ranges() -> None:
    """A name gives back its month; bounds are one of ours only when they span one UTC month."""
    month = date(2024, 2, 1)
    assert ddl.partition_name(ddl.LIVE_TABLE, month) == "resilience_metrics_y2024m02"
    assert ddl.month_of_name("resilience_metrics_archive_y2024m02") == month
    assert ddl.month_of_name("resilience_metrics_default") is None
    eastern = timezone(timedelta(hours=-5))
    low, high = datetime(2024, 1, 31, 19, tzinfo=eastern), datetime(2024, 2, 29, 19, tzinfo=eastern)
    assert ddl.month_of_range(low, high) == month
    assert ddl.month_of_range(low, high + timedelta(days=31)) is None  # two months
    assert ddl.month_of_range(low + timedelta(hours=1), high + timedelta(hours=1)) is None
    assert ddl.month_of_range(None, high) is None  # FROM (MINVALUE)


def test_check_matches_partition_bound() -> None:
    """The CHECK added before ATTACH spells exactly the partition's half-open range."""
    sql = ddl.add_check_sql("t", date(2024, 12, 1), valid=False)
    assert "recorded_at >= '2024-12-01 00:00:00+00'" in sql
    assert "recorded_at < '2025-01-01 00:00:00+00'" in sql and sql.endswith("NOT VALID")


def test_parse_duration() -> None:
    """Durations accept s/m/h/d/w suffixes and bare days, and reject anything else."""
    assert parse_duration("30d") == parse_duration("30") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("a month")
