"""Turn "which exceptions count" settings into one fast predicate.

Every building block accepts the same spelling: an exception type, a tuple of types, or a
predicate ``(exception) -> bool``. Normalising once at construction keeps the call path free of
``isinstance`` checks on the setting itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

ExceptionSpec = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)
"""An exception type, a tuple of types, or a predicate on the exception."""

ExceptionPredicate = Callable[[BaseException], bool]


def exception_matcher(spec: ExceptionSpec) -> ExceptionPredicate:
    """A predicate that is true for the exceptions ``spec`` describes.

    >>> exception_matcher((KeyError, ValueError))(KeyError("k"))
    True
    """
    if isinstance(spec, type) and issubclass(spec, BaseException):
        types: tuple[type[BaseException], ...] = (spec,)
    elif isinstance(spec, tuple):
        types = spec
    elif callable(spec):
        return cast(ExceptionPredicate, spec)
    else:
        raise TypeError(f"expected an exception type, a tuple of them or a predicate: {spec!r}")

    def matches(exc: BaseException) -> bool:
        return isinstance(exc, types)

    return matches
