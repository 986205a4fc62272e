"""The example app's own settings (``EXAMPLE_*`` environment variables) and its secret key.

Read explicitly rather than with ``app.config.from_prefixed_env("EXAMPLE")``, which would strip the
prefix and let ``EXAMPLE_PORT`` land in ``app.config["PORT"]``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, MutableMapping
from typing import Any

from flask import Flask

SECRET_KEY_FILE = "secret_key"

# name -> (parser, default)
SETTINGS: dict[str, tuple[Callable[[str], Any], Any]] = {
    "EXAMPLE_PORT": (int, 5000),
    "EXAMPLE_ADMIN_PASSWORD": (str, "admin-demo"),
    "EXAMPLE_UPSTREAM_FAILURE_RATE": (float, 0.2),
    "EXAMPLE_UPSTREAM_LATENCY_MS": (int, 100),
    "EXAMPLE_UPSTREAM_TIMEOUT_MS": (int, 500),
    "EXAMPLE_ANALYTICS_SECONDS": (float, 2.0),
}


def load_environment(config: MutableMapping[str, Any]) -> None:
    """Defaults, then ``EXAMPLE_*`` variables; a malformed or empty value is an error."""
    for name, (parse, default) in SETTINGS.items():
        raw = os.environ.get(name)
        if raw is None:
            config[name] = default
            continue
        try:
            if not raw.strip():
                raise ValueError("empty")
            config[name] = parse(raw)
        except ValueError as exc:
            raise RuntimeError(f"{name}={raw!r} is not a valid {parse.__name__}") from exc
    secret = os.environ.get("EXAMPLE_SECRET_KEY")
    if secret is not None:
        if not secret.strip():
            raise RuntimeError("EXAMPLE_SECRET_KEY is set but empty; set a long random value.")
        config["SECRET_KEY"] = secret


def ensure_secret_key(app: Flask, *, production: bool) -> None:
    """Keep a configured key; in embedded mode make one up once and keep it in the instance folder,
    so sessions and tokens survive restarts; in production refuse to guess."""
    if app.config.get("SECRET_KEY"):
        return
    if production:
        raise RuntimeError(
            "example_app runs in production mode (RESILIENCE_REDIS_URL is set) but has no secret "
            "key: set EXAMPLE_SECRET_KEY to a long random value shared by every instance, e.g. "
            '`python -c "import secrets; print(secrets.token_hex(32))"`.'
        )
    app.config["SECRET_KEY"] = instance_secret(app.instance_path)


def instance_secret(folder: str) -> str:
    """The key stored in ``folder``, created (mode 0600) on first use.

    The file is written under a temporary name and hard-linked into place, so a second process
    starting at the same moment (the reloader) reads either nothing-yet or a complete key and both
    end up with the same one.
    """
    path = os.path.join(folder, SECRET_KEY_FILE)
    if not os.path.exists(path):
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            os.unlink(temporary)
    with open(path) as handle:
        key = handle.read().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to have a new key generated.")
    return key
