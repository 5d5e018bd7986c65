"""What the benchmarks share: a database of their own, the machine's load, and the closing RATIO lines.

Every benchmark measures its baseline in the same run, alternating the two at least three rounds, because
this machine's load changes by the minute (other work shares its cores): ratios hold, absolute figures
do not. Each prints the load average next to its figures and ends with one ``RATIO name=value goal=…`` line
per figure.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


@contextmanager
def bench_database(*, keep: bool = False) -> Iterator[bool]:
    """Create the database DATABASE_URL names if it does not exist; drop it afterwards if this run created it
    (unless ``keep``). Yields whether it was created. Refuses a database the benchmark did not make itself
    and that holds tables, since benchmarks truncate and fill tables freely."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        raise SystemExit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://…/<a new database name>")
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        created = not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if created:
            conn.execute(f'CREATE DATABASE "{name}"')
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'agency-portal benchmark'")
        else:
            comment = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
            ).fetchone()[0]
            if comment != "agency-portal benchmark":
                raise SystemExit(f"database {name!r} exists and was not created by a benchmark: pick a new name")
    try:
        yield created
    finally:
        if created and not keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"database {name} dropped")


def require_own_redis_prefix() -> None:
    """Benchmarks remove every key under their prefix when they end: it must be theirs alone."""
    if os.environ.get("REDIS_KEY_PREFIX", "ap") == "ap":
        raise SystemExit("give the benchmark a Redis key prefix of its own: REDIS_KEY_PREFIX=<name>")


def remove_redis_keys() -> None:
    """Delete every Redis key under this run's REDIS_KEY_PREFIX (the benchmark's own: see above)."""
    from apps.core.redis import get_redis, redis_key

    require_own_redis_prefix()
    redis = get_redis()
    keys = list(redis.scan_iter(match=redis_key("*"), count=1000))
    for start in range(0, len(keys), 1000):
        redis.delete(*keys[start : start + 1000])


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio_line(name: str, value: float | str, goal: str) -> str:
    shown = f"{value:.2f}" if isinstance(value, float) else value
    return f"RATIO {name}={shown} goal={goal}"
