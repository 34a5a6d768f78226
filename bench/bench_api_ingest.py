"""API event ingestion over real HTTP: a `clm serve` process on a throwaway database, batches of
1,000 events posted with keep-alive connections. Target: >= 50,000 events/s sustained.
Reference: the raw `executemany` insert rate into the same events table of the same database, in
one transaction, measured in the same run; the ratio of the two is printed. A breakdown of the
server's work per batch (decoding, checking, store_events, commit) is measured in-process, and
the server's CPU per request of the layers around it (HTTP, Django, token auth) over HTTP, with
the same bodies sent with a wrong token. The load average is printed with the figures: the
machine may be shared, and the figures are only comparable at a low load.

    python bench/bench_api_ingest.py [--events 200000] [--threads 4] [--workers 2]   # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_api_ingest.py
"""

import argparse
import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django  # noqa: E402

BATCH = 1000
ACCOUNTS = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_events(
    count: int, account_ids: list[int], prefix: str, seed: int = 7, days: float = 1
) -> list[dict]:
    """Events of the last `days` days (1: live traffic; more: a backfill, which touches more rollup
    rows per batch) for a few hundred accounts, their users and ten features."""
    rng = np.random.default_rng(seed)
    now = dt.datetime.now(dt.UTC)
    accounts = rng.choice(account_ids, count)
    users = rng.integers(1, 40, count)
    seconds = rng.integers(0, int(days * 86400), count)
    features = rng.integers(0, 10, count)
    durations = rng.exponential(120, count).round(1)
    return [
        {
            "account": int(accounts[i]),
            "user_id": f"u{accounts[i]}-{users[i]}",
            "event": "feature_used",
            "feature": f"feature_{features[i]}",
            "timestamp": (now - dt.timedelta(seconds=int(seconds[i]))).isoformat(timespec="seconds"),
            "duration_seconds": float(durations[i]),
            "properties": {"plan": "pro"} if i % 4 == 0 else {},
            "idempotency_key": f"{prefix}-{i}",
        }
        for i in range(count)
    ]


def prepare():
    from clm.core.models import ApiToken, User
    from clm.customers.models import Account

    admin = User.objects.create_superuser("bench", password="bench-password")
    _, token = ApiToken.issue(admin, "bench")
    accounts = Account.objects.bulk_create([Account(name=f"Bench account {i}") for i in range(ACCOUNTS)])
    return token, [a.pk for a in accounts]


START_WITHIN = 300  # seconds


def start_server(port: int, workers: int) -> subprocess.Popen:
    clm = Path(sys.executable).with_name("clm")
    command = [str(clm)] if clm.exists() else [sys.executable, "-c", "from clm.cli import main; main()"]
    log = tempfile.TemporaryFile()  # not a pipe: a chatty server must never block on it
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--threads", "4", "--workers", str(workers)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server.log = log
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server_log(server)}")
        try:
            # the first schema takes seconds to build on a loaded machine: a probe that gave up after
            # 2 s never saw an answer
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"the server did not come up within {START_WITHIN} s")


def server_log(server: subprocess.Popen) -> str:
    server.log.seek(0)
    return server.log.read().decode(errors="replace")[-3000:]


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its worker processes
    (Linux /proc): unlike wall time, hardly changed by other work on the machine."""
    def own(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return own(pid) + sum(own(c) for c in children)


def post_all(port: int, token: str, bodies: list[bytes], threads: int) -> tuple[float, int]:
    """Post the bodies over `threads` keep-alive connections; returns (seconds, events stored)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    stored = [0] * threads
    failures = []

    def worker(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in bodies[k::threads]:
            conn.request("POST", "/api/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {payload[:300]!r}")
                return
            result = json.loads(payload)
            if result["errors"]:
                failures.append(str(result["errors"][:3]))
                return
            stored[k] += result["stored"]
        conn.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"ingestion failed: {failures[0]}")
    return elapsed, sum(stored)


