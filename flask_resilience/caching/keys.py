"""Cache keys from templates: ``"quiz:{quiz_id}"`` filled from view or function arguments.

Keys are built from *bound* arguments with defaults applied, so ``f(1)`` and ``f(1, None)`` name
the same entry and ``f(1, 0)`` another (Flask-Caching's memoize mixed falsy defaults up, #656).
Query arguments are sorted and re-encoded, so ``?b=2&a=1`` and ``?a=1&b=2`` share an entry, and
only the listed ones count when a list is given (``utm_*`` noise does not fragment the cache).

A view's key template may also name query-string fields (``"quiz:list:{category}"`` for
``?category=``): any field the view does not take as an argument. Every value is
percent-encoded into the key (letters, digits and ``-._`` stay), so what a request sends can
never add key structure (``:``, ``?``, ``|``) or reach the internal ``~`` keys.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

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


def check_templates(
    fn: Callable[..., Any],
    key: str | None,
    tags: Iterable[str],
    query_args: QueryArgs,
    view: bool | None,
) -> frozenset[str]:
    """The template fields to take from the query string; fails at decoration time on mistakes.

    A field ``fn`` does not take is a query field, unless ``fn`` is not a view (``view=False``)
    or it looks like a typo: the key template then also leaves out one of ``fn``'s arguments.
    Listing the field in ``query_args=[...]`` says it is meant.
    """
    templates = [t for t in (key, *tags) if t]
    for template in templates:
        if template.startswith("~"):
            raise ValueError(f"cache templates starting with '~' are reserved: {template!r}")
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return frozenset()
    unknown = set().union(*(template_fields(t) for t in templates)) - set(params)
    listed = set(query_args) if query_args and query_args is not True else set()
    left_out = set(params) - (template_fields(key) if key else set(params))
    if unknown and (view is False or (left_out and not unknown <= listed)):
        raise ValueError(
            f"cache template(s) {templates!r} name {sorted(unknown)}, which "
            f"{fn.__qualname__}() does not take"
            + (
                f" (and the key leaves out {sorted(left_out)}: a typo?). To key a view "
                "by a query argument, list it in query_args=[...] as well"
                if view is not False
                else ""
            )
        )
    _require_plain(templates, unknown)
    return frozenset(unknown)


def _require_plain(templates: Iterable[str], query_fields: set[str]) -> None:
    """Query values are strings: ``{category.name}`` or ``{category[0]}`` would fail later."""
    for template in templates:
        for _, field, _, _ in string.Formatter().parse(template):
            root = field.split(".", 1)[0].split("[", 1)[0] if field else ""
            if root in query_fields and field != root:
                raise ValueError(
                    f"cache template {template!r}: query field {field!r} is a plain "
                    "string; use it as {name} only"
                )


def query_values(names: Iterable[str]) -> dict[str, str]:
    """The first value of each query argument named, ``""`` when the request has none."""
    return {name: request.args.get(name, "") for name in names}


def encode(text: str) -> str:
    """Percent-encode everything but letters, digits and ``-._`` (``~`` too: it is ours)."""
    return quote(text, safe="").replace("~", "%7E")


class _KeyFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return encode(super().format_field(value, format_spec))


_KEY_FORMATTER = _KeyFormatter()


def fill_key(template: str, fields: Mapping[str, Any]) -> str:
    """A key from a template, every value percent-encoded (see the module docstring)."""
    return _KEY_FORMATTER.vformat(template, (), fields)


def fill(template: str, fields: Mapping[str, Any]) -> str:
    """A tag from a template, values as they are: ``invalidate(tags=...)`` names them so."""
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
