"""Issue 4's benchmark in one run: the rate-limit table, then the caching tables.

It calls the two capability benchmarks rather than copying them, so each keeps one definition:

* ``benchmarks/limits.py``: a bare Flask view against our limiter (memory, and Redis with headers,
  per strategy) and Flask-Limiter wired by hand (headers on); Redis commands per request from
  ``INFO commandstats`` and client round trips from ``MONITOR``. Redis db 13.
* ``benchmarks/caching.py``: cached view hits (Redis L2 only, L1 + L2) against SimpleCache,
  RedisCache and an uncached 2 ms view; hit ratio on Zipf(1.1) over 1,000 keys and 100,000
  requests; stampedes of 50 concurrent misses. Redis db 12 (``REDIS_URL``).

    .venv/bin/python benchmarks/limits_cache.py           # the full run (minutes; quiet machine)
    .venv/bin/python benchmarks/limits_cache.py --quick   # smoke run: tiny counts, noisy figures
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, this folder comes first on sys.path and "limits" would be benchmarks/limits.py
# instead of the limits library that Flask-Limiter imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
from types import ModuleType  # noqa: E402

import redis  # noqa: E402

QUICK_ZIPF_REQUESTS = 2_000


def load(name: str, filename: str) -> ModuleType:
    """Import a sibling benchmark by path, under a name that shadows no library."""
    spec = importlib.util.spec_from_file_location(name, HERE / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_caching(caching: ModuleType, args: argparse.Namespace) -> None:
    if not args.quick:
        argv = sys.argv
        sys.argv = [str(HERE / "caching.py"), "--rounds", str(args.cache_rounds)]
        sys.argv += ["--requests", str(args.cache_requests)]
        try:
            caching.main()
        finally:
            sys.argv = argv
        return
    # caching.main() has no smoke mode; call its steps with small counts instead
    server = redis.Redis.from_url(caching.REDIS_URL)
    server.flushdb()
    caching.time_requests(argparse.Namespace(rounds=2, requests=20), server)
    server.flushdb()  # the timing views' entries would clash with the Zipf keys ("quiz:1")
    caching.zipf_hit_ratio(server, n_requests=QUICK_ZIPF_REQUESTS)
    caching.stampedes()
    server.flushdb()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with tiny counts")
    parser.add_argument("--limit-rounds", type=int, default=30)
    parser.add_argument("--limit-requests", type=int, default=150)
    parser.add_argument("--cache-rounds", type=int, default=30)
    parser.add_argument("--cache-requests", type=int, default=200)
    args = parser.parse_args(argv)
    limits = load("bench_limits", "limits.py")
    caching = load("bench_caching", "caching.py")
    print("# Rate limiting (benchmarks/limits.py)\n")
    sizes = ["--rounds", str(args.limit_rounds), "--requests", str(args.limit_requests)]
    limits.main(["--quick"] if args.quick else sizes)
    print("\n# Caching (benchmarks/caching.py)")
    run_caching(caching, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
