"""The win-back, referral and reactivation lists on a built demo company (run `clm demo` first,
then point CLM_DATA_DIR or DATABASE_URL at it). Target: each list under 200 ms on 600 accounts.
Reference: one plain query for the same accounts (churned, dormant, customers) with their names,
measured in the same run, so the ratio says what the ranking and explaining cost on top of reading.

    CLM_DATA_DIR=var python bench/bench_programmes.py
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import summary, timed, use_current_database  # noqa: E402

REPEAT = 15


def main() -> None:
    label = use_current_database()
    from clm.automation import winback_lists
    from clm.core.models import User
    from clm.customers.models import Account
    from clm.value.services import advocacy, reactivation

    admin = User.objects.filter(is_superuser=True).first()
    if admin is None or not Account.objects.exists():
        sys.exit("no demo company here: run `clm demo --no-serve` first")
    cases = {
        "churned list (win-back)": (
            lambda: winback_lists.churned_list(admin, limit=100),
            lambda: list(Account.objects.filter(lifecycle_stage="churned").values_list("pk", "name")),
        ),
        "dormant list (reactivation)": (
            lambda: reactivation.dormant_list(admin, limit=200),
            lambda: list(Account.objects.filter(lifecycle_stage="dormant").values_list("pk", "name")),
        ),
        "advocates": (
            lambda: advocacy.advocates(admin, limit=200),
            lambda: list(Account.objects.filter(lifecycle_stage__in=advocacy.CUSTOMER_STAGES).values_list("pk", "name")),
        ),
        "win-back KPIs by cause and offer": (
            lambda: [f(winback_lists.evaluated()) for f in (winback_lists.by_cause, winback_lists.by_offer)],
            lambda: list(Account.objects.filter(winbacks__step="evaluated").values_list("pk", "name")),
        ),
    }
    print(f"{label}: {Account.objects.count()} accounts, {REPEAT} runs each")
    for name, (work, reference) in cases.items():
        work()
        reference()
        measured, base = timed(work, REPEAT), timed(reference, REPEAT)
        ratio = statistics.median(measured) / max(statistics.median(base), 1e-6)
        print(f"  {name}: {summary(measured)}; reference {statistics.median(base):.2f} ms; ×{ratio:.1f}")


if __name__ == "__main__":
    main()
