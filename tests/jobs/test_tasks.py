"""Declared tasks on real Redis: enqueue, JSON arguments, priorities, progress, retries, dead
letters, unique jobs and the status record."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from rq.job import Job
from rq.serializers import JSONSerializer

from flask_resilience import get_state
from flask_resilience.jobs import records, runtime, unique

from . import tasks
from .conftest import drain


def _token() -> str:
    return uuid.uuid4().hex[:8]


def test_enqueue_returns_a_handle_and_a_queued_record(jobs_app: Flask) -> None:
    """enqueue returns the id and status URL at once and writes a queued status record."""
    with jobs_app.test_request_context("/"):
        handle = tasks.add.enqueue(2, 3)
        assert handle.status == "queued" and handle.queue == "default"
        assert handle.status_url == f"/resilience/jobs/{handle.id}"
        assert handle.as_json() == {"job_id": handle.id, "status_url": handle.status_url}
        record = tasks.res.jobs.status(handle.id)
    assert record is not None and record.status == "queued" and record.task == "add"
    assert record.attempts == 0 and record.max_attempts == 1


def test_delay_is_enqueue_and_the_task_still_calls_directly(jobs_app: Flask) -> None:
    """delay() is an alias of enqueue(), and calling the task runs the function in place."""
    with jobs_app.app_context():
        assert tasks.add.delay(1, 1).status == "queued"
        assert tasks.add(4, 5) == 9


def test_arguments_must_be_json(jobs_app: Flask) -> None:
    """A non-JSON argument raises a clear TypeError at enqueue and leaves Redis untouched."""
    with jobs_app.app_context():
        before = get_state().redis.dbsize()
        with pytest.raises(TypeError, match="task 'add': job arguments must be JSON"):
            tasks.add.enqueue(object(), 1)
        assert get_state().redis.dbsize() == before


def test_job_payload_in_redis_is_json(jobs_app: Flask) -> None:
    """The job stored in Redis is JSON that names the task's import path, never pickle."""
    with jobs_app.app_context():
        handle = tasks.add.enqueue(1, 2)
        job = Job.fetch(handle.id, connection=get_state().redis, serializer=JSONSerializer)
    assert job.func_name == "tests.jobs.tasks.add"
    assert json.loads(JSONSerializer.dumps(job.args)) == [1, 2]


def test_jobs_run_in_the_app_context_with_results(jobs_app: Flask) -> None:
    """A worker runs tasks in the declaring app's context and records results."""
    with jobs_app.app_context():
        added, named = tasks.add.enqueue(2, 3), tasks.app_name.enqueue()
    drain(jobs_app)
    with jobs_app.app_context():
        added_record, named_record = (
            tasks.res.jobs.status(added.id),
            tasks.res.jobs.status(named.id),
        )
    assert added_record is not None and added_record.status == "finished"
    assert added_record.result == 5 and added_record.attempts == 1
    assert named_record is not None and named_record.result == "jobs_test_app"


def test_queues_are_served_in_priority_order(jobs_app: Flask) -> None:
    """With jobs waiting on every queue, a worker takes high before default before low."""
    with jobs_app.app_context():
        queue = runtime().queue
        for name in ("low", "default", "high"):
            queue(name).enqueue("tests.jobs.tasks.record_order.func", name, job_id=f"order-{name}")
    drain(jobs_app)
    with jobs_app.app_context():
        order = [item.decode() for item in get_state().redis.lrange("test:order", 0, -1)]
    assert order == ["high", "default", "low"]


def test_progress_is_recorded_and_kept_at_finish(jobs_app: Flask) -> None:
    """current_job_progress shows in the record, and the last value survives the finish."""
    with jobs_app.app_context():
        handle = tasks.report.enqueue(3)
    drain(jobs_app)
    with jobs_app.app_context():
        record = tasks.res.jobs.status(handle.id)
    assert record is not None and record.status == "finished"
    assert record.percent == 75.0 and record.message == "step 3 of 3"
    assert record.result == {"steps": 3}


def test_transient_failures_retry_until_success(jobs_app: Flask) -> None:
    """A task failing twice with retries=3 finishes on its third attempt."""
    token = _token()
    with jobs_app.app_context():
        handle = tasks.flaky.enqueue(token, 2)
    drain(jobs_app)
    with jobs_app.app_context():
        record = tasks.res.jobs.status(handle.id)
    assert record is not None and record.status == "finished"
    assert record.attempts == 3 and record.max_attempts == 4 and record.error is None


