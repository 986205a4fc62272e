"""Inside a running job: the lease keeper renews a lease before it lapses, whatever it was
sleeping for, and progress reports are best effort."""

from __future__ import annotations

import logging

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from flask_resilience import get_state
from flask_resilience.jobs import current_job_progress, execution, records
from flask_resilience.jobs.execution import LeaseKeeper

from .conftest import wait_for


def test_a_short_lease_held_while_the_keeper_sleeps_long_is_renewed(jobs_app: Flask) -> None:
    """The keeper sleeps a third of the 60 s lease it renewed last; a job with a 2 s lease held
    then is renewed at once (hold wakes the keeper), not after the 20 s sleep, by which time a
    sweep would have taken the job for abandoned and run it again."""
    with jobs_app.app_context():
        connection = get_state().redis
    keeper = LeaseKeeper()
    long_key, short_key = records.lease_key("long-job"), records.lease_key("short-job")
    connection.set(long_key, 1, ex=60)
    keeper.hold(connection, "long-job", 60)
    wait_for(lambda: not keeper._wake.is_set(), 5, "the keeper to renew and go to sleep")
    keeper.release("long-job")
    connection.set(short_key, 1, px=1500)
    keeper.hold(connection, "short-job", 2)
    wait_for(lambda: connection.pttl(short_key) > 1600, 1.4, "the 2 s lease to be renewed")
    keeper.release("short-job")
    connection.delete(long_key, short_key)


def test_progress_while_redis_is_unreachable_is_dropped_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A progress report is for watchers: with the job's Redis gone it logs a warning and the
    task carries on, instead of failing the job (and spending an attempt) over a status line."""
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    token = execution._running.set(execution.Running(unreachable, "job-1", 60))
    try:
        with caplog.at_level(logging.WARNING, logger="flask_resilience.jobs"):
            current_job_progress(50, "half way")
    finally:
        execution._running.reset(token)
    assert "could not record progress of job job-1" in caplog.text
    with pytest.raises(ValueError, match="between 0 and 100"):  # bad input still raises
        token = execution._running.set(execution.Running(unreachable, "job-1", 60))
        try:
            current_job_progress(150)
        finally:
            execution._running.reset(token)
