"""Admin metric route: ``GET /metrics/<series>?start&end&include_archived&limit&order``.

Reads through ``MetricsAPI.query`` so the endpoint sees live and archived points merged, as any
caller would. ``limit`` is capped so one request cannot stream a whole series into memory. Every
parameter the endpoint cannot use, the series name included, is a 400 problem naming it, never
a 500: digits outside ASCII, times that leave the datetime range once converted to UTC, NUL.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify, request

from ..archive import MetricsAPI
from ..archive.partitions import as_utc
from ..archive.query import Order, check_series
from ..problems import problem_response
from ..state import ResilienceState

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class BadQuery(ValueError):
    """A query parameter the endpoint cannot use; ``name`` says which."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        super().__init__(detail)


def init_metrics(blueprint: Blueprint, state: ResilienceState) -> None:
    """Mount the metric route on the admin ``blueprint``."""
    blueprint.add_url_rule("/metrics/<series>", "metrics_series", _series, methods=["GET"])
    blueprint.register_error_handler(BadQuery, _bad_query)


def _series(series: str) -> Response:
    try:
        check_series(series)
    except ValueError as exc:
        raise BadQuery("series", str(exc)) from exc
    args = request.args
    start, end = _time(args.get("start"), "start"), _time(args.get("end"), "end")
    include_archived = _flag(args.get("include_archived"), "include_archived")
    limit = _limit(args.get("limit"))
    order: Order = "step" if args.get("order") == "step" else "time"
    if args.get("order", "time") not in ("time", "step"):
        raise BadQuery("order", "order is 'time' or 'step'")
    latest = _flag(args.get("latest"), "latest", default=False)
    points = MetricsAPI().query(
        series, start, end, include_archived, limit, order, descending=latest
    )
    return jsonify(
        {
            "series": series,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "include_archived": include_archived,
            "count": len(points),
            "points": [point.as_json() for point in points],
        }
    )


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise BadQuery(
            name, f"{name} must be an ISO 8601 time such as 2024-01-31T00:00:00Z"
        ) from exc
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise BadQuery(name, f"{name} is out of range once converted to UTC") from exc


def _flag(value: str | None, name: str, *, default: bool = True) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadQuery(name, f"{name} is true or false")


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    # str.isdigit() accepts "²" and other non-ASCII digits that int() refuses
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise BadQuery("limit", f"limit is an integer within [1, {MAX_LIMIT}]")
    return int(value)


def _bad_query(exc: BadQuery) -> Response:
    return problem_response(400, detail=str(exc), parameter=exc.name)
