"""``If-None-Match: *`` and ``Autosave-Supersedes``: a client never clobbers, nor fights itself.

``If-None-Match: *`` is how a page that saw no draft saves first without replacing one that
appeared meanwhile. ``Autosave-Supersedes`` names the client's own earlier writes whose answers
it never received; the stored version may be one of theirs, and nobody else's.
"""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem

BEACON = URL + "/beacon"


def put(client: FlaskClient, payload: Any, **headers: str) -> Any:
    return client.put(URL, json=payload, headers={**ALICE, **headers})


def beacon(client: FlaskClient, envelope: dict[str, Any]) -> Any:
    return client.post(BEACON, data=json.dumps(envelope), content_type="text/plain", headers=ALICE)


def stored(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get(URL, headers=ALICE).get_json()
    return body


def test_if_none_match_star_writes_only_when_there_is_no_draft(client: FlaskClient) -> None:
    """The first save succeeds; once a draft exists the same request is a 412 carrying it."""
    assert put(client, {"a": 1}, **{"If-None-Match": "*"}).status_code == 200
    body = assert_problem(put(client, {"a": 2}, **{"If-None-Match": "*"}), 412)
    assert (body["current_version"], body["current_payload"]) == (1, {"a": 1})
    patch = client.patch(URL, json={"b": 1}, headers={**ALICE, "If-None-Match": "*"})
    assert_problem(patch, 412)
    assert stored(client)["payload"] == {"a": 1}


def test_if_none_match_with_tags_refuses_a_matching_version(client: FlaskClient) -> None:
    """RFC 9110: a write with If-None-Match fails when the current tag is listed (weakly)."""
    put(client, {"a": 1})
    assert_problem(put(client, {"a": 2}, **{"If-None-Match": 'W/"1"'}), 412)
    assert put(client, {"a": 2}, **{"If-None-Match": '"7"'}).status_code == 200


def test_beacon_version_zero_means_there_was_no_draft(client: FlaskClient) -> None:
    """``version: 0`` is the beacon's If-None-Match: *."""
    assert beacon(client, {"version": 0, "payload": {"a": 1}}).status_code == 200
    assert_problem(beacon(client, {"version": 0, "payload": {"a": 2}}), 412)
    assert stored(client)["payload"] == {"a": 1}


def test_a_write_may_replace_what_its_own_lost_write_stored(client: FlaskClient) -> None:
    """Save k1 on version 1 (answer lost), then k2 still on version 1 naming k1: accepted."""
    put(client, {"a": 1})
    put(client, {"a": 2}, **{"If-Match": '"1"', "Idempotency-Key": "k1"})
    plain = put(client, {"a": 3}, **{"If-Match": '"1"', "Idempotency-Key": "k2"})
    assert_problem(plain, 412)  # without naming k1 it is an ordinary stale write
    response = put(
        client,
        {"a": 3},
        **{"If-Match": '"1"', "Idempotency-Key": "k2", "Autosave-Supersedes": "k0, k1"},
    )
    assert response.status_code == 200
    assert (stored(client)["version"], stored(client)["payload"]) == (3, {"a": 3})


def test_superseding_never_covers_someone_elses_write(client: FlaskClient) -> None:
    """Once another writer moved the draft past k1's version, naming k1 does not help."""
    put(client, {"a": 1})
    put(client, {"a": 2}, **{"If-Match": '"1"', "Idempotency-Key": "k1"})
    put(client, {"other": "tab"})  # version 3, someone else
    response = put(
        client,
        {"a": 3},
        **{"If-Match": '"1"', "Idempotency-Key": "k2", "Autosave-Supersedes": "k1"},
    )
    body = assert_problem(response, 412)
    assert body["current_payload"] == {"other": "tab"}


def test_superseding_lifts_if_none_match_for_a_lost_first_save(client: FlaskClient) -> None:
    """The first save created the draft but its answer was lost: the next may replace it."""
    put(client, {"a": 1}, **{"If-None-Match": "*", "Idempotency-Key": "k1"})
    response = put(
        client,
        {"a": 2},
        **{"If-None-Match": "*", "Idempotency-Key": "k2", "Autosave-Supersedes": "k1"},
    )
    assert response.status_code == 200


def test_beacon_carries_superseded_keys_in_its_body(client: FlaskClient) -> None:
    """The page-exit beacon overtaken by nothing but its own regular save still lands."""
    put(client, {"a": 1})
    put(client, {"a": 2}, **{"If-Match": '"1"', "Idempotency-Key": "k1"})
    envelope = {"version": 1, "payload": {"a": 3}, "idempotency_key": "k2", "supersedes": ["k1"]}
    assert beacon(client, envelope).status_code == 200
    assert stored(client)["payload"] == {"a": 3}


def test_bad_superseded_keys_are_400(client: FlaskClient) -> None:
    """More than 16 keys, a non-list, or a key that is not printable ASCII."""
    keys = ", ".join(f"k{n}" for n in range(17))
    assert_problem(put(client, {"a": 1}, **{"Autosave-Supersedes": keys}), 400)
    assert_problem(beacon(client, {"version": None, "payload": {}, "supersedes": "k1"}), 400)
    assert_problem(beacon(client, {"version": None, "payload": {}, "supersedes": ["\u0000"]}), 400)
    assert client.get(URL, headers=ALICE).status_code == 404