def test_exhausted_retries_reach_the_dead_letter_state(
    jobs_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Out of attempts, a job is dead, keeps its traceback and is logged at ERROR with its id."""
    token = _token()
    with jobs_app.app_context():
        handle = tasks.doomed.enqueue(token)
    with caplog.at_level(logging.ERROR, logger="flask_resilience.jobs"):
        drain(jobs_app)
    with jobs_app.app_context():
        record = tasks.res.jobs.status(handle.id)
        redis = get_state().redis
        traceback = redis.hget(f"resilience:job:{handle.id}", "traceback").decode()
        assert redis.zscore("resilience:jobs:dead:high", handle.id) is not None
    assert record is not None and record.status == "dead" and record.attempts == 2
    assert record.error == f"ValueError: cannot process {token}"
    assert "Traceback" in traceback and "cannot process" in traceback
    ours = [r for r in caplog.records if r.name == "flask_resilience.jobs"]
    line = next(r for r in ours if handle.id in r.getMessage())
    assert "dead after 2 attempt(s)" in line.getMessage() and line.exc_info is not None


def test_permanent_errors_fail_without_retrying(jobs_app: Flask) -> None:
    """PermanentJobError fails the job at once with a readable error, not after 4 attempts."""
    token = _token()
    with jobs_app.app_context():
        handle = tasks.malformed.enqueue(token)
    drain(jobs_app)
    with jobs_app.app_context():
        record = tasks.res.jobs.status(handle.id)
        runs = int(get_state().redis.get(f"test:malformed:{token}"))
    assert record is not None and record.status == "failed" and runs == 1
    assert record.error == "PermanentJobError: line 3: a question needs at least two options"


def test_retry_one_dead_job_and_all_of_a_task(jobs_app: Flask) -> None:
    """A dead job is requeued with a fresh budget; retry_dead filters by task."""
    with jobs_app.app_context():
        first, second = tasks.doomed.enqueue(_token()), tasks.doomed.enqueue(_token())
    drain(jobs_app)
    with jobs_app.app_context():
        requeued = tasks.res.jobs.retry(first.id)
        assert requeued.status == "queued" and requeued.attempts == 0
        assert tasks.res.jobs.retry_dead(task="other-task") == []
        assert tasks.res.jobs.retry_dead(task="doomed") == [second.id]
    drain(jobs_app)
    with jobs_app.app_context():
        for handle in (first, second):
            record = tasks.res.jobs.status(handle.id)
            assert record is not None and record.status == "dead" and record.attempts == 2


def test_status_survives_rq_dropping_the_job(jobs_app: Flask) -> None:
    """After RQ's result TTL removed the job hash, the status record still answers."""
    with jobs_app.app_context():
        handle = tasks.add.enqueue(20, 22)
    drain(jobs_app)
    with jobs_app.app_context():
        redis = get_state().redis
        redis.delete(Job.key_for(handle.id))
        record = tasks.res.jobs.status(handle.id)
        ttl = redis.ttl(f"resilience:job:{handle.id}")
    assert record is not None and record.status == "finished" and record.result == 42
    assert 7 * 24 * 3600 - 60 < ttl <= 7 * 24 * 3600


def test_status_read_is_one_hmget(jobs_app: Flask) -> None:
    """Reading a status record costs exactly one Redis command, an HMGET."""
    with jobs_app.app_context():
        handle = tasks.add.enqueue(1, 1)
        redis = get_state().redis
        redis.config_resetstat()
        tasks.res.jobs.status(handle.id)
        stats = redis.info("commandstats")
    ignored = {"cmdstat_info", "cmdstat_config|resetstat"}
    calls = {name: value["calls"] for name, value in stats.items() if name not in ignored}
    assert calls == {"cmdstat_hmget": 1}


def test_unique_task_returns_the_live_job(jobs_app: Flask) -> None:
    """A unique task enqueued twice with the same arguments gives one job until it ends."""
    with jobs_app.app_context():
        first, again = tasks.once.enqueue("k"), tasks.once.enqueue("k")
        other = tasks.once.enqueue("other")
        assert again.id == first.id and other.id != first.id
    drain(jobs_app)
    with jobs_app.app_context():
        later = tasks.once.enqueue("k")
    assert later.id != first.id and later.status == "queued"


def test_unique_claim_in_flight_is_not_taken_over(jobs_app: Flask) -> None:
    """Another process has claimed the arguments but its enqueue has not landed yet (no status
    record): an enqueue now returns that job instead of taking the claim and queueing a twin;
    a claim whose claimer died before enqueueing is taken over once it is older than the grace."""
    spec = tasks.once.spec
    with jobs_app.app_context():
        connection = get_state().redis
        key = unique.claim_key(spec, ("racing",), {})
        connection.set(key, "in-flight-job", ex=unique.claim_seconds(spec))  # claimed, no record
        assert tasks.once.enqueue("racing").id == "in-flight-job"
        queued = runtime().queue("default").get_job_ids()
        assert "in-flight-job" not in queued and len(queued) == 0
        stale = unique.claim_seconds(spec) - unique.CLAIM_GRACE_SECONDS - 1
        connection.set(key, "crashed-claimer", ex=stale)  # claimed long ago, never enqueued
        taken = tasks.once.enqueue("racing")
        assert (
            taken.id != "crashed-claimer" and taken.id in runtime().queue("default").get_job_ids()
        )
        assert connection.get(key).decode() == taken.id


def test_enqueue_in_and_at_schedule_the_job(jobs_app: Flask) -> None:
    """enqueue_in / enqueue_at put the job in RQ's scheduled registry with status scheduled."""
    with jobs_app.app_context():
        soon = tasks.add.enqueue_in(timedelta(seconds=60), 1, 2)
        later = tasks.add.enqueue_at(datetime.now(UTC) + timedelta(hours=1), 1, 2)
        scheduled = runtime().queue("default").scheduled_job_registry.get_job_ids()
        assert {soon.id, later.id} <= set(scheduled)
        record = tasks.res.jobs.status(soon.id)
    assert soon.status == later.status == "scheduled"
    assert record is not None and record.status == "scheduled"


def test_enqueue_many_queues_every_call(jobs_app: Flask) -> None:
    """enqueue_many takes argument lists or keyword dicts and queues them in one go."""
    with jobs_app.app_context():
        handles = tasks.add.enqueue_many([[1, 2], {"a": 3, "b": 4}])
    drain(jobs_app)
    with jobs_app.app_context():
        results = [tasks.res.jobs.status(h.id).result for h in handles]  # type: ignore[union-attr]
    assert results == [3, 7]


def test_enqueue_many_writes_the_same_records_as_enqueue(jobs_app: Flask) -> None:
    """The batch path writes its status records in one script call; each record has the
    fields, retention and values a single enqueue gives, and a bad argument in the batch
    queues nothing at all."""
    with jobs_app.app_context():
        single = tasks.add.enqueue(1, 2)
        batch = tasks.add.enqueue_many([[3, 4], [5, 6], {"a": 7, "b": 8}])
        connection = get_state().redis
        one = connection.hgetall(records.record_key(single.id))
        many = [connection.hgetall(records.record_key(h.id)) for h in batch]
        ttls = [connection.ttl(records.record_key(h.id)) for h in [single, *batch]]
        queued = runtime().queue("default").get_job_ids()
        with pytest.raises(TypeError, match="JSON"):
            tasks.add.enqueue_many([[9, 9], [object(), 1]])
        assert runtime().queue("default").get_job_ids() == queued
    shape = {k: v for k, v in one.items() if k != b"enqueued_at"}
    assert all({k: v for k, v in r.items() if k != b"enqueued_at"} == shape for r in many)
    assert shape[b"status"] == b"queued" and shape[b"task"] == b"add"
    assert all(b"enqueued_at" in r for r in many)
    assert all(0 < ttl <= runtime(jobs_app).settings.status_ttl for ttl in ttls)
    assert {h.id for h in batch} <= set(queued)


def test_unknown_queue_fails_at_enqueue(jobs_app: Flask) -> None:
    """A task declared on a queue the app does not configure fails clearly when enqueued."""
    task = tasks.res.jobs.task(name="nowhere", queue="urgent")(tasks.add.func)
    with jobs_app.app_context(), pytest.raises(KeyError, match="unknown queue 'urgent'"):
        task.enqueue(1, 2)
