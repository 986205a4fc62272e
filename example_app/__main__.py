"""``python -m example_app``: serve the embedded demo on 127.0.0.1 and say how to sign in."""

from __future__ import annotations

import click

from . import create_app
from .seed import DEMO_USERS


def main() -> None:
    app = create_app()
    port: int = app.config["EXAMPLE_PORT"]
    click.echo(f"\nexample_app is at http://127.0.0.1:{port}/  (Ctrl+C to stop)")
    click.echo("Demo users:")
    for user in DEMO_USERS:
        password = app.config["EXAMPLE_ADMIN_PASSWORD"] if user.is_admin else user.password
        role = "admin" if user.is_admin else "player"
        click.echo(f"  {user.username:<6} password {password:<12} ({role})")
    click.echo("")
    app.run(host="127.0.0.1", port=port, use_reloader=False)


if __name__ == "__main__":
    main()
