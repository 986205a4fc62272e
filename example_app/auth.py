"""Who is calling: bearer tokens for the API, a session cookie for the pages, and the login routes.

Tokens are signed user ids (itsdangerous) rather than rows in a table, so a token costs no database
write and every instance behind a load balancer can check it with just ``SECRET_KEY``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from flask_resilience.problems import problem_response

from .db import get_session
from .extensions import resilience
from .models import User

P = ParamSpec("P")
R = TypeVar("R")

TOKEN_SALT = "example-app-auth"
TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
# Checked against when the user name is unknown, so a wrong name costs as long as a wrong password
# and response times do not reveal which user names exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

bp = Blueprint("auth", __name__)


def issue_token(user_id: int) -> str:
    """A signed bearer token carrying ``user_id``, valid for ``TOKEN_MAX_AGE_SECONDS``."""
    return _serializer().dumps(user_id)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def _user_id_from_token(token: str) -> int | None:
    try:
        value = _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
    except BadSignature:  # also covers SignatureExpired
        return None
    return value if isinstance(value, int) else None


def current_user() -> User | None:
    """The caller, from ``Authorization: Bearer`` when sent (never falling back to the cookie then,
    so a bad token is a 401 rather than a silent switch of identity), else from the session."""
    if "example_user" not in g:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            user_id = _user_id_from_token(token.strip()) if scheme.lower() == "bearer" else None
        else:
            raw = session.get("user_id")
            user_id = raw if isinstance(raw, int) else None
        g.example_user = get_session().get(User, user_id) if user_id is not None else None
    return g.example_user  # type: ignore[no-any-return]


def unauthorized() -> Response:
    """The 401 problem every protected API route answers without a valid token."""
    return problem_response(
        401,
        detail="Send Authorization: Bearer <token>; get a token from POST /auth/login.",
        headers={"WWW-Authenticate": 'Bearer realm="example_app"'},
    )


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Answer 401 problem JSON unless the caller is a known user."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_user() is None:
            return unauthorized()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Answer 401 for anonymous callers and 403 problem JSON for players."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        user = current_user()
        if user is None:
            return unauthorized()
        if not user.is_admin:
            return problem_response(403, detail="This action needs an admin account.")
        return view(*args, **kwargs)

    return wrapper


@resilience.user_loader
def _resilience_user_id() -> Any:
    """Tell the extension who is calling (for per-user rate limits, autosave owners, ...)."""
    if not has_request_context():
        return None
    user = current_user()
    return user.id if user else None


@resilience.admin_auth
def _resilience_is_admin() -> bool:
    """Let the admin's bearer token or browser session open the extension's admin routes."""
    if not has_request_context():
        return False
    user = current_user()
    return bool(user and user.is_admin)


def authenticate(username: Any, password: Any) -> User | None:
    """The user whose name and password match, else None (in about the same time either way)."""
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    user = get_session().scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


@bp.post("/auth/login")
@resilience.limits.login
def api_login() -> Response | tuple[dict[str, str], int]:
    """Exchange a user name and password for a bearer token."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem_response(
            400, detail='Send a JSON object {"username": ..., "password": ...}.'
        )
    for field in ("username", "password"):
        if not isinstance(body.get(field), str) or not body[field]:
            return problem_response(422, detail=f"{field} must be a non-empty string.", field=field)
    user = authenticate(body["username"], body["password"])
    if user is None:
        return problem_response(401, detail="Unknown user name or wrong password.")
    return {"token": issue_token(user.id)}, 200


@bp.route("/login", methods=["GET", "POST"])
@resilience.limits.login  # POST only: showing the form is not an attempt
def login_page() -> ResponseReturnValue:
    """The HTML login form; success stores the user in the session cookie for the pages."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, error=None)
    user = authenticate(request.form.get("username"), request.form.get("password"))
    if user is None:
        error = "Unknown user name or wrong password."
        return render_template("login.html", next_url=next_url, error=error), 401
    session.clear()  # a fresh session on login, so nothing set before it carries over
    session["user_id"] = user.id
    return redirect(next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Forget the session's user."""
    session.clear()
    return redirect(url_for("pages.index"))


def _safe_next(value: str | None) -> str:
    """Only same-site paths, so ``?next=https://evil.example`` cannot send users off the site."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return url_for("pages.index")
