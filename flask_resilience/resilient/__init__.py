"""Resilient calls: retry, circuit breaker, timeout, bulkhead and fallback, composable and fast.

Plain Python (no Flask), so workers and scripts use the same policies as the web app.

>>> from flask_resilience.resilient import resilient
>>> @resilient("inventory", max_attempts=2)
... def stock(sku: str) -> int:
...     return 3
>>> stock("A-1")
3
"""

from .backoff import Backoff as Backoff
from .backoff import ConstantBackoff as ConstantBackoff
from .backoff import ExponentialBackoff as ExponentialBackoff
from .breaker import BreakerListener as BreakerListener
from .breaker import CircuitBreaker as CircuitBreaker
from .bulkhead import Bulkhead as Bulkhead
from .fallback import Fallback as Fallback
from .fallback import LastGoodValue as LastGoodValue
from .memory_store import MemoryBreakerStore as MemoryBreakerStore
from .named import NamedPolicy as NamedPolicy
from .named import current_runtime as current_runtime
from .named import resilient as resilient
from .policy import DEFAULT_REGISTRY as DEFAULT_REGISTRY
from .policy import Caller as Caller
from .policy import Policy as Policy
from .policy import PolicyOptions as PolicyOptions
from .policy import PolicyRegistry as PolicyRegistry
from .policy import PolicySettings as PolicySettings
from .policy import build_policy as build_policy
from .retry import Retry as Retry
from .retry import RetryBudget as RetryBudget
from .runtime import PolicyRuntime as PolicyRuntime
from .stats import PolicyStats as PolicyStats
from .stats import StatsSnapshot as StatsSnapshot
from .store import BreakerConfig as BreakerConfig
from .store import BreakerEvent as BreakerEvent
from .store import BreakerSnapshot as BreakerSnapshot
from .store import BreakerState as BreakerState
from .store import BreakerStore as BreakerStore
from .store import Permit as Permit
from .store import StoreFactory as StoreFactory
from .testing import is_testing as is_testing
from .testing import set_testing as set_testing
from .timeout import ThreadBudget as ThreadBudget
from .timeout import Timeout as Timeout

__all__ = [
    "DEFAULT_REGISTRY",
    "Backoff",
    "BreakerConfig",
    "BreakerEvent",
    "BreakerListener",
    "BreakerSnapshot",
    "BreakerState",
    "BreakerStore",
    "Bulkhead",
    "Caller",
    "CircuitBreaker",
    "ConstantBackoff",
    "ExponentialBackoff",
    "Fallback",
    "LastGoodValue",
    "MemoryBreakerStore",
    "NamedPolicy",
    "Permit",
    "Policy",
    "PolicyOptions",
    "PolicyRegistry",
    "PolicyRuntime",
    "PolicySettings",
    "PolicyStats",
    "Retry",
    "RetryBudget",
    "StatsSnapshot",
    "StoreFactory",
    "ThreadBudget",
    "Timeout",
    "build_policy",
    "current_runtime",
    "is_testing",
    "resilient",
    "set_testing",
]
