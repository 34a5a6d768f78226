"""Server time of the manager's dashboard and of the KPI API on the 10,000-account demo company,
computed live and read from the daily run's snapshots (clm.reports.snapshots), with the ratio,
beside two references measured in the same run: the accounts list's first page (a page already
within the 300 ms target) and loading the raw contract ledger into MRR per account and month
(the floor under the revenue KPIs). Then the snapshot step's share of the daily run (target
≤ 20%), and the time of each KPI (period and previous period).

    CLM_DATA_DIR=/tmp/demo python bench/bench_dashboard.py --use-current   # after `clm demo --accounts 10000 --no-serve`
    python bench/bench_dashboard.py --accounts 2000                         # builds its own demo first (slow)
"""

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, summary, timed, use_current_database  # noqa: E402

TARGET_MS = 300


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-current", action="store_true", help="measure the database the environment names")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-daily-run", action="store_true", help="skip timing the daily run (minutes at 10,000)")
    args = parser.parse_args()
    if args.use_current:
        label = use_current_database()
    else:
        label = setup_django("dashboard")
        from clm.demo import services as demo
        from clm.demo.simulator import simulate

        started = time.perf_counter()
        result = simulate(accounts=args.accounts, months=24, seed=7, wipe=True)
        demo.after_build(result.spec.as_of)
        print(f"built a {args.accounts}-account demo in {time.perf_counter() - started:.0f} s")

    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from clm.analytics.revenue import account_mrr_by_month
    from clm.core import events
    from clm.core.models import User
    from clm.customers.models import Account
    from clm.lifecycle import services as lifecycle
    from clm.reports import snapshots
    from clm.reports.catalogue import CATALOGUE
    from clm.reports.kpis.base import Scope
    from clm.reports.models import Snapshot
    from clm.reports.services import default_period
    from clm.value.services.loading import change_frame

    request_started.disconnect(reset_queries)  # keep the query log across the request, to count it
    admin = User.objects.get(username="admin")
    period = default_period()
    print(f"database: {label}; {Account.objects.count()} accounts; period {period.label}")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(admin)

    def page(url):
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return get

    today = timezone.localdate()
    Snapshot.objects.filter(as_of=today).delete()
    live = {
        "dashboard page, live": page(reverse("web:dashboard")),
        "API /kpis/values, live": page("/api/v1/kpis/values"),
    }
    stored = {
        "dashboard page, from the snapshot": page(reverse("web:dashboard")),
        "API /kpis/values, from the snapshot": page("/api/v1/kpis/values"),
        "reference: accounts list, first page": page(reverse("web:accounts")),
        "reference: ledger → MRR per account and month": lambda: account_mrr_by_month(change_frame(), end=None),
    }
    results, queries_of = {}, {}

    def measure(batch):
        for name, fn in batch.items():
            fn()  # warm-up
            results[name] = timed(fn, args.repeat)
            print(f"{name:48s} {summary(results[name])}")
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("web:dashboard"))
        return len(queries.captured_queries)

    queries_of["live"] = measure(live)
    started = time.perf_counter()
    rows = snapshots.take(today)
    take_seconds = time.perf_counter() - started
    print(f"snapshots taken: {len(rows)} rows in {take_seconds:.1f} s")
    queries_of["snapshot"] = measure(stored)
    board = statistics.median(results["dashboard page, from the snapshot"])
    print(f"dashboard live ÷ from the snapshot: {statistics.median(results['dashboard page, live']) / board:.1f}×")
    for name in ("reference: accounts list, first page", "reference: ledger → MRR per account and month"):
        print(f"dashboard (snapshot) ÷ {name[11:]}: {board / statistics.median(results[name]):.2f}×")
    print(f"dashboard queries: live {queries_of['live']}, from the snapshot {queries_of['snapshot']}")

    if not args.no_daily_run:
        events.unlisten(snapshots.after_daily_run)  # the run alone, then the snapshot step alone
        started = time.perf_counter()
        lifecycle.run(today)
        run_seconds = time.perf_counter() - started
        # the step as the daily listener runs it: yesterday's snapshots exist, the periods already
        # over are carried over, the running month, quarter and year are computed
        snapshots.take(today - dt.timedelta(days=1))
        started = time.perf_counter()
        snapshots.take(today, reuse=True)
        step = time.perf_counter() - started
        print(f"daily run {run_seconds:.1f} s; snapshot step {step:.1f} s = {step / run_seconds * 100:.0f}% of the run "
              f"(target ≤ 20%): {'met' if step <= 0.2 * run_seconds else 'NOT met'}; "
              f"all nine periods afresh (weekly, or `clm report snapshot`): {take_seconds:.1f} s")

    print("\nper KPI (this period and the previous one, shared frames loaded once per scope):")
    scope = Scope(admin)
    for kpi in CATALOGUE:
        start = time.perf_counter()
        kpi.compute(scope, period), kpi.compute(scope, period.previous())
        print(f"  {kpi.key:26s} {(time.perf_counter() - start) * 1000:8.1f} ms")
    print(f"\ndashboard median {board:.0f} ms (target ≤ {TARGET_MS} ms): {'met' if board <= TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
