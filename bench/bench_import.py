"""Benchmark CSV import: N account rows and M usage-event rows, each imported by `clm.io` in its own
process on a fresh database, with rows/s and the process's peak memory (max RSS).

    python bench/bench_import.py [--accounts 200000] [--events 1000000]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_import.py

SQLite by default (a temporary file). With a PostgreSQL DATABASE_URL, a temporary database
(clm_bench_<pid>) is created on that server and dropped at the end; the database the URL names is
not touched. Nothing is written under ./var.

Targets (issue 2): >= 20,000 account rows/s and >= 100,000 usage-event rows/s. Peak memory should
not grow with the file: compare --events 200000 with --events 1000000.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import postgres_database  # noqa: E402

GENERATE_CHUNK = 100_000

INDUSTRIES = ["制造业", "SaaS", "零售", "金融", "教育", "医疗", "物流", "Manufacturing", "Retail"]
PROVINCES = [("广东", "深圳"), ("上海", "上海"), ("北京", "北京"), ("浙江", "杭州"), ("江苏", "苏州"), ("四川", "成都")]
EVENTS = ["login", "report.view", "dashboard.open", "export", "api.call"]
FEATURES = ["", "reports", "dashboards", "exports", "api"]


def generate_accounts(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    header = True
    for start in range(0, n, GENERATE_CHUNK):
        size = min(GENERATE_CHUNK, n - start)
        ids = np.arange(start, start + size)
        place = rng.integers(0, len(PROVINCES), size)
        frame = pd.DataFrame({
            "客户编号": [f"A{i:07d}" for i in ids],
            "客户名称": [f"客户{i}有限公司" if i % 2 else f"Customer {i} Ltd" for i in ids],
            "行业": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), size)],
            "员工人数": rng.integers(10, 5000, size),
            "年营收": [f"¥{v:,.2f}" for v in rng.uniform(1e5, 1e9, size)],
            "省份": [PROVINCES[p][0] for p in place],
            "城市": [PROVINCES[p][1] for p in place],
            "成为客户日期": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1800, size), unit="D"),
        })
        frame["成为客户日期"] = frame["成为客户日期"].dt.strftime("%Y/%m/%d")
        frame.to_csv(path, mode="w" if header else "a", header=header, index=False, encoding="utf-8")
        header = False


def generate_events(path: Path, n: int, accounts: int, days: int, users: int, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    now = pd.Timestamp.now(tz="Asia/Shanghai").floor("s").tz_localize(None)
    header = True
    for start in range(0, n, GENERATE_CHUNK):
        size = min(GENERATE_CHUNK, n - start)
        account = rng.integers(0, accounts, size)
        frame = pd.DataFrame({
            "account": [f"A{i:07d}" for i in account],
            "user": [f"u{a}-{u}" for a, u in zip(account, rng.integers(0, users, size), strict=True)],
            "event": np.array(EVENTS)[rng.integers(0, len(EVENTS), size)],
            "feature": np.array(FEATURES)[rng.integers(0, len(FEATURES), size)],
            "timestamp": (now - pd.to_timedelta(rng.integers(60, days * 86400, size), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
            "duration": rng.integers(0, 600, size),
        })
        frame.to_csv(path, mode="w" if header else "a", header=header, index=False, encoding="utf-8")
        header = False


def worker(kind: str, path: str, profile: bool) -> None:
    """Run in a child process: import one file and print the figures as JSON."""
    import django

    django.setup()
    from clm.io.engine import ImportOptions, import_file

    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    report = import_file(kind, path, ImportOptions())
    if profiler:
        profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.status != "done":
        print(json.dumps({"error": report.summary(), "errors": report.errors[:5]}))
        sys.exit(1)
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(35)
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "rows": report.rows, "created": report.created, "unchanged": report.unchanged,
        "seconds": seconds, "cpu": cpu, "maxrss_mib": maxrss_kib / 1024,
    }))


def raw_worker(count: int) -> None:
    """Run in a child process: the reference. Insert `count` event rows, already typed, with the
    driver's executemany in one transaction into the (empty) events table, print the figures as
    JSON, and delete them again."""
    import django

    django.setup()
    from django.db import connection, transaction

    from clm.customers.models import Account
    from clm.usage.models import UsageEvent
    from clm.usage.services import EVENT_COLUMNS

    accounts = list(Account.objects.values_list("pk", flat=True)[:1000])
    rng = np.random.default_rng(5)
    postgresql = connection.vendor == "postgresql"
    mark = "%s" if postgresql else "?"
    values = ", ".join([mark] * len(EVENT_COLUMNS))
    sql = f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) VALUES ({values})"
    base = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(days=14)
    stamps = (base + pd.to_timedelta(rng.integers(0, 14 * 86400, count), unit="s")).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        (int(a), None, f"u{u}", "login", "reports", t + ("+00:00" if postgresql else ""), 1.0, float(d), "{}", f"raw-{i}")
        for i, (a, u, t, d) in enumerate(zip(rng.choice(accounts, count), rng.integers(0, 10, count), stamps,
                                             rng.integers(0, 600, count), strict=True))
    ]
    rows.sort(key=lambda r: r[0])
    connection.ensure_connection()
    started, cpu = time.perf_counter(), time.process_time()
    with transaction.atomic():
        cursor = connection.connection.cursor()
        cursor.executemany(sql, rows)
        cursor.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    UsageEvent.objects.filter(idempotency_key__startswith="raw-").delete()  # the imports start empty
    copy_seconds = None
    if postgresql:  # the fastest way in: COPY, the server's own ceiling for these rows
        started = time.perf_counter()
        with transaction.atomic():
            cursor = connection.connection.cursor()
            with cursor.copy(f"COPY {UsageEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.close()
        copy_seconds = time.perf_counter() - started
        UsageEvent.objects.filter(idempotency_key__startswith="raw-").delete()
    print(json.dumps({"rows": count, "seconds": seconds, "cpu": cpu, "copy_seconds": copy_seconds}))


def run_worker(kind: str, path: Path, env: dict, profile: bool = False) -> dict:
    if kind == "raw":
        args = [sys.executable, __file__, "--raw", str(path)]
    else:
        args = [sys.executable, __file__, "--worker", kind, str(path)] + (["--profile"] if profile else [])
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    if profile:
        print(done.stderr[-12000:])
    if done.returncode != 0:
        raise SystemExit(f"{kind} import failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--event-accounts", type=int, default=1_000, help="accounts the events belong to")
    parser.add_argument("--event-days", type=int, default=14, help="days the events spread over")
    parser.add_argument("--event-users", type=int, default=10, help="users per account")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the event import")
    parser.add_argument("--only", choices=["accounts", "usage_events"], help="run one kind's imports only")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raw-rows", type=int, default=200_000, help="rows of the raw executemany reference")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    if args.worker:
        worker(*args.worker, args.profile)
        return
    if args.raw:
        raw_worker(args.raw)
        return

    with tempfile.TemporaryDirectory(prefix="clm-bench-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, CLM_DATA_DIR=str(tmp / "var"), PYTHONPATH=str(ROOT))
        url = os.environ.get("DATABASE_URL", "")
        drop = None
        if url.startswith("postgres"):
            env["DATABASE_URL"], drop = postgres_database(url, str(os.getpid()))
            engine = "PostgreSQL"
        else:
            env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
            engine = "SQLite"
        try:
            subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, check=True, cwd=ROOT)
            accounts_csv, events_csv = tmp / "accounts.csv", tmp / "events.csv"
            started = time.perf_counter()
            generate_accounts(accounts_csv, args.accounts)
            generate_events(events_csv, args.events, min(args.accounts, args.event_accounts), args.event_days, args.event_users)
            print(f"{engine}: generated {args.accounts:,} accounts ({accounts_csv.stat().st_size / 1e6:.0f} MB) and "
                  f"{args.events:,} events ({events_csv.stat().st_size / 1e6:.0f} MB; {args.event_accounts:,} accounts, "
                  f"{args.event_days} days, {args.event_users} users each) in {time.perf_counter() - started:.1f} s")
            results = []
            if args.only != "usage_events":
                results += [
                    ("accounts, new", run_worker("accounts", accounts_csv, env), 20_000),
                    ("accounts, re-import (unchanged)", run_worker("accounts", accounts_csv, env), 20_000),
                ]
            else:  # the events refer to accounts
                run_worker("accounts", accounts_csv, env)
            raw = run_worker("raw", args.raw_rows, env)
            if args.only != "accounts":
                results += [
                    ("usage events, new", run_worker("usage_events", events_csv, env, args.profile), 100_000),
                    ("usage events, re-import (duplicates)", run_worker("usage_events", events_csv, env), 100_000),
                ]
        finally:
            if drop:
                drop()
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine slows the wall-clock figures; CPU is this process's own time"
          + (", the database server's is not in it)" if engine == "PostgreSQL" else ", the database's included)"))
    raw_rate = raw["rows"] / raw["seconds"]
    print(f"reference: raw executemany of {raw['rows']:,} typed event rows into the events table, one transaction: "
          f"{raw_rate:,.0f} rows/s (ratio below: import rows/s / this)")
    if raw.get("copy_seconds"):
        print(f"           raw COPY of the same rows, one transaction (the server's ceiling): "
              f"{raw['rows'] / raw['copy_seconds']:,.0f} rows/s")
    print(f"{'import':38} {'rows':>10} {'wall s':>7} {'rows/s':>8} {'/ raw':>6} {'CPU s':>7} {'rows/CPU s':>10} "
          f"{'target':>8} {'peak RSS':>9}")
    for label, r, target in results:
        rate, cpu_rate = r["rows"] / r["seconds"], r["rows"] / r["cpu"]
        flag = "ok" if rate >= target else "BELOW"
        print(f"{label:38} {r['rows']:>10,} {r['seconds']:>7.1f} {rate:>8,.0f} {rate / raw_rate:>6.2f} {r['cpu']:>7.1f} "
              f"{cpu_rate:>10,.0f} {target:>8,} {r['maxrss_mib']:>5.0f} MiB  {flag}")


if __name__ == "__main__":
    main()