def post_refused(port: int, bodies: list[bytes], threads: int) -> None:
    """Post the bodies with a wrong token: the server reads each and refuses it (403: after the
    token, the session auth finds no CSRF cookie) in the HTTP, middleware and auth layers,
    before any ingestion work."""
    headers = {"Authorization": "Bearer clm_not-a-token", "Content-Type": "application/json"}
    statuses = []

    def worker(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in bodies[k::threads]:
            conn.request("POST", "/api/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if not set(statuses) <= {401, 403}:
        raise SystemExit(f"expected only refusals, got {sorted(set(statuses))}")


def raw_executemany(events: list[dict]) -> float:
    """Seconds to insert the same kind of rows with the driver's executemany, in one transaction."""
    from django.db import connection, transaction

    from clm.usage.models import UsageEvent

    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    mark = "?" if connection.vendor == "sqlite" else "%s"
    from clm.usage.services import EVENT_COLUMNS

    columns = [c for c in EVENT_COLUMNS if c != "contact_id"]
    values = ", ".join([mark] * 7 + [json_param if mark == "%s" else "?", mark])
    sql = f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(columns)}) VALUES ({values})"
    suffix = "+00:00" if connection.vendor == "postgresql" else ""
    rows = [
        (
            e["account"],
            e["user_id"],
            e["event"],
            e["feature"],
            dt.datetime.fromisoformat(e["timestamp"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            + suffix,
            1.0,
            e["duration_seconds"],
            json.dumps(e["properties"]),
            e["idempotency_key"],
        )
        for e in events
    ]
    connection.ensure_connection()
    start = time.perf_counter()
    with transaction.atomic():
        cursor = connection.connection.cursor()
        cursor.executemany(sql, rows)
        cursor.close()
    return time.perf_counter() - start


def breakdown(events: list[dict], user) -> dict:
    """Milliseconds per batch of 1,000 spent in each step of the endpoint, in-process, one thread:
    store_events runs in a transaction of its own, as the server's group writer runs it."""
    from django.db import connection, transaction

    from clm.usage.ingest import check_events
    from clm.usage.ingest.decode import decode_body
    from clm.usage.services import store_events

    if connection.vendor == "sqlite":  # start with the WAL the reference insert left behind folded in
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    steps = {"decode": 0.0, "check": 0.0, "store_events": 0.0, "commit": 0.0}
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    for batch in batches:
        body = json.dumps(batch).encode()
        t0 = time.perf_counter()
        decoded, plain = decode_body(body)
        t1 = time.perf_counter()
        frame, _ = check_events(decoded, user, body, plain)
        t2 = time.perf_counter()
        with transaction.atomic():
            store_events(frame, roll_up=False)  # as the endpoint does; the rollup job runs apart
            t3 = time.perf_counter()
        t4 = time.perf_counter()
        steps["decode"] += t1 - t0
        steps["check"] += t2 - t1
        steps["store_events"] += t3 - t2
        steps["commit"] += t4 - t3
    return {k: v * 1000 / len(batches) for k, v in steps.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=4, help="client threads (connections)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (clm serve --workers)")
    parser.add_argument(
        "--days", type=float, default=1, help="spread of the event times (default: the last day)"
    )
    args = parser.parse_args()

    label = setup_django("api_ingest")
    from django.db import connection

    from clm.core.models import User

    token, account_ids = prepare()
    events = make_events(args.events, account_ids, "api", days=args.days)
    bodies = [json.dumps(events[i : i + BATCH]).encode() for i in range(0, len(events), BATCH)]
    connection.close()  # the server gets the database to itself while it runs

    port = free_port()
    server = start_server(port, args.workers)
    try:
        post_all(port, token, bodies[:5], 1)  # warm-up: imports, first connections
        from clm.usage.models import UsageEvent

        UsageEvent.objects.all().delete()
        from clm.usage.models import PendingEvents, UsageDaily, UsageDailyUser, UsageFeatureDaily

        for model in (PendingEvents, UsageDaily, UsageDailyUser, UsageFeatureDaily):
            model.objects.all().delete()
        connection.close()
        load_before = os.getloadavg()[0]
        cpu_before = server_cpu(server.pid)
        seconds, stored = post_all(port, token, bodies, args.threads)
        cpu = server_cpu(server.pid) - cpu_before
        load_after = os.getloadavg()[0]
        refused = bodies[: min(len(bodies), 100)]
        cpu_before = server_cpu(server.pid)
        post_refused(port, refused, args.threads)
        http_cpu = (server_cpu(server.pid) - cpu_before) / len(refused)
    except SystemExit:
        server.terminate()
        print(server_log(server), file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert stored == args.events, f"stored {stored} of {args.events}"
    api_rate = args.events / seconds

    from clm.usage.services import roll_up_pending

    start = time.perf_counter()
    rolled = roll_up_pending()
    rollup_seconds = time.perf_counter() - start
    assert rolled == args.events, f"rolled up {rolled} of {args.events}"

    raw_seconds = raw_executemany(make_events(args.events, account_ids, "raw", seed=8, days=args.days))
    raw_rate = args.events / raw_seconds

    steps = breakdown(
        make_events(20_000, account_ids, "profile", seed=9, days=args.days),
        User.objects.get(username="bench"),
    )

    print(
        f"API event ingestion over HTTP — {label}, {args.events:,} events in batches of {BATCH:,}, "
        f"{args.threads} client thread(s), {args.workers} server process(es), event times spread over {args.days:g} day(s)"
    )
    print(
        f"  API:                 {api_rate:>10,.0f} events/s  ({seconds:.1f} s; target >= 50,000; "
        f"load average {load_before:.2f} before, {load_after:.2f} after)"
    )
    print(f"  server CPU:          {cpu * 1000 / len(bodies):>10.1f} ms per batch of {BATCH:,} "
          f"({args.events / cpu:,.0f} events per CPU second, all server processes)")
    print(f"  raw executemany:     {raw_rate:>10,.0f} rows/s    ({raw_seconds:.1f} s, one transaction)")
    print(f"  ratio API / raw:     {api_rate / raw_rate:>10.2f}")
    print(f"  rollup job afterwards: {args.events / rollup_seconds:>8,.0f} events/s  ({rollup_seconds:.1f} s)")
    print(
        f"  server work per batch of {BATCH:,} (in-process): "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in steps.items())
        + f"; HTTP round trip {seconds * 1000 / len(bodies) * args.threads:.1f} ms per batch per thread"
    )
    print(
        f"  HTTP, Django and auth alone (the same bodies refused for a wrong token): "
        f"{http_cpu * 1000:.1f} ms server CPU per request"
    )


if __name__ == "__main__":
    main()
