"""Wait up to 20 s for TEST_DATABASE_URL and TEST_REDIS_URL; exit 1 with a clear message if not."""

from __future__ import annotations

import os
import sys
import time

import redis
from sqlalchemy import create_engine, text


def _postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def main() -> int:
    checks = {
        "PostgreSQL": (_postgres, os.environ["TEST_DATABASE_URL"]),
        "Redis": (_redis, os.environ["TEST_REDIS_URL"]),
    }
    deadline = time.monotonic() + 20
    for name, (probe, url) in checks.items():
        while True:
            try:
                probe(url)
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    print(f"{name} at {url} is unreachable: {exc}", file=sys.stderr)
                    print(
                        "install and start it, or set TEST_DATABASE_URL / TEST_REDIS_URL",
                        file=sys.stderr,
                    )
                    return 1
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
