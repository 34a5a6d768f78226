"""Benchmark `clm simulate`: build the demo company into a temporary database and print the wall
time, the rows written per table and the rows per second.

    python bench/bench_simulate.py                       # SQLite, in a temporary directory
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_simulate.py

With a PostgreSQL DATABASE_URL, the benchmark creates a database of its own on that server
(clm_bench_<pid>), and drops it afterwards; it never touches ./var or the named database.

Target (issue #2): --accounts 10000 --months 24 in under 3 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import postgres_database  # noqa: E402

TARGET_SECONDS = 180


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2025, 6, 30))
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="clm-bench-")
    url = os.environ.get("DATABASE_URL", "")
    drop = None
    if url.startswith("postgres"):
        os.environ["DATABASE_URL"], drop = postgres_database(url, str(os.getpid()))
        where = f"PostgreSQL, temporary database clm_bench_{os.getpid()}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        where = f"SQLite, {workdir}/bench.sqlite3"
    os.environ["CLM_DATA_DIR"] = workdir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    try:
        return run(args, where)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if drop:
            from django.db import connections

            connections.close_all()
            drop()


def run(args, where: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from clm.demo.simulator import simulate

    print(
        f"clm simulate --accounts {args.accounts} --months {args.months} --seed {args.seed} "
        f"--as-of {args.as_of}  [{where}]"
    )
    call_command("migrate", interactive=False, verbosity=0)
    began = time.perf_counter()
    result = simulate(args.accounts, args.months, args.seed, args.as_of)
    wall = time.perf_counter() - began
    width = max(map(len, result.rows))
    for label, rows in sorted(result.rows.items(), key=lambda kv: -kv[1]):
        print(f"  {label.ljust(width)}  {rows:>12,}")
    print(f"  {'total'.ljust(width)}  {result.total_rows:>12,}")
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    print(f"wall time {wall:.1f} s; {result.total_rows / wall:,.0f} rows/s\n  phases: {phases}")
    if (args.accounts, args.months) == (10_000, 24):
        verdict = "met" if wall < TARGET_SECONDS else "MISSED"
        print(f"target: 10,000 accounts × 24 months in under {TARGET_SECONDS} s — {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
