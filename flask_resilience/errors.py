"""The exceptions flask-resilience raises, in one tree so callers can catch broadly or narrowly.

::

    ResilienceError
     +-- ConfigurationError        a RESILIENCE_* key is empty, malformed or contradictory
     +-- CallRejectedError         a policy refused to run the call at all
     |    +-- CircuitOpenError     open breaker; ``remaining_seconds`` until a probe is allowed
     |    +-- BulkheadFullError    too many calls in flight and the wait for a slot ran out
     +-- RetryExhaustedError       every attempt failed; the last exception is chained as __cause__
     +-- CallTimeoutError         the call did not finish within its time budget

Every error says *why* in its message, because the message is what ends up in a log line at 3 a.m.
"""

from __future__ import annotations


class ResilienceError(Exception):
    """Base class of every error the extension raises on purpose."""


class ConfigurationError(ResilienceError):
    """A configuration key is set to a value the extension cannot use.

    Raised at ``init_app`` time, never later, so a bad deploy fails at start instead of at the
    first request. ``key`` and ``value`` name the offending setting.

    >>> str(ConfigurationError("RESILIENCE_ENV", "prod", "expected one of: development, staging"))
    "RESILIENCE_ENV='prod' is invalid: expected one of: development, staging"
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"{key}={value!r} is invalid: {reason}")


class CallRejectedError(ResilienceError):
    """A policy refused to start the call; the dependency was not touched."""


class CircuitOpenError(CallRejectedError):
    """The breaker of ``policy`` is open and allows a probe in ``remaining_seconds``."""

    def __init__(self, policy: str, remaining_seconds: float) -> None:
        self.policy = policy
        self.remaining_seconds = max(0.0, remaining_seconds)
        super().__init__(
            f"circuit {policy!r} is open; next probe allowed in {self.remaining_seconds:.3f}s"
        )


class BulkheadFullError(CallRejectedError):
    """``max_concurrent`` calls of ``policy`` were in flight and no slot freed within the wait."""

    def __init__(self, policy: str, max_concurrent: int, waited_seconds: float) -> None:
        self.policy = policy
        self.max_concurrent = max_concurrent
        self.waited_seconds = waited_seconds
        super().__init__(
            f"bulkhead {policy!r} is full ({max_concurrent} calls in flight); "
            f"waited {waited_seconds:.3f}s for a slot"
        )


class RetryExhaustedError(ResilienceError):
    """All ``attempts`` of ``policy`` failed; the last exception is chained as ``__cause__``."""

    def __init__(self, policy: str, attempts: int, last_exception: BaseException | None) -> None:
        self.policy = policy
        self.attempts = attempts
        self.last_exception = last_exception
        last = f": {type(last_exception).__name__}: {last_exception}" if last_exception else ""
        super().__init__(f"policy {policy!r} gave up after {attempts} attempt(s){last}")


class CallTimeoutError(ResilienceError):
    """The call of ``policy`` did not finish within ``timeout_seconds``."""

    def __init__(self, policy: str, timeout_seconds: float) -> None:
        self.policy = policy
        self.timeout_seconds = timeout_seconds
        super().__init__(f"call of policy {policy!r} timed out after {timeout_seconds:.3f}s")
