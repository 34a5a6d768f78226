"""The single-server envelope: how far one CLM server goes, on PostgreSQL. A company of N accounts
over M months built by the demo simulator (its bulk writers), then:

1. the daily run (`clm run`) in a process of its own: its time and peak memory (max RSS);
2. the workspace's pages with nobody else on the server: their median and slowest times;
3. sustained event ingestion through the real API (`clm serve`, batches of 1,000 events posted by
   client threads over keep-alive connections) for a set duration, while the rollup job runs every
   minute as the worker's does (`roll_up_pending`) and the pages are timed again under that load:
   events per second minute by minute, the rollup's backlog before each pass (its lag), how long
   the backlog takes to drain once ingestion stops, and the pages' times under load.

It prints where it first bends: the first of these to miss its mark (ingestion falling below its
first minute's rate, the rollup's backlog growing pass over pass, a page slower than 300 ms or
than 3 times its idle time).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mine python bench/bench_scale.py \\
        [--accounts 100000] [--months 24] [--ingest-minutes 10] [--threads 4] [--workers 2]

A database of its own, clm_bench_scale_<pid>, is made on the server the URL names (the database the URL
names is only connected to) and dropped at the end. The machine's cores, memory and load average
are printed with the figures: on a shared machine they are only comparable at a low load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_api_ingest import BATCH, free_port, make_events, server_log, start_server  # noqa: E402
from bench.common import setup_django  # noqa: E402

PAGE_TARGET_MS = 300
PAGE_SLOWDOWN = 3.0  # a page this many times slower under load than idle has bent
RATE_DROP = 0.8  # ingestion below this share of its first minute has bent

DAILY_RUN = """
import datetime as dt, json, resource, sys, time
import django
django.setup()
from clm.lifecycle import services
started = time.perf_counter()
record = services.run(dt.date.fromisoformat(sys.argv[1]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "accounts": record.summary["accounts"]}))
"""


def machine() -> str:
    cores = os.cpu_count()
    try:
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "? GiB"
    return f"{cores} cores, {memory} memory, load average {os.getloadavg()[0]:.1f}"


def daily_run(as_of: dt.date) -> dict:
    """The daily run in a child process of its own, so its peak memory is its own."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    out = subprocess.run([sys.executable, "-c", DAILY_RUN, as_of.isoformat()], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=6 * 3600)
    if out.returncode:
        raise SystemExit(f"the daily run failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Pages:
    """The workspace pages bench_pages.py measures, through Django's test client in this process
    (its own database connection), timed in milliseconds."""

    def __init__(self):
        from django.test import Client

        from bench.bench_pages import pages
        from clm.core.models import Role, User

        admin = User.objects.get(username="admin")
        csm = User.objects.filter(groups__name=Role.CSM).order_by("pk").first()
        self.clients = {}
        for user in (admin, csm):
            self.clients[user.pk] = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
            self.clients[user.pk].force_login(user)
        todo, _ = pages(admin, csm)
        self.todo = [(name, user, url) for name, user, url in todo if url]

    def time_all(self, repeat: int) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {}
        for name, user, url in self.todo:
            client = self.clients[user.pk]
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(url, **({"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}))
                times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {url} answered {response.status_code}")
        return times


class Ingest:
    """Client threads posting batches of events to /api/v1/events until stopped; events stored per
    minute of the run."""

    def __init__(self, port: int, token: str, account_ids: list[int], threads: int, rate: float):
        self.port, self.token, self.account_ids, self.threads = port, token, account_ids, threads
        self.pace = threads * BATCH / rate if rate else 0.0  # seconds between one thread's batches
        self.stop = threading.Event()
        self.stored: list[tuple[float, int]] = []  # (when, events stored by one batch)
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def client(self, n: int) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        batch, due = 0, time.perf_counter()
        while not self.stop.wait(max(0.0, due - time.perf_counter())):
            batch, due = batch + 1, max(due, time.perf_counter() - self.pace) + self.pace
            events = make_events(BATCH, self.account_ids, f"scale-{n}-{batch}", seed=n * 100_003 + batch)
            conn.request("POST", "/api/v1/events", json.dumps(events).encode(), headers)
            response = conn.getresponse()
            body = response.read()
            with self.lock:
                if response.status in (200, 201, 202):
                    self.stored.append((time.perf_counter(), json.loads(body).get("stored", BATCH)))
                else:
                    self.errors.append(f"{response.status}: {body[:200]!r}")
        conn.close()

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(self.threads)]
        for t in threads:
            t.start()
        return threads


def pending_events() -> int:
    from django.db import connection

    from clm.usage.models import PendingEvents

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(last_id - first_id + 1), 0) FROM {PendingEvents._meta.db_table}")
        return int(cursor.fetchone()[0])


def rollup_loop(stop: threading.Event, every: float, passes: list) -> None:
    """The worker's rollup job, every `every` seconds: (backlog before, events counted, seconds)."""
    from django.db import connection

    from clm.usage.services import roll_up_pending

    try:
        while not stop.wait(every):
            backlog = pending_events()
            started = time.perf_counter()
            counted = roll_up_pending()
            passes.append((backlog, counted, time.perf_counter() - started))
    finally:
        connection.close()


def page_loop(stop: threading.Event, pages_under_load: dict) -> None:
    from django.db import connection

    try:
        timer = Pages()
        while not stop.is_set():
            for name, times in timer.time_all(1).items():
                pages_under_load.setdefault(name, []).extend(times)
    finally:
        connection.close()


def per_minute(stored: list[tuple[float, int]], started: float, seconds: float) -> list[float]:
    minutes = max(1, int(round(seconds / 60)))
    counts = [0] * minutes
    for when, n in stored:
        counts[min(minutes - 1, int((when - started) // 60))] += n
    last = seconds - 60 * (minutes - 1)
    return [c / 60 for c in counts[:-1]] + [counts[-1] / max(last, 1)]


def summary(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ingest-minutes", type=float, default=10)
    parser.add_argument("--threads", type=int, default=4, help="client threads posting events")
    parser.add_argument("--rate", type=float, default=0, help="events/s to send (0: as fast as the server takes them)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (clm serve --workers)")
    parser.add_argument("--rollup-every", type=float, default=60, help="seconds between rollup passes (the worker: 60)")
    parser.add_argument("--repeat", type=int, default=5, help="idle timings per page")
    parser.add_argument("--no-daily-run", action="store_true", help="skip the daily run (measured before at this size)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("bench_scale measures PostgreSQL: set DATABASE_URL=postgresql://user@host:5432/yourdb")
    if urlparse(url).path.lstrip("/") == "test":
        raise SystemExit("name a database of your own in DATABASE_URL, not 'test' (it is only connected to)")

    label = setup_django(f"scale_{os.getpid()}")
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, connection
    from django.utils import timezone

    from clm.core.models import ApiToken, User
    from clm.customers.models import Account
    from clm.demo.simulator import simulate

    print(f"{label}; {machine()}")
    as_of = timezone.localdate() - dt.timedelta(days=1)
    started = time.perf_counter()
    simulate(accounts=args.accounts, months=args.months, seed=args.seed, as_of=as_of)
    print(f"  company: {args.accounts:,} accounts over {args.months} months built in {time.perf_counter() - started:.0f} s")
    connection.close()

    run = {"seconds": 0.0}
    if not args.no_daily_run:
        run = daily_run(as_of)
        print(f"  daily run: {run['seconds']:.1f} s for {run['accounts']:,} accounts, peak memory {run['maxrss_mib']:,.0f} MiB")

    request_started.disconnect(close_old_connections)  # the in-process page clients keep their connections
    request_finished.disconnect(close_old_connections)
    idle = Pages().time_all(args.repeat)

    admin = User.objects.get(username="admin")
    _, token = ApiToken.issue(admin, "bench-scale")
    account_ids = list(Account.objects.order_by("?").values_list("pk", flat=True)[:5000])
    connection.close()

    port = free_port()
    server = start_server(port, args.workers)
    stop, passes, under_load = threading.Event(), [], {}
    ingest = Ingest(port, token, account_ids, args.threads, args.rate)
    helpers = [threading.Thread(target=rollup_loop, args=(stop, args.rollup_every, passes), daemon=True),
               threading.Thread(target=page_loop, args=(stop, under_load), daemon=True)]
    try:
        began = time.perf_counter()
        clients = ingest.run()
        for h in helpers:
            h.start()
        time.sleep(args.ingest_minutes * 60)
        ingest.stop.set()
        for t in clients:
            t.join(180)
        seconds = time.perf_counter() - began
        stop.set()
        for h in helpers:
            h.join(600)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if ingest.errors:
        print(f"  ingestion: {len(ingest.errors)} batches refused, first: {ingest.errors[0]}\n{server_log(server)[-1500:]}")
    from clm.usage.services import roll_up_pending

    drain_backlog = pending_events()
    started = time.perf_counter()
    roll_up_pending()
    drain = time.perf_counter() - started

    total = sum(n for _, n in ingest.stored)
    rates = per_minute(ingest.stored, began, seconds)
    print(f"  ingestion through the API: {total:,} events in {seconds / 60:.1f} min, {total / seconds:,.0f} events/s "
          f"({args.threads} client threads{f', asked for {args.rate:,.0f}/s' if args.rate else ', flat out'}, "
          f"{args.workers} server processes); per minute: "
          + ", ".join(f"{r:,.0f}" for r in rates))
    for i, (backlog, counted, took) in enumerate(passes, 1):
        print(f"  rollup pass {i}: backlog {backlog:,} events, counted {counted:,} in {took:.1f} s")
    print(f"  after ingestion stopped: {drain_backlog:,} events left to roll up, drained in {drain:.1f} s")
    print(f"  {'page':46} {'idle median/p95':>18} {'under load median/p95':>24}")
    bends = []
    for name, times in idle.items():
        i_med, i_p95 = summary(times)
        loaded = under_load.get(name)
        l_med, l_p95 = summary(loaded) if loaded else (float("nan"), float("nan"))
        print(f"  {name[:46]:46} {i_med:8.0f} /{i_p95:6.0f} ms {l_med:12.0f} /{l_p95:6.0f} ms")
        if loaded and (l_med > PAGE_TARGET_MS or l_med > PAGE_SLOWDOWN * i_med):
            bends.append((f"page '{name}': {l_med:.0f} ms under load, {i_med:.0f} ms idle", l_med / max(i_med, 1)))
    if len(rates) > 1 and min(rates[1:]) < RATE_DROP * rates[0]:
        bends.append((f"ingestion: {min(rates[1:]):,.0f} events/s at its lowest minute, {rates[0]:,.0f} in the first", 0))
    growing = [b for (b, _, _), (a, _, _) in zip(passes[1:], passes, strict=False) if b > a * 1.2]
    if len(passes) > 2 and len(growing) >= len(passes) // 2:
        bends.append((f"rollup: its backlog grows pass over pass ({passes[0][0]:,} → {passes[-1][0]:,} events)", 0))
    if run["seconds"] > 30 * 60:
        bends.append((f"daily run: {run['seconds'] / 60:.0f} min", 0))
    bends.sort(key=lambda b: -b[1])  # the pages furthest from their idle time first
    if bends:
        print("  where it first bends: " + bends[0][0] + "".join(f"\n    then: {b}" for b, _ in bends[1:4])
              + (f"\n    and {len(bends) - 4} more" if len(bends) > 4 else ""))
    else:
        print("  nothing bent at this size: every page under 300 ms and 3x its idle time, ingestion steady, rollup keeping up")
    print(f"  peak memory of this process (client, pages, rollup): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
