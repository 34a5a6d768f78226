"""clm.core.bulk against Django's bulk_create on the same rows: a plain insert of audit rows, and
an upsert of daily rollups of which half conflict (bulk_create(update_conflicts=True)). The
reason clm.core.bulk exists; the ratio is the figure to watch.

    python bench/bench_bulk.py [--rows 100000]            # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_bulk.py
"""

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django  # noqa: E402


def seconds(fn) -> float:
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic():
        fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    n = parser.parse_args().rows
    label = setup_django("bulk")

    from clm.core import bulk
    from clm.core.models import AuditLog
    from clm.customers.models import Account
    from clm.usage.models import UsageDaily

    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    columns = ["at", "via", "action", "model", "object_id", "object_repr", "changes"]

    def ours():
        bulk.insert(AuditLog, columns, [(at, "import", "create", "account", str(i), f"a {i}", "{}") for i in range(n)])

    def django_():
        AuditLog.objects.bulk_create(
            [
                AuditLog(at=at, via="import", action="create", model="account", object_id=str(i), object_repr=f"a {i}")
                for i in range(n)
            ],
            batch_size=5000,
        )

    account = Account.objects.create(name="bench")
    days = [dt.date(1990, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    rollup = ["account_id", "day", "events", "active_users", "minutes"]

    def half_there():
        UsageDaily.objects.all().delete()
        bulk.insert(UsageDaily, rollup, [(account.id, d, 1, 1, 1.0) for d in days[: n // 2]])

    def ours_upsert():
        rows = [(account.id, d, 2, 2, 2.0) for d in days]
        bulk.insert(UsageDaily, rollup, rows, conflict=["account_id", "day"], update=rollup[2:])

    def django_upsert():
        UsageDaily.objects.bulk_create(
            [UsageDaily(account_id=account.id, day=d, events=2, active_users=2, minutes=2.0) for d in days],
            update_conflicts=True,
            unique_fields=["account", "day"],
            update_fields=["events", "active_users", "minutes"],
            batch_size=5000,
        )

    print(f"{label}, {n:,} rows, best of 2")
    for name, a, b, before in (
        ("insert", ours, django_, lambda: AuditLog.objects.all().delete()),
        ("upsert, half conflicting", ours_upsert, django_upsert, half_there),
    ):
        times = {}
        for which, fn in (("clm.core.bulk", a), ("bulk_create", b)):
            best = float("inf")
            for _ in range(2):
                before()
                best = min(best, seconds(fn))
            times[which] = best
        ratio = times["bulk_create"] / times["clm.core.bulk"]
        print(
            f"  {name:25s} clm.core.bulk {times['clm.core.bulk']:6.2f} s   "
            f"bulk_create {times['bulk_create']:6.2f} s   ratio {ratio:4.1f}×"
        )


if __name__ == "__main__":
    main()
