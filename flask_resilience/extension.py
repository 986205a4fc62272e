"""The ``Resilience`` Flask extension: reads settings, builds per-app state, wires capabilities.

Kept thin on purpose: each capability owns its logic and exposes an ``init_app(app, state)``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import admin, archive, autosave, caching, jobs, observability, ratelimit
from ._foundation.database import create_database_engine
from ._foundation.redis_factory import connect_redis, embedded_redis
from ._foundation.settings import Settings
from .jobs.api import Jobs
from .problems import install_prefix_problems
from .resilient import setup as resilient_setup
from .schema import migrations_readiness_check
from .signals import resilience_configured
from .state import EXTENSION_KEY, ResilienceState, get_state

logger = logging.getLogger("flask_resilience")
F = TypeVar("F", bound=Callable[..., Any])

EMBEDDED_WARNING = (
    "flask-resilience runs in EMBEDDED mode: RESILIENCE_REDIS_URL is unset, so Redis is faked "
    "in-process (fakeredis) and jobs run on an in-process worker thread. Nothing is shared between "
    "processes. For production set RESILIENCE_REDIS_URL=redis://host:6379/0 and "
    "RESILIENCE_DATABASE_URL=postgresql+psycopg://..."
)


class Resilience:
    """Turns a Flask + SQLAlchemy app into a production-grade one.

    >>> from flask import Flask
    >>> app = Flask(__name__)
    >>> app.config["RESILIENCE_DATABASE_URL"] = "sqlite://"
    >>> res = Resilience(app)
    >>> @res.user_loader
    ... def current_user_id():
    ...     return None

    ``engine=`` shares the host's SQLAlchemy engine; any other keyword overrides the
    ``RESILIENCE_<NAME>`` key of the same name (``Resilience(app, env="production")``).
    """

    def __init__(
        self, app: Flask | None = None, *, engine: Engine | None = None, **overrides: Any
    ) -> None:
        self._engine = engine
        self._overrides = overrides
        self._user_loader: Callable[[], Any] | None = None
        self._admin_auth: Callable[[], bool] | None = None
        self._jobs = Jobs()
        self._autosave = autosave.Autosave(autosave.DraftKinds())
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate settings, connect stores and register blueprints on ``app`` (once)."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("Resilience is already registered on this app; use that instance.")
        settings, reader = Settings.from_app(app, self._overrides)
        ratelimit.validate_config(reader)
        state = ResilienceState(
            settings=settings,
            config=reader,
            engine=self._engine or _make_engine(settings),
            redis=embedded_redis()
            if settings.embedded
            else connect_redis(settings.redis_url or ""),
            owns_engine=self._engine is None,
            user_loader=self._user_loader,
            admin_auth=self._admin_auth,
        )
        app.extensions[EXTENSION_KEY] = state
        if settings.trusted_proxies:
            n = settings.trusted_proxies
            app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
                app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
            )
        state.readiness_checks["migrations"] = migrations_readiness_check(state)
        install_prefix_problems(app, settings.url_prefix)
        resilient_setup.init_app(app, state)
        jobs.init_app(app, state, self._jobs)
        ratelimit.init_app(app, state)
        caching.init_app(app, state)
        archive.init_app(app, state)
        if (daily := archive.scheduled_job(state)) is not None:  # the daily archival job
            queue = jobs.runtime(app).settings.queues[-1]  # the lowest-priority queue
            self._jobs.periodic(cron=daily.cron, queue=queue, **daily.options)(daily.func)
        autosave.init_app(app, state, self._autosave.kinds, decorators=(ratelimit.limits.autosave,))
        observability.init_app(app, state)
        if state.admin_auth is not None:
            admin.init_app(app, state)
        self._apps.add(app)
        if settings.embedded:
            logger.warning(EMBEDDED_WARNING)
        resilience_configured.send(app, embedded=settings.embedded)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the current app (the host's, when one was passed in)."""
        return get_state().engine

    @property
    def http(self) -> Any:
        """The current app's ``ResilientSession``: a policy per host (needs the ``http`` extra)."""
        from .resilient.http import ResilientSession

        state = get_state()
        session = state.capabilities.get("http")
        if session is None:
            session = state.capabilities["http"] = ResilientSession()
        return session

    def get_engine(self, app: Flask) -> Engine:
        """The engine of ``app``, without needing an app context (app factories, scripts)."""
        return get_state(app).engine

    def settings_for(self, app: Flask) -> Settings:
        """Read and validate ``app``'s settings with this object's overrides, connecting nothing.

        Lets a host decide things before ``init_app`` (the example app refuses to start in
        production mode without a secret key): ``res.settings_for(app).embedded``.
        """
        settings, _ = Settings.from_app(app, self._overrides)
        return settings

    def close(self, app: Flask) -> None:
        """Release ``app``'s resources: stop the embedded worker, close Redis, dispose the engine.

        The engine is disposed only when the extension created it; a host's engine is its own.
        """
        state = get_state(app)
        for runtime in state.capabilities.values():
            stop = getattr(runtime, "close", None)
            if callable(stop):
                stop()
        close_redis = getattr(state.redis, "close", None)
        if callable(close_redis):
            close_redis()
        if state.owns_engine:
            state.engine.dispose()

    @property
    def cache(self) -> caching.CacheAPI:
        """The current app's cache, resolved at call time: ``@res.cache.cached(...)`` works at
        import time and ``res.cache.get_or_set(key, fn, ttl)`` inside a request."""
        return caching.cache_api

    @property
    def limits(self) -> ratelimit.Presets:
        """The named rate-limit presets: ``@res.limits.login``, ``@res.limits.upload``, ..."""
        return ratelimit.limits

    def limit(self, value: str, **options: Any) -> ratelimit.LimitDecorator:
        """A rate limit for any view: ``@res.limit("20/minute", key="ip")``."""
        return ratelimit.limit(value, **options)

    def exempt(self, view: F) -> F:
        """Exempt a view from every rate limit, the default one included."""
        return ratelimit.exempt(view)

    @property
    def jobs(self) -> Jobs:
        """Background jobs: ``@res.jobs.task(...)`` at import time, ``task.enqueue(...)`` later."""
        return self._jobs

    @property
    def autosave(self) -> autosave.Autosave:
        """Drafts: ``res.autosave.register("attempt", owner=...)``, then ``.get``/``.delete``."""
        return self._autosave

    @property
    def metrics(self) -> archive.MetricsAPI:
        """Time-series metrics of the current app: ``res.metrics.record("quiz:7:score", 80.0)``,
        ``.record_many``, ``.query``, ``.summary``, ``.archive``."""
        return archive.metrics_api

    @property
    def redis(self) -> Any:
        """The Redis client of the current app (fakeredis in embedded mode)."""
        return get_state().redis

    def user_loader(self, callback: Callable[[], Any]) -> Callable[[], Any]:
        """Register the callback that returns the current user's id (or None when anonymous)."""
        self._user_loader = callback
        for app in self._apps:
            get_state(app).user_loader = callback
        return callback

    def admin_auth(self, callback: Callable[[], bool]) -> Callable[[], bool]:
        """Register the callback that approves admin requests; admin routes exist only after it."""
        first_time = self._admin_auth is None
        self._admin_auth = callback
        for app in self._apps:
            state = get_state(app)
            state.admin_auth = callback
            if first_time:
                admin.init_app(app, state)
        return callback


def _make_engine(settings: Settings) -> Engine:
    return create_database_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
