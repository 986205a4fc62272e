"""Problem JSON for every error under ``/api`` and ``/auth``, HTML for the pages.

Routing errors (an unknown ``/api/...`` path, a wrong method) happen before any blueprint is
chosen, so only an app-level handler sees them; the extension's ``install_prefix_problems``
answers for these prefixes and chains to the handler registered before it for every other path.
"""

from __future__ import annotations

from flask import Flask

from flask_resilience.problems import install_prefix_problems

PROBLEM_PREFIXES = ("/api", "/auth")


def init_app(app: Flask) -> None:
    """Register the handler; call it after ``resilience.init_app``."""
    install_prefix_problems(app, *PROBLEM_PREFIXES)
