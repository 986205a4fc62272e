"""Input that used to crash the endpoints (500) now gets a precise 4xx on PostgreSQL and SQLite.

Odd ``If-Match`` tags, deep nesting, NUL characters, keys the database cannot store, and bodies
that are not JSON. Each refusal is problem JSON and leaves the draft as it was.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem

BEACON = URL + "/beacon"


def put(client: FlaskClient, payload: Any, **headers: str) -> Any:
    return client.put(URL, json=payload, headers={**ALICE, **headers})


def stored(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get(URL, headers=ALICE).get_json()
    return body


def nested(depth: int) -> Any:
    """A document whose ``a`` member nests ``depth`` arrays (the object itself is one level)."""
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return {"a": value}


@pytest.mark.parametrize(
    "tag",
    [
        '"\u00b2"',  # superscript two: str.isdigit() is true, int() refuses it
        '"' + "9" * 30 + '"',  # beyond any INTEGER column
        '"2147483647"',  # fits the column, but its successor would not
        '"0"',
        '"-1"',
        '"1 "',
        '"v1"',
    ],
)
def test_if_match_that_cannot_be_a_version_never_matches(client: FlaskClient, tag: str) -> None:
    """Anything but 1 to 10 ASCII digits in range is a 412, never a 500."""
    put(client, {"a": 1})
    body = assert_problem(put(client, {"a": 2}, **{"If-Match": tag}), 412)
    assert body["current_version"] == 1
    assert stored(client)["payload"] == {"a": 1}


def test_if_match_list_with_a_bad_tag_still_matches_the_good_one(client: FlaskClient) -> None:
    """A bad tag among good ones is ignored, not fatal."""
    put(client, {"a": 1})
    assert put(client, {"a": 2}, **{"If-Match": '"' + "9" * 30 + '", "1"'}).status_code == 200


@pytest.mark.parametrize("version", [10**30, 2**31, -1])
def test_beacon_version_out_of_range_is_412(client: FlaskClient, version: int) -> None:
    """The beacon's version is checked like If-Match: out of range never matches."""
    put(client, {"a": 1})
    envelope = json.dumps({"version": version, "payload": {"a": 2}})
    response = client.post(BEACON, data=envelope, content_type="text/plain", headers=ALICE)
    assert_problem(response, 412)
    assert stored(client)["payload"] == {"a": 1}


def test_deeply_nested_body_is_400(client: FlaskClient) -> None:
    """JSON nested past Python's recursion limit, or past 64 levels, is a 400."""
    very_deep = "[" * 30_000 + "]" * 30_000  # under max_bytes, past the recursion limit
    response = client.put(URL, data=very_deep, content_type="application/json", headers=ALICE)
    assert_problem(response, 400)
    assert_problem(put(client, nested(64)), 400)
    assert put(client, nested(63)).status_code == 200


def test_deeply_nested_patch_and_beacon_are_400(client: FlaskClient) -> None:
    """The limit is the same whatever the route into the draft."""
    put(client, {"a": 1})
    patch = client.patch(URL, json=nested(64), headers=ALICE)
    assert_problem(patch, 400)
    envelope = json.dumps({"version": 1, "payload": nested(64)})
    beacon = client.post(BEACON, data=envelope, content_type="text/plain", headers=ALICE)
    assert_problem(beacon, 400)
    assert stored(client)["version"] == 1


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"notes": "a\u0000b"}, "/notes"),
        ({"answers": [{"text": "ok"}, {"text": "\u0000"}]}, "/answers/1/text"),
        ({"a/b": {"x\u0000": 1}}, "/a~1b"),
    ],
)
def test_nul_character_is_422_with_its_path(client: FlaskClient, payload: Any, path: str) -> None:
    """PostgreSQL's JSONB cannot store U+0000; both databases refuse it before writing."""
    put(client, {"a": 1})
    body = assert_problem(put(client, payload, **{"If-Match": '"1"'}), 422)
    assert body["path"] == path
    assert stored(client)["payload"] == {"a": 1}


def test_nul_character_in_a_patch_or_beacon_is_422(client: FlaskClient) -> None:
    """A merge patch or a beacon cannot smuggle one in either."""
    put(client, {"a": 1})
    assert_problem(client.patch(URL, json={"b": "\u0000"}, headers=ALICE), 422)
    envelope = json.dumps({"version": 1, "payload": {"b": "\u0000"}})
    beacon = client.post(BEACON, data=envelope, content_type="text/plain", headers=ALICE)
    assert assert_problem(beacon, 422)["path"] == "/b"
    draft = stored(client)
    assert (draft["version"], draft["payload"]) == (1, {"a": 1})


def test_keys_the_database_cannot_store_are_refused(client: FlaskClient) -> None:
    """A NUL in the draft key is a 404; in an idempotency key, a 400."""
    response = client.put("/resilience/autosave/note/alice-%00", json={"a": 1}, headers=ALICE)
    assert_problem(response, 404)
    envelope = json.dumps({"version": None, "payload": {"a": 1}, "idempotency_key": "k\u0000"})
    beacon = client.post(BEACON, data=envelope, content_type="text/plain", headers=ALICE)
    assert_problem(beacon, 400)
    assert client.get(URL, headers=ALICE).status_code == 404


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("PUT", "text/plain"),
        ("PUT", "application/x-www-form-urlencoded"),
        ("PUT", None),
        ("PUT", "application/merge-patch+json"),  # a patch is not a whole document
        ("PATCH", "text/plain"),
        ("PATCH", "application/json-patch+json"),
    ],
)
def test_a_body_that_is_not_json_is_415(
    client: FlaskClient, method: str, content_type: str | None
) -> None:
    """PUT takes application/json; PATCH also application/merge-patch+json; others are 415."""
    put(client, {"a": 1})
    response = client.open(
        URL, method=method, data='{"a": 2}', content_type=content_type, headers=ALICE
    )
    assert_problem(response, 415)
    if method == "PATCH":
        assert response.headers["Accept-Patch"] == "application/merge-patch+json"
    assert stored(client)["payload"] == {"a": 1}


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("PUT", "application/json"),
        ("PUT", "application/json; charset=utf-8"),
        ("PATCH", "application/json"),
        ("PATCH", "application/merge-patch+json"),
    ],
)
def test_json_bodies_are_accepted(client: FlaskClient, method: str, content_type: str) -> None:
    """The accepted types, with or without parameters."""
    response = client.open(
        URL, method=method, data='{"a": 2}', content_type=content_type, headers=ALICE
    )
    assert response.status_code == 200
