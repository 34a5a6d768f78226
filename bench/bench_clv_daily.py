"""Benchmark the daily value recomputation (clm.value.services.recompute: CLV by sBG and BG/NBD,
tiers with RFM, recommendations, loyalty earnings) on the demo company, against a reference
measured in the same run: reading the same data account by account through the ORM (what a
per-row implementation would do before computing anything), extrapolated from a sample.

    python bench/bench_clv_daily.py                       # SQLite, in a temporary directory
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x python bench/bench_clv_daily.py

Target (issue #4): the daily CLV recomputation for 10,000 accounts in under 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2025, 6, 30))
    parser.add_argument("--repeat", type=int, default=3, help="timed daily runs (default 3)")
    parser.add_argument("--sample", type=int, default=300, help="accounts read one by one for the reference")
    args = parser.parse_args()

    from bench.common import setup_django

    where = setup_django("clv_daily")
    from clm.demo.simulator import simulate

    print(f"bench_clv_daily: {args.accounts:,} accounts × {args.months} months, seed {args.seed}  [{where}]")
    began = time.perf_counter()
    result = simulate(args.accounts, args.months, args.seed, args.as_of)
    print(f"  simulated in {time.perf_counter() - began:.1f} s ({result.total_rows:,} rows)")
    return run(args)


def run(args) -> int:
    from clm.commerce.models import Order, OrderLine, SubscriptionChange
    from clm.value import services
    from clm.value.models import CLVEstimate

    first_day = args.as_of
    began = time.perf_counter()
    first = services.recompute(first_day)
    cold = time.perf_counter() - began
    print(
        f"  first run ({first_day}): {cold:.2f} s — {first['clv_estimates']:,} CLV estimates "
        f"{first['clv_by_method']}, {first['tier_assignments']:,} tiers, "
        f"{first['recommendations']['created']:,} recommendations, "
        f"{first['loyalty_entries']['purchase']:,} purchase + {first['loyalty_entries']['referral']:,} "
        f"referral point entries (the whole history's, once)"
    )
    print(f"    phases {first['seconds']}; models {first['models']}")
    if first["problems"]:
        print(f"    problems: {first['problems']}")

    daily = []
    for i in range(args.repeat):
        day = first_day + dt.timedelta(days=i + 1)
        began = time.perf_counter()
        summary = services.recompute(day)
        daily.append(time.perf_counter() - began)
        print(f"  daily run ({day}): {daily[-1]:.2f} s, phases {summary['seconds']}")
    again = time.perf_counter()
    services.recompute(first_day + dt.timedelta(days=args.repeat))
    rerun = time.perf_counter() - again
    print(f"  the same day again (idempotent): {rerun:.2f} s")

    # Reference: the same reads, one account at a time through the ORM, on a sample.
    accounts = list(
        CLVEstimate.objects.filter(as_of=first_day).values_list("account_id", flat=True)[: args.sample]
    )
    began = time.perf_counter()
    for account in accounts:
        orders = list(
            Order.objects.filter(account_id=account, ordered_on__lte=first_day).values(
                "ordered_on", "amount", "cost"
            )
        )
        changes = list(
            SubscriptionChange.objects.filter(
                account_id=account, effective_date__lte=first_day
            ).values("effective_date", "kind", "mrr_before", "mrr_after")
        )
        lines = list(
            OrderLine.objects.filter(order__account_id=account, order__ordered_on__lte=first_day).values(
                "product_id"
            )
        )
        CLVEstimate.objects.filter(account_id=account, as_of=first_day).update(
            inputs={"orders": len(orders), "changes": len(changes), "lines": len(lines)}
        )
    per_account = (time.perf_counter() - began) / max(len(accounts), 1)
    reference = per_account * first["clv_estimates"]

    best = min(daily)
    print(
        f"reference: per-account ORM reads and one write, {per_account * 1000:.2f} ms per account "
        f"(measured on {len(accounts)}), {reference:.1f} s for {first['clv_estimates']:,} valued accounts"
    )
    print(
        f"daily recompute: best {best:.2f} s, median {sorted(daily)[len(daily) // 2]:.2f} s; "
        f"{reference / best:.1f}× faster than the reference (which computes nothing)"
    )
    verdict = "met" if best < TARGET_SECONDS else "MISSED"
    print(
        f"target: daily CLV recomputation for {args.accounts:,} accounts in under {TARGET_SECONDS:.0f} s — {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
