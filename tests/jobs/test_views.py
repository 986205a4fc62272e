"""``GET /resilience/jobs/<id>`` and the admin job routes: shape, owner check, paging, retry,
cancel and delete; plus the job metrics and the ``flask resilience jobs`` commands."""

from __future__ import annotations

import uuid

from flask import Flask

from flask_resilience.cli import resilience_group
from flask_resilience.jobs import runtime

from . import tasks
from .conftest import drain

ADMIN = {"X-Admin": "yes"}


def _enqueue_as(app: Flask, user: str | None, *args: int) -> str:
    headers = {"X-User": user} if user else {}
    with app.test_request_context("/", headers=headers):
        return tasks.add.enqueue(*args).id


def test_status_endpoint_shape(jobs_app: Flask) -> None:
    """The endpoint answers the documented fields, progress and result included."""
    with jobs_app.app_context():
        job_id = tasks.report.enqueue(1).id
    drain(jobs_app)
    body = jobs_app.test_client().get(f"/resilience/jobs/{job_id}").get_json()
    assert body["id"] == job_id and body["task"] == "report" and body["queue"] == "low"
    assert body["status"] == "finished" and body["result"] == {"steps": 1}
    assert body["progress"] == {"percent": 50.0, "message": "step 1 of 1"}
    assert body["attempts"] == 1 and body["error"] is None
    assert body["enqueued_at"] and body["started_at"] and body["ended_at"]


