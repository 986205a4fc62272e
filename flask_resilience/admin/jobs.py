"""Admin job routes: list by status and queue (paged), retry, cancel, delete.

``POST /jobs/<id>/retry`` answers 202 (the job is queued, not done) and 409 when the job is not
failed, so a double click cannot queue a job twice. ``POST /jobs/retry-dead`` requeues every
dead job, or those of ``?task=``.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..jobs import control
from ..jobs.control import JobConflict, JobNotFound
from ..jobs.runtime import JobsRuntime
from ..problems import problem_response
from ..state import ResilienceState

MAX_PER_PAGE = 200


def init_jobs(blueprint: Blueprint, state: ResilienceState) -> None:
    """Mount the job routes on the admin ``blueprint``."""
    blueprint.add_url_rule("/jobs", "jobs_list", _list, methods=["GET"])
    blueprint.add_url_rule("/jobs/retry-dead", "jobs_retry_dead", _retry_dead, methods=["POST"])
    blueprint.add_url_rule("/jobs/<job_id>/retry", "jobs_retry", _retry, methods=["POST"])
    blueprint.add_url_rule("/jobs/<job_id>/cancel", "jobs_cancel", _cancel, methods=["POST"])
    blueprint.add_url_rule("/jobs/<job_id>", "jobs_delete", _delete, methods=["DELETE"])
    blueprint.register_error_handler(JobNotFound, _not_found)
    blueprint.register_error_handler(JobConflict, _conflict)


def _runtime() -> JobsRuntime:
    return control.runtime_of(current_app)


def _list() -> Response:
    runtime = _runtime()
    status = request.args.get("status", "failed")
    queue = request.args.get("queue") or None
    page = request.args.get("page", "1")
    per_page = request.args.get("per_page", "50")
    if not page.isdigit() or not per_page.isdigit() or int(page) < 1 or int(per_page) < 1:
        return problem_response(400, detail="page and per_page are positive integers")
    if queue is not None and queue not in runtime.settings.queues:
        return problem_response(400, detail=f"unknown queue {queue!r}", queue=queue)
    try:
        body = control.list_jobs(
            runtime, status, queue, int(page), min(int(per_page), MAX_PER_PAGE)
        )
    except ValueError as exc:
        return problem_response(400, detail=str(exc), status_filter=status)
    return jsonify(body)


def _retry(job_id: str) -> tuple[Response, int]:
    record = control.retry_job(_runtime(), job_id)
    return jsonify(record.as_json()), 202


def _retry_dead() -> tuple[Response, int]:
    task = request.args.get("task") or None
    ids = control.retry_dead(_runtime(), task)
    return jsonify({"retried": ids}), 202


def _cancel(job_id: str) -> Response:
    record = control.cancel_job(_runtime(), job_id)
    return jsonify(record.as_json())


def _delete(job_id: str) -> tuple[str, int]:
    control.delete_job(_runtime(), job_id)
    return "", 204


def _not_found(exc: JobNotFound) -> Response:
    return problem_response(404, detail=f"there is no job {exc.args[0]}")


def _conflict(exc: JobConflict) -> Response:
    return problem_response(409, detail=str(exc))
