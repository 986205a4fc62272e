"""RFC 7396 merge patch, against the RFC's own appendix A test vectors."""

from __future__ import annotations

from typing import Any

import pytest

from flask_resilience.autosave import diff_merge_patch, merge_patch

RFC_7396_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7396_APPENDIX_A)
def test_rfc_7396_examples(target: Any, patch: Any, expected: Any) -> None:
    """Every example of RFC 7396 appendix A gives the RFC's result, inputs untouched."""
    before = repr(target)
    assert merge_patch(target, patch) == expected
    assert repr(target) == before


def test_diff_then_merge_round_trips() -> None:
    """A diff applied to its source gives the target (without nulls in the target)."""
    source = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    target = {"a": 1, "b": {"c": 4}, "e": [2], "f": "new"}
    assert merge_patch(source, diff_merge_patch(source, target)) == target
