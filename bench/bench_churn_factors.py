"""Benchmark the churn risk's factors that add up (ChurnModel.explain_risk: exact Shapley values of
the four strongest features and the rest, 32 predictions per account) against the prediction alone
and against the one-swap-per-feature effects it starts from (ChurnModel.contributions), measured in
the same run on the same rows; and the daily run's whole churn step (services.predict: probability
and factors), whose target is 10 s for 10,000 accounts.

    python -m bench.bench_churn_factors [--accounts 10000]

Builds the demo company (600 accounts, 24 months, seed 7), trains the churn model on it (`clm
train`), then scores its live accounts as of today, their rows repeated up to --accounts.
Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import setup_django  # noqa: E402


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    label = setup_django("churn_factors")
    import pandas as pd
    from django.core.management import call_command
    from django.utils import timezone

    from clm.demo.simulator import simulate
    from clm.lifecycle import services

    today = timezone.localdate()
    simulate(accounts=600, months=24, seed=7, as_of=today)
    call_command("train", verbosity=0)
    _, learned = services.active_churn_model()
    frame = services.assess(today, with_stages=False, with_risk=False).metrics
    live = frame[frame["subscriptions_active"] > 0]
    rows = pd.concat([live] * (args.accounts // len(live) + 1)).iloc[: args.accounts]
    rows.index = range(len(rows))
    print(f"{label}; churn model {learned.kind}, {len(learned.features)} features; {len(rows):,} live accounts")
    predict = seconds(lambda: learned.predict_proba(rows))
    effects = seconds(lambda: learned.contributions(rows))
    explained = seconds(lambda: learned.explain_risk(rows))
    started = time.perf_counter()
    step = services.predict(learned, rows)
    churn_step = time.perf_counter() - started
    gap = max(abs(sum(f["effect"] for f in fs) + fs[0]["baseline"] - p)
              for fs, p in zip(step["factors"], step["probability"], strict=True))  # fmt: skip
    print(f"predict alone          {predict:7.2f} s")
    print(f"one swap per feature   {effects:7.2f} s  ({effects / predict:5.1f}× the prediction)")
    print(f"factors that add up    {explained:7.2f} s  ({explained / predict:5.1f}× the prediction, "
          f"{explained / effects:4.2f}× the one-swap effects)")  # fmt: skip
    print(f"churn step, probability and factors (services.predict) {churn_step:7.2f} s  "
          f"({churn_step / predict:5.1f}× the prediction; target 10 s)")  # fmt: skip
    print(f"largest |baseline + Σ effects − risk| over all {len(rows):,} accounts: {gap:.2e}")


if __name__ == "__main__":
    main()
