"""The admin metric endpoint: absent without admin_auth, 403 for non-admins, data for admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from flask_resilience import Resilience

from .conftest import JAN, build

URL = "/resilience/admin/metrics/quiz:1:score"


def _app(make_app: Callable[..., Flask], url: str, admin: bool | None) -> Flask:
    app, res = build(make_app, url)
    if admin is not None:
        res.admin_auth(lambda: admin)
    with app.app_context():
        res.metrics.record_many(
            [("quiz:1:score", float(i), i, JAN + timedelta(days=i)) for i in range(40)]
        )
        res.metrics.ensure_partitions(ahead=0, now=JAN)
    return app


def test_absent_without_admin_auth(make_app: Callable[..., Flask], db_url: str) -> None:
    """Without an admin_auth callback the route does not exist."""
    assert _app(make_app, db_url, None).test_client().get(URL).status_code == 404


def test_forbidden_for_non_admins(make_app: Callable[..., Flask], db_url: str) -> None:
    """A request the callback rejects gets a 403 problem."""
    response = _app(make_app, db_url, False).test_client().get(URL)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"


def test_admin_gets_points_across_live_and_archive(
    make_app: Callable[..., Flask], db_url: str
) -> None:
    """An admin reads a window of points, with or without the archived ones."""
    app = _app(make_app, db_url, True)
    with app.app_context():
        Resilience().metrics.archive(timedelta(days=1), now=JAN + timedelta(days=45))
    client = app.test_client()
    body = client.get(URL, query_string={"start": "2024-01-30T00:00:00Z", "limit": "3"}).get_json()
    assert body["count"] == 3 and [p["value"] for p in body["points"]] == [29.0, 30.0, 31.0]
    assert [p["archived"] for p in body["points"]] == [True, True, False]
    live = client.get(URL, query_string={"include_archived": "false"}).get_json()
    assert live["count"] == 9
    bad = client.get(URL, query_string={"start": "yesterday"})
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "start"


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        (URL, {"limit": "²"}, "limit"),  # isdigit() is true, int() refuses it
        (URL, {"limit": "١٢"}, "limit"),  # Arabic-Indic digits: int() would accept them
        (URL, {"start": "0001-01-01T00:00:00+01:00"}, "start"),  # before year 1 in UTC
        (URL, {"end": "9999-12-31T23:59:59-01:00"}, "end"),  # after year 9999 in UTC
        (URL, {"start": "2024-01-01\x00"}, "start"),
        ("/resilience/admin/metrics/quiz%00score", {}, "series"),  # NUL: a DataError on PG
    ],
)
def test_unusable_parameters_are_400_problems(
    request: pytest.FixtureRequest,
    make_app: Callable[..., Flask],
    database: str,
    path: str,
    query: dict[str, str],
    parameter: str,
) -> None:
    """Each input that used to raise a 500 is a 400 problem naming the parameter."""
    url = request.getfixturevalue("db_url" if database == "postgresql" else "sqlite_url")
    response = _app(make_app, url, True).test_client().get(path, query_string=query)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["parameter"] == parameter


def test_extreme_but_valid_times_are_answered(make_app: Callable[..., Flask], db_url: str) -> None:
    """The earliest and latest instants that exist in UTC are fine bounds."""
    client = _app(make_app, db_url, True).test_client()
    window = {"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z", "limit": "5"}
    body = client.get(URL, query_string=window).get_json()
    assert body["count"] == 5
