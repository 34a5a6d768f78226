"""Server time of the dashboard pages beside the overview (lifecycle flows, revenue, cohorts, value,
early-warning quality, team) and of one figure through the API, on a demo company, beside two
references measured in the same run: the accounts list's first page and loading the raw contract
ledger into MRR per account and month (the floor under the revenue figures). Also the time of each
figure computed alone, and each page's query count. Unfiltered pages read the daily run's snapshots;
a page narrowed by `--filtered` is timed on its first view of the day (computed live, and kept for
later views: what it keeps is deleted before each such request) and on the views after it.

    CLM_DATA_DIR=/tmp/demo python bench/bench_report_pages.py --use-current   # after `clm demo --no-serve`
    python bench/bench_report_pages.py --accounts 2000                         # builds its own demo first (slow)
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import demo_company, summary, timed  # noqa: E402

TARGET_MS = 300


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-current", action="store_true", help="measure the database the environment names")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--filtered", default="", metavar="QUERY",
                        help="also measure each page narrowed by this query (e.g. tier=key): its first view "
                             "of the day (computed live, then kept) and the views after it (read back)")
    args = parser.parse_args()
    label = demo_company("report_pages", args.use_current, args.accounts)

    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from clm.analytics.revenue import account_mrr_by_month
    from clm.core.models import User
    from clm.customers.models import Account
    from clm.reports import figures
    from clm.reports.charts.service import PAGES
    from clm.reports.kpis.base import Scope
    from clm.reports.models import Snapshot
    from clm.reports.services import default_period
    from clm.value.services.loading import change_frame

    request_started.disconnect(reset_queries)  # keep the query log across the request, to count it
    admin = User.objects.get(username="admin")
    period = default_period()
    print(f"database: {label}; {Account.objects.count()} accounts; period {period.label}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(admin)

    def page(url):
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return get

    urls = {"overview": reverse("web:dashboard"), **{name: reverse("web:report", args=[name]) for name in PAGES}}
    measured = {f"page {name}": page(url) for name, url in urls.items()}

    def forget_segments():  # what the first view of a segment keeps, so that the next view is a first one
        Snapshot.objects.exclude(segment="").delete()

    first_views = {}
    if args.filtered:
        for name, url in urls.items():
            get = page(f"{url}?{args.filtered}")
            first_views[f"page {name} ?{args.filtered} first view"] = get
            measured[f"page {name} ?{args.filtered}"] = get
    measured["API /reports/figures/revenue.waterfall"] = page("/api/v1/reports/figures/revenue.waterfall")
    measured["reference: accounts list, first page"] = page(reverse("web:accounts"))
    measured["reference: ledger → MRR per account and month"] = lambda: account_mrr_by_month(change_frame(), end=None)
    results = {}
    for name, fn in first_views.items():
        fn()  # warm-up
        results[name] = []
        for _ in range(args.repeat):
            forget_segments()
            results[name] += timed(fn, 1)
        print(f"{name:48s} {summary(results[name])}")
    for name, fn in measured.items():
        fn()  # warm-up
        results[name] = timed(fn, args.repeat)
        print(f"{name:48s} {summary(results[name])}")
    ledger = statistics.median(results["reference: ledger → MRR per account and month"])
    accounts = statistics.median(results["reference: accounts list, first page"])
    print()
    print(f"{'page (a filter: first view of the day, then the views after it)':38s} {'median':>8s} {'slowest':>8s}  ÷ accounts list  ÷ ledger→MRR  queries")
    filtered = [(f"{n} ?{args.filtered}{view}", f"{u}?{args.filtered}", view)
                for n, u in (urls.items() if args.filtered else ()) for view in (" first view", "")]
    for name, url, view in [*((n, u, "") for n, u in urls.items()), *filtered]:
        if view:
            forget_segments()
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times = results[f"page {name}"]
        took, slowest = statistics.median(times), max(times)
        print(f"{name:38s} {took:6.0f} ms {slowest:6.0f} ms  {took / accounts:13.1f}×  {took / ledger:10.1f}×  "
              f"{len(queries.captured_queries):7d}  target ≤ {TARGET_MS} ms: {'met' if slowest <= TARGET_MS else 'NOT met'}"
              f"  (load {os.getloadavg()[0]:.1f})")

    print("\nper figure, alone (a fresh scope each: its frames loaded for it):")
    for key in sorted(figures.FIGURES):
        start = time.perf_counter()
        figures.read(key, Scope(admin), period)
        print(f"  {key:28s} {(time.perf_counter() - start) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
