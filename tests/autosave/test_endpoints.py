"""The draft endpoints on PostgreSQL and SQLite: every status code; refusals change nothing."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem


def put(client: FlaskClient, payload: Any, **headers: str) -> Any:
    return client.put(URL, json=payload, headers={**ALICE, **headers})


def stored(client: FlaskClient) -> dict[str, Any]:
    response = client.get(URL, headers=ALICE)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_get_without_draft_is_404_problem(client: FlaskClient) -> None:
    """Reading a draft that was never saved is a 404 problem."""
    assert_problem(client.get(URL, headers=ALICE), 404)


def test_put_then_get_returns_payload_version_and_strong_etag(client: FlaskClient) -> None:
    """PUT stores the payload as version 1; GET returns it with ETag "1" and no caching."""
    response = put(client, {"answers": [1]}, **{"Client-Saved-At": "2026-01-02T03:04:05Z"})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    body = stored(client)
    assert body["payload"] == {"answers": [1]}
    assert body["version"] == 1
    assert body["client_saved_at"].startswith("2026-01-02T03:04:05")
    assert body["updated_at"]
    got = client.get(URL, headers=ALICE)
    assert got.headers["ETag"] == '"1"'
    assert got.headers["Cache-Control"] == "no-store"


def test_if_none_match_current_version_is_304(client: FlaskClient) -> None:
    """A client holding the current version gets 304 and no body."""
    put(client, {"a": 1})
    response = client.get(URL, headers={**ALICE, "If-None-Match": '"1"'})
    assert response.status_code == 304
    assert response.headers["ETag"] == '"1"'


def test_each_write_bumps_the_version_by_one(client: FlaskClient) -> None:
    """Versions count accepted writes."""
    for expected in (1, 2, 3):
        assert put(client, {"n": expected}).get_json()["version"] == expected


def test_matching_if_match_is_accepted(client: FlaskClient) -> None:
    """If-Match with the current version (or *) writes and returns the next ETag."""
    put(client, {"a": 1})
    response = put(client, {"a": 2}, **{"If-Match": '"1"'})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert put(client, {"a": 3}, **{"If-Match": "*"}).status_code == 200


def test_stale_if_match_is_412_with_current_version_and_payload(client: FlaskClient) -> None:
    """A stale ETag gets 412 carrying what is stored, and the write is not applied."""
    put(client, {"a": 1})
    put(client, {"a": 2})
    body = assert_problem(put(client, {"a": "mine"}, **{"If-Match": '"1"'}), 412)
    assert body["current_version"] == 2
    assert body["current_payload"] == {"a": 2}
    assert stored(client)["payload"] == {"a": 2}


def test_weak_etag_never_matches(client: FlaskClient) -> None:
    """If-Match uses strong comparison, so W/"1" is a 412 even at version 1."""
    put(client, {"a": 1})
    assert_problem(put(client, {"a": 2}, **{"If-Match": 'W/"1"'}), 412)


def test_if_match_on_a_missing_draft_is_412(client: FlaskClient) -> None:
    """No draft means no version matches, not even *."""
    body = assert_problem(put(client, {"a": 1}, **{"If-Match": '"1"'}), 412)
    assert body["current_version"] is None
    assert_problem(put(client, {"a": 1}, **{"If-Match": "*"}), 412)
    assert_problem(client.get(URL, headers=ALICE), 404)


def test_patch_is_a_json_merge_patch(client: FlaskClient) -> None:
    """Members replace, objects merge, null deletes, arrays are replaced whole (RFC 7396)."""
    put(client, {"title": "x", "meta": {"a": 1, "b": 2}, "answers": [1, 2], "gone": True})
    patch = {"meta": {"a": None, "c": 3}, "answers": [9], "gone": None, "new": {"x": 1}}
    response = client.patch(
        URL, data=_json(patch), content_type="application/merge-patch+json", headers=ALICE
    )
    assert response.status_code == 200
    assert stored(client)["payload"] == {
        "title": "x",
        "meta": {"b": 2, "c": 3},
        "answers": [9],
        "new": {"x": 1},
    }


def test_patch_without_a_draft_creates_one(client: FlaskClient) -> None:
    """PATCH applies to an empty document when there is no draft yet (application/json too)."""
    response = client.patch(URL, json={"a": 1, "b": None}, headers=ALICE)
    assert response.status_code == 200
    assert stored(client)["payload"] == {"a": 1}


def test_json_patch_is_415(client: FlaskClient) -> None:
    """RFC 6902 JSON Patch is not offered; the 415 names the accepted format."""
    response = client.patch(
        URL, data="[]", content_type="application/json-patch+json", headers=ALICE
    )
    assert_problem(response, 415)
    assert response.headers["Accept-Patch"] == "application/merge-patch+json"


def test_delete_is_204_then_the_draft_is_gone(client: FlaskClient) -> None:
    """DELETE removes the draft (204, also when there was none)."""
    put(client, {"a": 1})
    assert client.delete(URL, headers=ALICE).status_code == 204
    assert_problem(client.get(URL, headers=ALICE), 404)
    assert client.delete(URL, headers=ALICE).status_code == 204


def test_delete_with_stale_if_match_is_412_and_keeps_the_draft(client: FlaskClient) -> None:
    """A DELETE guarded by an old version does not remove a newer draft."""
    put(client, {"a": 1})
    put(client, {"a": 2})
    assert_problem(client.delete(URL, headers={**ALICE, "If-Match": '"1"'}), 412)
    assert stored(client)["version"] == 2
    assert client.delete(URL, headers={**ALICE, "If-Match": '"2"'}).status_code == 204


def test_invalid_json_is_400_and_changes_nothing(client: FlaskClient) -> None:
    """A body that is not JSON (or uses NaN) is a 400; the draft stays as it was."""
    put(client, {"a": 1})
    for body in ("{nope", "", '{"a": NaN}'):
        response = client.put(URL, data=body, content_type="application/json", headers=ALICE)
        assert_problem(response, 400)
    assert stored(client)["version"] == 1


def test_bad_client_timestamp_or_idempotency_key_is_400(client: FlaskClient) -> None:
    """Client-Saved-At must be ISO 8601 or epoch ms; Idempotency-Key 1..255 characters."""
    assert_problem(put(client, {"a": 1}, **{"Client-Saved-At": "yesterday"}), 400)
    assert_problem(put(client, {"a": 1}, **{"Idempotency-Key": "k" * 256}), 400)
    assert put(client, {"a": 1}, **{"Client-Saved-At": "1767225600000"}).status_code == 200
    assert stored(client)["client_saved_at"].startswith("2026-01-01T00:00:00")


def test_client_saved_at_is_stored_in_utc(client: FlaskClient) -> None:
    """An offset is converted, not dropped: SQLite keeps no offset, so the time would shift."""
    put(client, {"a": 1}, **{"Client-Saved-At": "2026-01-02T03:04:05+02:00"})
    assert stored(client)["client_saved_at"] == "2026-01-02T01:04:05+00:00"
    put(client, {"a": 2}, **{"Client-Saved-At": "2026-01-02T03:04:05-05:30"})
    assert stored(client)["client_saved_at"] == "2026-01-02T08:34:05+00:00"


def test_a_draft_is_a_json_object(client: FlaskClient) -> None:
    """A list or a string is well-formed JSON but not a draft: 422 at the root path."""
    body = assert_problem(client.put(URL, json=[1, 2], headers=ALICE), 422)
    assert body["path"] == ""


def test_body_over_max_bytes_is_413(client: FlaskClient) -> None:
    """The small kind allows 64 bytes: a bigger body is refused before it is parsed."""
    url = "/resilience/autosave/small/alice-1"
    body = assert_problem(client.put(url, json={"text": "x" * 100}, headers=ALICE), 413)
    assert body["max_bytes"] == 64
    assert_problem(client.get(url, headers=ALICE), 404)


def test_patch_growing_the_draft_past_max_bytes_is_413(client: FlaskClient) -> None:
    """Each patch is small, but the merged document may not outgrow the limit."""
    url = "/resilience/autosave/small/alice-1"
    assert client.patch(url, json={"a": "x" * 30}, headers=ALICE).status_code == 200
    assert_problem(client.patch(url, json={"b": "y" * 30}, headers=ALICE), 413)
    assert client.get(url, headers=ALICE).get_json()["payload"] == {"a": "x" * 30}


def test_schema_violation_is_422_with_the_failing_path(client: FlaskClient) -> None:
    """A JSON Schema kind names the JSON Pointer of the member that failed."""
    url = "/resilience/autosave/quiz/alice-1"
    body = assert_problem(
        client.put(
            url, json={"answers": [{"question_id": 1}, {"question_id": "x"}]}, headers=ALICE
        ),
        422,
    )
    assert body["path"] == "/answers/1/question_id"
    assert_problem(client.get(url, headers=ALICE), 404)


def test_callable_validator_is_422_with_its_path(client: FlaskClient) -> None:
    """A callable schema raises DraftValidationError with a path."""
    url = "/resilience/autosave/calc/alice-1"
    body = assert_problem(client.put(url, json={"total": -1}, headers=ALICE), 422)
    assert body["path"] == "/total"
    assert client.put(url, json={"total": 1}, headers=ALICE).status_code == 200


def test_unknown_kind_is_404(client: FlaskClient) -> None:
    """Only registered kinds have endpoints."""
    assert_problem(client.get("/resilience/autosave/nope/alice-1", headers=ALICE), 404)
    assert_problem(client.put("/resilience/autosave/nope/alice-1", json={}, headers=ALICE), 404)


def test_unsupported_method_is_405_problem(client: FlaskClient) -> None:
    """POST to a draft (not its beacon) is a 405 problem."""
    assert_problem(client.post(URL, json={}, headers=ALICE), 405)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def test_stale_version_wins_over_invalid_body(client: FlaskClient) -> None:
    """A stale If-Match with an invalid body reports the 412 first, as the client must reload."""
    url = "/resilience/autosave/quiz/alice-1"
    client.put(url, json={"answers": []}, headers=ALICE)
    client.put(url, json={"answers": []}, headers=ALICE)
    bad = {"answers": [{"question_id": "x"}]}
    assert_problem(client.put(url, json=bad, headers={**ALICE, "If-Match": '"1"'}), 412)
    assert_problem(client.put(url, json=bad, headers={**ALICE, "If-Match": '"2"'}), 422)
