"""The lease keeper renews a job's lease before it lapses, whatever it was sleeping for."""

from __future__ import annotations

from flask import Flask

from flask_resilience import get_state
from flask_resilience.jobs import records
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
