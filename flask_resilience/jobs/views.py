"""``GET <prefix>/jobs/<id>``: a job's status for the client that enqueued it.

Job ids are not secrets (they appear in URLs and logs), so the route checks ownership: a job
enqueued during a request belongs to ``user_loader()``'s id at that moment, and only that user
or an administrator (``admin_auth``) sees it; a job enqueued with no user (a script, a periodic
job, an anonymous request) is visible to anyone holding its id. Someone else's job answers 404,
exactly like an unknown one, so ids cannot be probed.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..problems import problem_response, register_problem_handlers
from ..state import get_state
from .records import REDIS_DOWN, JobRecord


def jobs_blueprint() -> Blueprint:
    blueprint = Blueprint("resilience_jobs", __name__)
    blueprint.add_url_rule("/<job_id>", "job_status", job_status)
    register_problem_handlers(blueprint)
    return blueprint


def job_status(job_id: str) -> Response:
    state = get_state()
    try:
        record = state.capabilities["jobs"].record(job_id)
    except REDIS_DOWN:
        return problem_response(
            503, detail="the job store (Redis) is unreachable; retry shortly", job_id=job_id
        )
    if record is None or not can_see(record):
        return problem_response(404, detail=f"there is no job {job_id}")
    return jsonify(record.as_json())


def can_see(record: JobRecord) -> bool:
    """Owner or admin; ownerless jobs are visible to whoever holds the id."""
    if record.owner is None:
        return True
    state = get_state()
    user = state.current_user_id()
    return (user is not None and str(user) == record.owner) or state.is_admin()
