"""RFC 7396 JSON Merge Patch, as plain Python so workers, scripts and tests use it without Flask.

A merge patch mirrors the shape of the document it changes: members present replace the target's,
objects merge recursively, ``null`` deletes a member, and arrays (like every non-object) are
replaced whole. It is the natural format for a draft whose client knows which fields it touched.

>>> merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 4}, "e": [1]})
{'b': {'c': 4, 'd': 3}, 'e': [1]}
"""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """The result of applying ``patch`` to ``target`` (RFC 7396 section 2); inputs are not changed.

    >>> merge_patch({"answers": [1, 2]}, {"answers": [3]})
    {'answers': [3]}
    >>> merge_patch({"a": 1}, "replaced")
    'replaced'
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def diff_merge_patch(source: Any, target: Any) -> Any:
    """A merge patch that turns ``source`` into ``target``: what a client sends to save a change.

    ``None`` values inside ``target`` cannot be expressed (RFC 7396 reads them as deletions), so
    callers keep them out of drafts or send the whole document with PUT.

    >>> diff_merge_patch({"a": 1, "b": 2}, {"a": 1, "c": 3})
    {'b': None, 'c': 3}
    """
    if not isinstance(source, dict) or not isinstance(target, dict):
        return target
    patch: dict[str, Any] = {name: None for name in source if name not in target}
    for name, value in target.items():
        if name not in source:
            patch[name] = value
        elif source[name] != value:
            patch[name] = diff_merge_patch(source[name], value)
    return patch
