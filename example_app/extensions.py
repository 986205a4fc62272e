"""The one ``Resilience`` object of the example app, shared by every app the factory builds.

It lives at module level (as ``db = SQLAlchemy()`` does in flask-sqlalchemy apps) so blueprints can
import it; per-app state lives in ``app.extensions``, so building several apps is safe.
"""

from __future__ import annotations

from flask_resilience import Resilience

resilience = Resilience()