def test_unknown_job_is_a_404_problem(jobs_app: Flask) -> None:
    """An unknown id answers 404 problem JSON."""
    response = jobs_app.test_client().get("/resilience/jobs/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_owner_sees_their_job_others_do_not_admins_do(jobs_app: Flask) -> None:
    """A job belongs to the user who enqueued it; another user gets 404, an admin sees it."""
    job_id = _enqueue_as(jobs_app, "alice", 1, 2)
    client = jobs_app.test_client()
    url = f"/resilience/jobs/{job_id}"
    assert client.get(url, headers={"X-User": "alice"}).status_code == 200
    assert client.get(url, headers={"X-User": "bob"}).status_code == 404
    assert client.get(url).status_code == 404
    assert client.get(url, headers=ADMIN).status_code == 200
    anonymous = _enqueue_as(jobs_app, None, 1, 2)
    assert client.get(f"/resilience/jobs/{anonymous}", headers={"X-User": "bob"}).status_code == 200


def test_admin_lists_failed_and_dead_jobs_paged(jobs_app: Flask) -> None:
    """GET /admin/jobs filters by status and queue and pages the result."""
    with jobs_app.app_context():
        ids = {tasks.doomed.enqueue(uuid.uuid4().hex).id for _ in range(3)}
        tasks.add.enqueue(1, 1)
    drain(jobs_app)
    client = jobs_app.test_client()
    assert client.get("/resilience/admin/jobs").status_code == 403
    first = client.get("/resilience/admin/jobs?status=dead&per_page=2", headers=ADMIN).get_json()
    second = client.get("/resilience/admin/jobs?status=dead&per_page=2&page=2", headers=ADMIN)
    listed = {job["id"] for job in first["jobs"] + second.get_json()["jobs"]}
    assert first["total"] == 3 and len(first["jobs"]) == 2 and listed == ids
    failed = client.get("/resilience/admin/jobs?status=failed&queue=high", headers=ADMIN)
    assert failed.get_json()["total"] == 3
    assert (
        client.get("/resilience/admin/jobs?status=failed&queue=low", headers=ADMIN).get_json()[
            "total"
        ]
        == 0
    )
    high_dead = client.get("/resilience/admin/jobs?status=dead&queue=high", headers=ADMIN)
    assert high_dead.get_json()["total"] == 3  # each queue has its own dead-letter set
    low_dead = client.get("/resilience/admin/jobs?status=dead&queue=low", headers=ADMIN)
    assert low_dead.get_json() == {"jobs": [], "total": 0, "page": 1, "per_page": 50}
    finished = client.get("/resilience/admin/jobs?status=finished", headers=ADMIN).get_json()
    assert finished["total"] == 1 and finished["jobs"][0]["task"] == "add"
    assert client.get("/resilience/admin/jobs?status=bogus", headers=ADMIN).status_code == 400


def test_admin_retry_cancel_delete(jobs_app: Flask) -> None:
    """Retry answers 202 then 409 on a double click; cancel stops a queued job; delete 204s."""
    with jobs_app.app_context():
        dead = tasks.doomed.enqueue(uuid.uuid4().hex).id
    drain(jobs_app)
    with jobs_app.app_context():
        waiting = tasks.add.enqueue(1, 2).id
    client = jobs_app.test_client()
    retried = client.post(f"/resilience/admin/jobs/{dead}/retry", headers=ADMIN)
    assert retried.status_code == 202 and retried.get_json()["status"] == "queued"
    assert client.post(f"/resilience/admin/jobs/{dead}/retry", headers=ADMIN).status_code == 409
    canceled = client.post(f"/resilience/admin/jobs/{waiting}/cancel", headers=ADMIN)
    assert canceled.status_code == 200 and canceled.get_json()["status"] == "canceled"
    assert client.post(f"/resilience/admin/jobs/{waiting}/cancel", headers=ADMIN).status_code == 409
    assert client.delete(f"/resilience/admin/jobs/{waiting}", headers=ADMIN).status_code == 204
    assert client.get(f"/resilience/jobs/{waiting}").status_code == 404
    assert client.delete(f"/resilience/admin/jobs/{waiting}", headers=ADMIN).status_code == 404
    assert client.post("/resilience/admin/jobs/nope/retry", headers=ADMIN).status_code == 404


def test_metrics_report_depth_counters_and_durations(jobs_app: Flask) -> None:
    """/metrics shows queue depth per registry, outcome counters and the duration histogram."""
    with jobs_app.app_context():
        tasks.add.enqueue(1, 2)
        tasks.doomed.enqueue(uuid.uuid4().hex)
    drain(jobs_app)
    with jobs_app.app_context():
        tasks.add.enqueue(3, 4)
    text = jobs_app.test_client().get("/metrics").get_data(as_text=True)
    assert 'resilience_jobs_queue_depth{queue="default",registry="queued"} 1.0' in text
    assert 'resilience_jobs_queue_depth{queue="high",registry="failed"} 1.0' in text
    assert 'resilience_jobs_queue_depth{queue="high",registry="dead"} 1.0' in text
    assert 'resilience_jobs_queue_depth{queue="low",registry="dead"} 0.0' in text
    assert 'resilience_jobs_total{outcome="finished",task="add"} 1.0' in text
    assert 'resilience_jobs_total{outcome="retried",task="doomed"} 1.0' in text
    assert 'resilience_jobs_total{outcome="dead",task="doomed"} 1.0' in text
    assert 'resilience_jobs_duration_seconds_count{task="add"} 1.0' in text


def test_cli_retry_retry_dead_list_and_relay(jobs_app: Flask) -> None:
    """The jobs commands retry one job, retry the dead of a task, list jobs and relay."""
    with jobs_app.app_context():
        first, second = (tasks.doomed.enqueue(uuid.uuid4().hex).id for _ in range(2))
    drain(jobs_app)
    runner = jobs_app.test_cli_runner()
    listed = runner.invoke(resilience_group, ["jobs", "list", "--status", "dead"])
    assert listed.exit_code == 0 and first in listed.output and second in listed.output
    assert (
        runner.invoke(resilience_group, ["jobs", "retry", first]).output.strip().endswith("queued")
    )
    again = runner.invoke(resilience_group, ["jobs", "retry", first])
    assert again.exit_code != 0 and "not failed" in again.output
    dead = runner.invoke(resilience_group, ["jobs", "retry-dead", "--task", "doomed"])
    assert "requeued 1 dead job(s)" in dead.output
    assert "relayed 0 job(s)" in runner.invoke(resilience_group, ["jobs", "relay"]).output
    with jobs_app.app_context():
        assert runtime().queue("high").count == 2
