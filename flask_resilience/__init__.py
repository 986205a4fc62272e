"""flask-resilience: one Flask extension for resilient calls, rate limits, caching, autosave,
background jobs and partitioned metric archives.

>>> from flask import Flask
>>> from flask_resilience import Resilience
>>> app = Flask(__name__)
>>> app.config["RESILIENCE_DATABASE_URL"] = "sqlite://"
>>> res = Resilience(app)
"""

from . import schema as schema
from ._foundation.clock import Clock as Clock
from ._foundation.clock import ManualClock as ManualClock
from ._foundation.clock import SystemClock as SystemClock
from ._foundation.presets import PRESETS as PRESETS
from ._foundation.presets import EnginePreset as EnginePreset
from ._foundation.settings import Settings as Settings
from .errors import BulkheadFullError as BulkheadFullError
from .errors import CallRejectedError as CallRejectedError
from .errors import CallTimeoutError as CallTimeoutError
from .errors import CircuitOpenError as CircuitOpenError
from .errors import ConfigurationError as ConfigurationError
from .errors import ResilienceError as ResilienceError
from .errors import RetryExhaustedError as RetryExhaustedError
from .extension import Resilience as Resilience
from .problems import problem_response as problem_response
from .state import ResilienceState as ResilienceState
from .state import get_state as get_state

__all__ = [
    "PRESETS",
    "BulkheadFullError",
    "CallRejectedError",
    "CallTimeoutError",
    "CircuitOpenError",
    "Clock",
    "ConfigurationError",
    "EnginePreset",
    "ManualClock",
    "Resilience",
    "ResilienceError",
    "ResilienceState",
    "RetryExhaustedError",
    "Settings",
    "SystemClock",
    "get_state",
    "problem_response",
    "schema",
]
__version__ = "0.1.0"
