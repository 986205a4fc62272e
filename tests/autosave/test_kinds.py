"""Callable validators: how each way of refusing a payload is answered (kinds.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from flask import Flask

from flask_resilience import Resilience

from .conftest import ALICE, assert_problem, owner_from_key


def raises_value_error(payload: Any) -> None:
    if payload.get("n", 0) < 0:
        raise ValueError("n must not be negative")


def raises_jsonschema_error(payload: Any) -> None:
    jsonschema.validate(
        payload, {"properties": {"items": {"type": "array", "items": {"type": "integer"}}}}
    )


def returns_a_verdict(payload: Any) -> bool:
    return bool(payload.get("ok"))


def has_a_bug(payload: Any) -> None:
    payload["missing"]  # a KeyError: a bug in the validator, not a refusal


def register(res: Resilience) -> None:
    res.autosave.register("valueerror", owner=owner_from_key, schema=raises_value_error)
    res.autosave.register("jsonschema", owner=owner_from_key, schema=raises_jsonschema_error)
    res.autosave.register("verdict", owner=owner_from_key, schema=returns_a_verdict)
    res.autosave.register("buggy", owner=owner_from_key, schema=has_a_bug)


@pytest.fixture
def app(make_autosave_app: Callable[..., Flask]) -> Flask:
    return make_autosave_app(register=register)


def url(kind: str) -> str:
    return f"/resilience/autosave/{kind}/alice-1"


def test_a_value_error_is_422_with_its_message(app: Flask) -> None:
    """Any ValueError (pydantic's ValidationError is one) refuses the draft."""
    client = app.test_client()
    body = assert_problem(client.put(url("valueerror"), json={"n": -1}, headers=ALICE), 422)
    assert body["detail"] == "n must not be negative"
    assert client.put(url("valueerror"), json={"n": 1}, headers=ALICE).status_code == 200


def test_a_jsonschema_validation_error_is_422_with_its_path(app: Flask) -> None:
    """A validator calling jsonschema.validate itself gets the path of the failing member."""
    client = app.test_client()
    response = client.put(url("jsonschema"), json={"items": [1, "two"]}, headers=ALICE)
    assert assert_problem(response, 422)["path"] == "/items/1"


def test_returning_false_is_422_and_true_or_none_accepts(app: Flask) -> None:
    """A validator that answers instead of raising: False refuses, anything else accepts."""
    client = app.test_client()
    assert_problem(client.put(url("verdict"), json={"ok": False}, headers=ALICE), 422)
    assert_problem(client.get(url("verdict"), headers=ALICE), 404)
    assert client.put(url("verdict"), json={"ok": True}, headers=ALICE).status_code == 200


def test_any_other_exception_is_a_bug_and_a_500(app: Flask) -> None:
    """A KeyError is not a verdict on the payload: it is logged and answered as a server error."""
    client = app.test_client()
    assert_problem(client.put(url("buggy"), json={}, headers=ALICE), 500)
    assert_problem(client.get(url("buggy"), headers=ALICE), 404)
