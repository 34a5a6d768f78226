"""Time cross-sell affinity and next-best offers on synthetic order lines: 100,000 accounts and
20 products, products bought in a noisy sequence (each account starts somewhere and moves on
every few months), several lines per product.

    python bench/bench_affinity.py [--accounts 100000] [--products 20]

Pure pandas/numpy: no database. Prints seconds per step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clm.analytics.affinity import next_best_offers, product_affinity  # noqa: E402


def synthetic_lines(accounts: int, products: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    owned = rng.integers(1, products + 1, accounts)  # how many products each account buys
    account = np.repeat(np.arange(accounts), owned)
    step = np.arange(len(account)) - np.repeat(np.cumsum(owned) - owned, owned)
    start = np.repeat(rng.integers(0, products, accounts), owned)
    product = (start + step + (rng.random(len(account)) < 0.2)) % products
    gap = rng.gamma(3.0, 60.0, len(account)).astype(int)
    day = np.datetime64("2018-01-01") + np.repeat(rng.integers(0, 365, accounts), owned) + step * 180 + gap
    repeats = rng.integers(1, 4, len(account))  # repeat orders of the same product
    lines = pd.DataFrame(
        {
            "account_id": np.repeat(account, repeats),
            "date": np.repeat(day, repeats) + np.concatenate([np.arange(r) * 30 for r in repeats]),
            "product_id": np.char.add("P", np.repeat(product, repeats).astype(str)),
        }
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=20)
    args = parser.parse_args()
    lines = synthetic_lines(args.accounts, args.products)
    as_of = lines["date"].max()
    print(f"{len(lines):,} order lines, {args.accounts:,} accounts, {args.products} products")

    start = time.perf_counter()
    rules = product_affinity(lines, as_of=as_of)
    affinity_s = time.perf_counter() - start
    print(f"product_affinity: {affinity_s:.2f} s ({len(rules)} pairs)")

    start = time.perf_counter()
    offers = next_best_offers(lines, as_of=as_of, affinity=rules, top=3)
    offers_s = time.perf_counter() - start
    print(f"next_best_offers (top 3, rules given): {offers_s:.2f} s ({len(offers):,} offers)")

    start = time.perf_counter()
    next_best_offers(lines, as_of=as_of, top=1)
    print(f"next_best_offers (rules computed too): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
