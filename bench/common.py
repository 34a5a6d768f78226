"""Shared set-up for benchmarks: a throwaway database (a temporary SQLite file, or a database of
their own on the PostgreSQL server BENCH_DATABASE_URL / DATABASE_URL names, dropped when they end),
migrated, never ./var."""

import atexit
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from urllib.parse import urlparse, urlunparse


def postgres_database(url: str, name: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database clm_bench_<name> on the server `url` points at (the database `url`
    names is only connected to), its URL, and a function that drops it."""
    import psycopg

    db = f"clm_bench_{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    return urlunparse(urlparse(url)._replace(path="/" + db)), drop


def setup_django(name: str) -> str:
    """Point Django at a fresh benchmark database and migrate it; returns a label for printing.
    The database and the data directory go when the process ends."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    tmp = tempfile.mkdtemp(prefix=f"clm-bench-{name}-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ["CLM_DATA_DIR"] = tmp
    if url.startswith("postgres"):
        os.environ["DATABASE_URL"], drop = postgres_database(url, name)
        atexit.register(drop)  # FORCE ends the connections Django and servers still hold
        label = f"PostgreSQL (clm_bench_{name})"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        label = "SQLite (WAL)"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return label


def use_current_database() -> str:
    """Set Django up on the database the environment names (an already built demo); a label."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    import django

    django.setup()
    from django.db import connection

    return f"{connection.vendor} (current database)"


def timed(fn, repeat: int) -> list[float]:
    """Wall times in milliseconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    return f"median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms"


def demo_company(name: str, use_current: bool, accounts: int) -> str:
    """The database to measure: the one the environment names (an already built demo), or a fresh
    one with a demo company of ``accounts`` built in it (slow); a label for printing."""
    if use_current:
        return use_current_database()
    label = setup_django(name)
    from clm.demo import services as demo
    from clm.demo.simulator import simulate

    started = time.perf_counter()
    result = simulate(accounts=accounts, months=24, seed=7, wipe=True)
    demo.after_build(result.spec.as_of)
    print(f"built a {accounts}-account demo in {time.perf_counter() - started:.0f} s")
    return label
