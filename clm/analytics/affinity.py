"""Cross-sell affinity "A, then later B" from order lines, with the typical lag between the first
purchase of A and the first purchase of B, and a next-best offer per account with its due window
and the reason in words (seed 002: "购买了A产品的客户，在半年后普遍会产生对B产品的需求").

Everything works on first purchases: an account's first purchase date of each product. For a
pair A → B, the accounts counted are those whose first purchase of B came on a later day than
their first purchase of A (same-day purchases are bundles, not sequences). With N accounts:
    support    = accounts(A then B) / N
    confidence = accounts(A then B) / accounts(A)
    lift       = confidence / (accounts(B) / N)
Lift above 1 means buying A makes a later B more likely than among all accounts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .value_frames import (
    AnalyticsInputError,
    as_of_day,
    days,
    ids,
    not_after,
    require_frame,
    to_dates,
)

LINE_COLUMNS = ("account_id", "date", "product_id")
AFFINITY_COLUMNS = (
    "antecedent",
    "consequent",
    "accounts_antecedent",
    "accounts_consequent",
    "accounts_both",
    "support",
    "confidence",
    "lift",
    "lag_median_days",
    "lag_q1_days",
    "lag_q3_days",
    "lag_iqr_days",
)
OFFER_COLUMNS = (
    "account_id",
    "rank",
    "product_id",
    "because_of",
    "score",
    "confidence",
    "lift",
    "expected_value",
    "due_from",
    "due_to",
    "due_status",
    "reason",
    "reason_zh",
)
_PAIRS_PER_CHUNK = 8_000_000  # bounds the memory of the self-join of accounts' first purchases
_DAYS_PER_MONTH = 365.2425 / 12


class _FirstPurchases:
    """First purchase day per (account, product), sorted by account then product, as codes."""

    def __init__(self, lines: pd.DataFrame, as_of):
        require_frame(lines, "lines", LINE_COLUMNS)
        account = ids(lines, "lines", "account_id")
        product = ids(lines, "lines", "product_id")
        day = days(lines, "lines", "date")
        if as_of is not None:
            not_after(lines, "lines", "date", day, as_of_day(as_of))
        account_code, self.accounts = pd.factorize(account, sort=True)
        product_code, self.products = pd.factorize(product, sort=True)
        key = account_code.astype(np.int64) * len(self.products) + product_code
        order = np.lexsort((day, key))
        first = np.append(True, key[order][1:] != key[order][:-1])
        chosen = order[first]
        self.account = account_code[chosen].astype(np.int64)
        self.product = product_code[chosen].astype(np.int64)
        self.day = day[chosen]

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def n_products(self) -> int:
        return len(self.products)

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """(pair code A·P + B, lag in days) for every account whose first B followed its first A.

        A self-join of each account's rows, vectorised: row i is paired with every row of its
        account by repeating it once per row there; accounts are processed in a few chunks so
        the join never holds more than about ``_PAIRS_PER_CHUNK`` pairs.
        """
        size = np.bincount(self.account, minlength=self.n_accounts)
        account_start = np.cumsum(size) - size
        chunk_of_account = np.cumsum(size.astype(np.int64) ** 2) // _PAIRS_PER_CHUNK
        bounds = np.flatnonzero(np.diff(chunk_of_account, prepend=-1, append=chunk_of_account[-1] + 1))
        pairs, lags = [], []
        for first_account, end_account in zip(bounds[:-1], bounds[1:], strict=True):
            lo = account_start[first_account]
            hi = account_start[end_account - 1] + size[end_account - 1]
            rows = np.arange(lo, hi)
            width = size[self.account[rows]]
            left = np.repeat(rows, width)
            offset = np.arange(len(left)) - np.repeat(np.cumsum(width) - width, width)
            right = np.repeat(account_start[self.account[rows]], width) + offset
            lag = self.day[right] - self.day[left]
            later = lag > 0
            pairs.append(self.product[left[later]] * self.n_products + self.product[right[later]])
            lags.append(lag[later])
        return np.concatenate(pairs), np.concatenate(lags)


def product_affinity(lines: pd.DataFrame, *, as_of=None, min_accounts: int = 5) -> pd.DataFrame:
    """Affinity of every product pair A → B followed by at least ``min_accounts`` accounts.

    ``lines`` has columns account_id, date, product_id (order lines or orders with a product;
    several lines of one product add nothing). Returns ``AFFINITY_COLUMNS``, sorted by
    antecedent then lift (highest first); lags are the median and quartiles (linear
    interpolation, as numpy's default) of the days from the first A to the first B.
    """
    _check_min_accounts(min_accounts)
    require_frame(lines, "lines", LINE_COLUMNS)
    if lines.empty:
        return _empty(AFFINITY_COLUMNS)
    first = _FirstPurchases(lines, as_of)
    return _affinity(first, min_accounts)


def next_best_offers(
    lines: pd.DataFrame,
    *,
    as_of,
    affinity: pd.DataFrame | None = None,
    prices=None,
    names=None,
    top: int = 1,
    min_accounts: int = 5,
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """For each account, the ``top`` products it does not own yet that its purchases point to.

    Candidates come from the rules A → B (``affinity``, computed from ``lines`` when not given)
    with lift above ``min_lift`` and at least ``min_accounts`` accounts, where the account owns A
    and not B; of several A's pointing to one B the best rule counts. Ranked by confidence × lift,
    or, with ``prices`` (product_id → price), by expected value = confidence × price. The due
    window is the account's first purchase of A + the median lag ± half the interquartile range;
    due_status is "upcoming", "due" or "overdue" as of ``as_of``. The reason is in words, in
    English and Chinese, naming products by ``names`` (product_id → name) when given.
    Returns ``OFFER_COLUMNS`` (expected_value NaN without prices), sorted by account then rank.
    """
    _check_min_accounts(min_accounts)
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise AnalyticsInputError("top", top, "must be a whole number ≥ 1")
    require_frame(lines, "lines", LINE_COLUMNS)
    limit = as_of_day(as_of)
    if lines.empty:
        return _empty(OFFER_COLUMNS)
    first = _FirstPurchases(lines, as_of)
    rules = (
        _affinity(first, min_accounts)
        if affinity is None
        else require_frame(affinity, "affinity", AFFINITY_COLUMNS)
    )
    rules = rules[(rules["lift"] > min_lift) & (rules["accounts_both"] >= min_accounts)]
    rules = rules[rules["antecedent"].isin(first.products) & rules["consequent"].isin(first.products)]
    if rules.empty:
        return _empty(OFFER_COLUMNS)
    rules = rules.reset_index(drop=True)
    a_code = first.products.get_indexer(rules["antecedent"])
    b_code = first.products.get_indexer(rules["consequent"])
    confidence = rules["confidence"].to_numpy(float)
    lift = rules["lift"].to_numpy(float)
    value = np.full(len(rules), np.nan)
    if prices is not None:
        value = confidence * _lookup_prices(prices, rules["consequent"])
        score = value
    else:
        score = confidence * lift

    # the rules each owned product starts, one row per (account, rule): rules sorted by antecedent
    by_a = np.argsort(a_code, kind="stable")
    per_a = np.bincount(a_code, minlength=first.n_products)
    rule_start = np.cumsum(per_a) - per_a
    width = per_a[first.product]
    row = np.repeat(np.arange(len(first.product)), width)
    rule = by_a[
        np.repeat(rule_start[first.product], width)
        + np.arange(len(row))
        - np.repeat(np.cumsum(width) - width, width)
    ]
    account = first.account[row]
    target = b_code[rule]
    owned = np.sort(first.account * first.n_products + first.product)
    wanted = account * first.n_products + target
    position = np.searchsorted(owned, wanted).clip(max=len(owned) - 1)
    new = owned[position] != wanted
    row, rule, account, target, wanted = row[new], rule[new], account[new], target[new], wanted[new]
    if len(row) == 0:
        return _empty(OFFER_COLUMNS)

    # best rule per (account, product), then the top products per account
    order = np.lexsort((rule, -score[rule], wanted))
    keep = order[np.append(True, wanted[order][1:] != wanted[order][:-1])]
    row, rule, account, target = row[keep], rule[keep], account[keep], target[keep]
    order = np.lexsort((target, -score[rule], account))
    row, rule, account, target = row[order], rule[order], account[order], target[order]
    group_start = np.flatnonzero(np.append(True, account[1:] != account[:-1]))
    rank = np.arange(len(account)) - np.repeat(group_start, np.diff(np.append(group_start, len(account)))) + 1
    chosen = rank <= top
    row, rule, account, rank = row[chosen], rule[chosen], account[chosen], rank[chosen]

    median = rules["lag_median_days"].to_numpy(float)[rule]
    half_iqr = rules["lag_iqr_days"].to_numpy(float)[rule] / 2
    centre = first.day[row] + median
    due_from = np.floor(centre - half_iqr).astype(np.int64)
    due_to = np.ceil(centre + half_iqr).astype(np.int64)
    status = np.where(limit < due_from, "upcoming", np.where(limit > due_to, "overdue", "due"))
    reason, reason_zh = _reasons(rules, names)
    return pd.DataFrame(
        {
            "account_id": first.accounts[account],
            "rank": rank,
            "product_id": rules["consequent"].to_numpy()[rule],
            "because_of": rules["antecedent"].to_numpy()[rule],
            "score": score[rule],
            "confidence": confidence[rule],
            "lift": lift[rule],
            "expected_value": value[rule],
            "due_from": to_dates(due_from).to_numpy(),
            "due_to": to_dates(due_to).to_numpy(),
            "due_status": status.astype(object),
            "reason": reason[rule],
            "reason_zh": reason_zh[rule],
        }
    )


def lag_in_words(days_: float) -> tuple[str, str]:
    """'about 6 months' / '约6个月' for a lag in days (days below 45, months from there)."""
    if days_ < 45:
        n = max(int(round(days_)), 1)
        return f"about {n} day{'s' if n != 1 else ''}", f"约{n}天"
    n = int(round(days_ / _DAYS_PER_MONTH))
    return f"about {n} month{'s' if n != 1 else ''}", f"约{n}个月"


def _affinity(first: _FirstPurchases, min_accounts: int) -> pd.DataFrame:
    n_products, n_accounts = first.n_products, first.n_accounts
    pair, lag = first.sequences()
    both = np.bincount(pair, minlength=n_products * n_products)
    present = np.flatnonzero(both >= max(min_accounts, 1))
    if len(present) == 0:
        return _empty(AFFINITY_COLUMNS)
    # quartiles per pair from one sort of (pair, lag)
    span = int(lag.max()) + 1
    ordered = np.sort(pair * span + lag) % span
    start = np.cumsum(both) - both
    quantile = {q: _sorted_quantile(ordered, start[present], both[present], q) for q in (0.25, 0.5, 0.75)}
    buyers = np.bincount(first.product, minlength=n_products)
    a, b = np.divmod(present, n_products)
    confidence = both[present] / buyers[a]
    table = pd.DataFrame(
        {
            "antecedent": first.products[a],
            "consequent": first.products[b],
            "accounts_antecedent": buyers[a],
            "accounts_consequent": buyers[b],
            "accounts_both": both[present],
            "support": both[present] / n_accounts,
            "confidence": confidence,
            "lift": confidence / (buyers[b] / n_accounts),
            "lag_median_days": quantile[0.5],
            "lag_q1_days": quantile[0.25],
            "lag_q3_days": quantile[0.75],
            "lag_iqr_days": quantile[0.75] - quantile[0.25],
        }
    )
    table = table.iloc[np.lexsort((b, -table["lift"].to_numpy(), a))]
    return table.reset_index(drop=True)


def _sorted_quantile(values: np.ndarray, start: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    position = start + q * (count - 1)
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    return values[low] + (values[high] - values[low]) * (position - low)


def _reasons(rules: pd.DataFrame, names) -> tuple[np.ndarray, np.ndarray]:
    def name(product):
        if names is None:
            return str(product)
        found = names.get(product) if hasattr(names, "get") else None
        return str(product) if found is None or (isinstance(found, float) and np.isnan(found)) else str(found)

    english, chinese = [], []
    for a, b, confidence, lift, lag in zip(
        rules["antecedent"],
        rules["consequent"],
        rules["confidence"],
        rules["lift"],
        rules["lag_median_days"],
        strict=True,
    ):
        when, when_zh = lag_in_words(lag)
        english.append(
            f"Customers who buy {name(a)} buy {name(b)} {when} later (confidence {confidence:.0%}, lift {lift:.1f})"
        )
        chinese.append(
            f"购买{name(a)}的客户通常在{when_zh}后购买{name(b)}（置信度{confidence:.0%}，提升度{lift:.1f}）"
        )
    return np.array(english, dtype=object), np.array(chinese, dtype=object)


def _lookup_prices(prices, products: pd.Series) -> np.ndarray:
    table = pd.Series(prices) if not isinstance(prices, pd.Series) else prices
    found = pd.to_numeric(table.reindex(products.to_numpy()), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(found) | (found < 0)
    if bad.any():
        product = products.iloc[int(np.flatnonzero(bad)[0])]
        raise AnalyticsInputError(
            f"prices[{product}]", table.get(product), "every offered product needs a price ≥ 0"
        )
    return found


def _check_min_accounts(min_accounts) -> None:
    if isinstance(min_accounts, bool) or not isinstance(min_accounts, int | np.integer) or min_accounts < 1:
        raise AnalyticsInputError("min_accounts", min_accounts, "must be a whole number ≥ 1")


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
