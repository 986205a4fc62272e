"""Cache keys from templates: ``"quiz:{quiz_id}"`` filled from view or function arguments.

Keys are built from *bound* arguments with defaults applied, so ``f(1)`` and ``f(1, None)`` name
the same entry and ``f(1, 0)`` another (Flask-Caching's memoize mixed falsy defaults up, #656).
Query arguments are sorted and re-encoded, so ``?b=2&a=1`` and ``?a=1&b=2`` share an entry, and
only the listed ones count when a list is given (``utm_*`` noise does not fragment the cache).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import request

MAX_KEY_LENGTH = 200
QueryArgs = bool | Sequence[str]


def template_fields(template: str) -> set[str]:
    """The argument names a template refers to (``"{quiz.id}"`` refers to ``quiz``)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field:
            names.add(field.split(".", 1)[0].split("[", 1)[0])
    return names


def check_templates(fn: Callable[..., Any], templates: Iterable[str]) -> None:
    """Fail at decoration time when a template names an argument ``fn`` does not have."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for template in templates:
        unknown = template_fields(template) - set(params)
        if unknown:
            raise ValueError(
                f"cache template {template!r} names {sorted(unknown)}, which "
                f"{fn.__qualname__}() does not take"
            )


def fill(template: str, fields: Mapping[str, Any]) -> str:
    return template.format_map(fields)


def bind(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def function_key(fn: Callable[..., Any], fields: Mapping[str, Any]) -> str:
    """A default key for a function: its dotted name plus its bound arguments as JSON."""
    args = json.dumps(fields, sort_keys=True, default=repr, separators=(",", ":"))
    return f"fn:{fn.__module__}.{fn.__qualname__}:{args}"


def view_key(endpoint: str, view_args: Mapping[str, Any]) -> str:
    """A default key for a view: its endpoint plus its URL arguments."""
    if not view_args:
        return f"view:{endpoint}"
    return f"view:{endpoint}:{urlencode(sorted((k, str(v)) for k, v in view_args.items()))}"


def query_suffix(query_args: QueryArgs) -> str:
    """``?a=1&b=2`` from the request's query string, normalized; empty when not wanted."""
    if not query_args:
        return ""
    items = request.args.items(multi=True)
    if query_args is not True:
        wanted = set(query_args)
        items = (item for item in items if item[0] in wanted)
    pairs = sorted(items)
    return "?" + urlencode(pairs) if pairs else ""


def bounded(key: str) -> str:
    """Keep keys short: a long tail becomes a hash, the readable head stays for patterns."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: MAX_KEY_LENGTH - 40]}#{digest}"


def template_name(template: str) -> str:
    """A metric name from a template: its literal head (``"quiz:list:{c}"`` -> ``quiz:list``)."""
    head = template.split("{", 1)[0].rstrip(":/|#?&=-_ ")
    return head or template
