"""Shared set-up for benchmarks: a throwaway database (a temporary SQLite file, or the
PostgreSQL database named by BENCH_DATABASE_URL / DATABASE_URL), migrated, never ./var."""

import os
import statistics
import tempfile
import time


def setup_django(name: str) -> str:
    """Point Django at a fresh benchmark database and migrate it; returns a label for printing."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    tmp = tempfile.mkdtemp(prefix=f"clm-bench-{name}-")
    os.environ["CLM_DATA_DIR"] = tmp
    if url.startswith("postgres"):
        import psycopg

        base, _, _ = url.rpartition("/")
        db = f"clm_bench_{name}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
        os.environ["DATABASE_URL"] = f"{base}/{db}"
        label = f"PostgreSQL ({db})"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        label = "SQLite (WAL)"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return label


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
