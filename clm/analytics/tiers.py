"""Value tiers by tenure and total revenue, and the rules of the loyalty points ledger.

Tiers: seed 003's case (an equipment-installation company) has the system "根据客户的合作年限和
项目总额，自动计算客户价值等级" — compute each customer's value tier from the years of cooperation
and the total of its projects. The seed gives no thresholds, so ``DEFAULT_TIERS`` below is our
starting configuration (in the account's currency, sized for a B2B company of 50–500 people
selling projects in CNY); every deployment is expected to set its own.

Loyalty: seed 002 rewards "复购和推荐行为" (repurchases and referrals) with points, and seed
003's referral programme gives "服务费减免或免费的增值功能" (service-fee credit) for each
referred customer who signs. Points are earned on purchases (a rate per amount) and on
referrals, and redeemed for service credit. The balance is always the sum of the ledger: every
change is an entry (earnings positive, redemptions and expiries negative), nothing is updated in
place. Expiry is optional and first-in, first-out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .value_frames import (
    AnalyticsInputError,
    amounts,
    as_of_day,
    days,
    ids,
    not_after,
    refuse,
    require_frame,
    to_date,
)

DAYS_PER_YEAR = 365.2425
TIER_COLUMNS = ("account_id", "customer_since", "total_revenue")


@dataclass(frozen=True)
class TierRule:
    """A tier an account reaches with at least this tenure AND at least this total revenue."""

    key: str
    label: str
    label_zh: str
    min_tenure_years: float = 0.0
    min_total_revenue: float = 0.0


DEFAULT_TIERS: tuple[TierRule, ...] = (
    TierRule("strategic", "Strategic", "战略客户", min_tenure_years=3, min_total_revenue=1_000_000),
    TierRule("key", "Key", "重点客户", min_tenure_years=1, min_total_revenue=300_000),
    TierRule("growth", "Growth", "成长客户", min_tenure_years=0, min_total_revenue=50_000),
    TierRule("standard", "Standard", "普通客户"),
)


def check_tiers(rules) -> tuple[TierRule, ...]:
    """The rules as a tuple, refusing an empty list, negative thresholds, repeated keys, and a
    last rule that does not catch every account (0 years, 0 revenue)."""
    rules = tuple(rules)
    if not rules:
        raise AnalyticsInputError("tiers", [], "at least one tier is needed")
    for rule in rules:
        if not isinstance(rule, TierRule):
            raise AnalyticsInputError("tiers", rule, "each tier is a TierRule")
        for name in ("min_tenure_years", "min_total_revenue"):
            value = getattr(rule, name)
            if not np.isfinite(value) or value < 0:
                raise AnalyticsInputError(f"tier {rule.key}, {name}", value, "must be a number ≥ 0")
    keys = [rule.key for rule in rules]
    if len(set(keys)) != len(keys):
        raise AnalyticsInputError("tiers", keys, "each tier needs its own key")
    if rules[-1].min_tenure_years or rules[-1].min_total_revenue:
        raise AnalyticsInputError(
            "tiers", rules[-1].key, "the last tier must take every account (0 years, 0 revenue)"
        )
    return rules


def value_tiers(accounts: pd.DataFrame, as_of, tiers=DEFAULT_TIERS) -> pd.DataFrame:
    """Each account's tier: the first of ``tiers`` whose tenure and revenue minimums it meets.

    ``accounts`` has columns account_id, customer_since (date), total_revenue (≥ 0); tenure is
    (as_of − customer_since) in years of 365.2425 days. Returns a frame indexed by account_id
    (input order) with tenure_years, total_revenue, tier, tier_label, tier_label_zh.
    """
    rules = check_tiers(tiers)
    require_frame(accounts, "accounts", TIER_COLUMNS)
    columns = ["tenure_years", "total_revenue", "tier", "tier_label", "tier_label_zh"]
    if accounts.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in columns[:2] else object) for c in columns},
            index=pd.Index([], name="account_id"),
        )
    account = ids(accounts, "accounts", "account_id")
    since = days(accounts, "accounts", "customer_since")
    revenue = amounts(accounts, "accounts", "total_revenue", what="revenue")
    limit = as_of_day(as_of)
    not_after(accounts, "accounts", "customer_since", since, limit)
    tenure = (limit - since) / DAYS_PER_YEAR
    meets = [(tenure >= rule.min_tenure_years) & (revenue >= rule.min_total_revenue) for rule in rules]
    choice = np.select(meets, np.arange(len(rules)), default=len(rules) - 1)
    return pd.DataFrame(
        {
            "tenure_years": tenure,
            "total_revenue": revenue,
            "tier": np.array([r.key for r in rules], dtype=object)[choice],
            "tier_label": np.array([r.label for r in rules], dtype=object)[choice],
            "tier_label_zh": np.array([r.label_zh for r in rules], dtype=object)[choice],
        },
        index=pd.Index(account.to_numpy(), name="account_id"),
    )


def tier_inputs_from_orders(orders: pd.DataFrame, as_of) -> pd.DataFrame:
    """account_id, customer_since (first order) and total_revenue (sum of amounts) from orders
    (columns account_id, date, amount), for accounts with no recorded customer-since date."""
    require_frame(orders, "orders", ("account_id", "date", "amount"))
    if orders.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in TIER_COLUMNS})
    day = days(orders, "orders", "date")
    not_after(orders, "orders", "date", day, as_of_day(as_of))
    frame = pd.DataFrame(
        {
            "account_id": ids(orders, "orders", "account_id").to_numpy(),
            "day": day,
            "amount": amounts(orders, "orders", "amount"),
        }
    )
    grouped = frame.groupby("account_id", sort=True)
    out = pd.DataFrame(
        {"first": grouped["day"].min(), "total_revenue": grouped["amount"].sum()}
    ).reset_index()
    out["customer_since"] = out["first"].to_numpy().astype("datetime64[D]")
    return out[list(TIER_COLUMNS)]


# ---------------------------------------------------------------- loyalty points ledger

LEDGER_COLUMNS = ("account_id", "date", "kind", "points")
EARNING_KINDS = ("purchase", "referral")
SPENDING_KINDS = ("redemption", "expiry")
ENTRY_KINDS = (*EARNING_KINDS, *SPENDING_KINDS, "adjustment")


@dataclass(frozen=True)
class LoyaltyRules:
    """How points are earned and what they are worth. Defaults are a starting configuration, not
    the seeds' (they give none): 1 point per 100 of purchase amount, 500 points for a referred
    customer who signs, 1 point = 1 unit of service credit, no expiry."""

    points_per_amount: float = 0.01
    referral_points: int = 500
    credit_per_point: float = 1.0
    expiry_months: int | None = None

    def __post_init__(self):
        for name in ("points_per_amount", "referral_points", "credit_per_point"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise AnalyticsInputError(name, value, "must be a number ≥ 0")
        if self.expiry_months is not None and (
            int(self.expiry_months) != self.expiry_months or self.expiry_months < 1
        ):
            raise AnalyticsInputError(
                "expiry_months", self.expiry_months, "must be a whole number of months ≥ 1, or None"
            )


class RedemptionRefused(AnalyticsInputError):
    """A redemption the account's points do not cover. ``available`` and ``requested`` say by how much."""

    def __init__(self, account_id, requested: int, available: int, reason: str):
        self.account_id = account_id
        self.requested = requested
        self.available = available
        super().__init__(f"account {account_id}: redemption of points", requested, reason)


def purchase_points(amount, rules: LoyaltyRules = LoyaltyRules()):
    """Points a purchase earns: ⌊amount × points_per_amount⌋ (whole points, rounded down)."""
    money = np.asarray(amount, dtype=float)
    if not np.isfinite(money).all() or (money < 0).any():
        raise AnalyticsInputError("amount", amount, "a purchase amount is a finite number ≥ 0")
    # the epsilon keeps 3 × 0.01 × 100 from flooring to 2 on binary rounding
    points = np.floor(money * rules.points_per_amount + 1e-9).astype(np.int64)
    return int(points) if points.ndim == 0 else points


def purchase_entries(orders: pd.DataFrame, rules: LoyaltyRules = LoyaltyRules()) -> pd.DataFrame:
    """Ledger entries (``LEDGER_COLUMNS``) for the points each order earns; orders earning 0
    points write no entry. ``orders`` has columns account_id, date, amount."""
    require_frame(orders, "orders", ("account_id", "date", "amount"))
    if orders.empty:
        return _empty_ledger()
    entries = pd.DataFrame(
        {
            "account_id": ids(orders, "orders", "account_id").to_numpy(),
            "date": days(orders, "orders", "date").astype("datetime64[D]"),
            "kind": "purchase",
            "points": purchase_points(amounts(orders, "orders", "amount"), rules),
        },
        index=orders.index,
    )
    return entries[entries["points"] > 0]


def referral_entry(account_id, on, rules: LoyaltyRules = LoyaltyRules()) -> dict:
    """The entry for a referred customer who signed: ``rules.referral_points`` to the referrer."""
    return {
        "account_id": account_id,
        "date": to_date(as_of_day(on, "on")),
        "kind": "referral",
        "points": int(rules.referral_points),
    }


def check_ledger(entries: pd.DataFrame) -> pd.DataFrame:
    """The ledger, checked: known kinds, whole points, earnings positive, redemptions and expiries
    negative, and no account's running balance ever below 0 (entries in date order, earnings
    before spendings on one day). Returns it unchanged."""
    require_frame(entries, "ledger", LEDGER_COLUMNS)
    if entries.empty:
        return entries
    ledger = _read_ledger(entries)
    order = np.lexsort((ledger["spend"].to_numpy(), ledger["day"].to_numpy(), ledger["code"].to_numpy()))
    sorted_ = ledger.iloc[order]
    running = sorted_.groupby("code", sort=False)["points"].cumsum().to_numpy()
    negative = running < 0
    if negative.any():
        position = int(order[np.flatnonzero(negative)[0]])
        label = entries.index[position]
        raise AnalyticsInputError(
            f"ledger row {label.item() if hasattr(label, 'item') else label}, points",
            int(ledger["points"].iloc[position]),
            f"takes account {entries['account_id'].iloc[position]}'s balance below 0 "
            f"({int(running[np.flatnonzero(negative)[0]])}); a redemption cannot exceed the balance",
        )
    return entries


def balances(entries: pd.DataFrame, as_of=None) -> pd.Series:
    """Points per account (index account_id, sorted): the sum of its entries, up to ``as_of``."""
    require_frame(entries, "ledger", LEDGER_COLUMNS)
    if entries.empty:
        return pd.Series([], index=pd.Index([], name="account_id"), dtype=np.int64, name="points")
    ledger = _read_ledger(entries)
    if as_of is not None:
        ledger = ledger[ledger["day"] <= as_of_day(as_of)]
    return ledger.groupby("account_id", sort=True)["points"].sum().rename("points").astype(np.int64)


def expiring_points(entries: pd.DataFrame, as_of, rules: LoyaltyRules = LoyaltyRules()) -> pd.Series:
    """Points per account that have expired by ``as_of`` but have no expiry entry yet.

    Points expire ``rules.expiry_months`` after the day they were earned (on that day), oldest
    first. Because every spending uses the oldest points first, the points still unspent from
    those earned on or before the cutoff are max(0, earned by the cutoff − all spent by as_of).
    """
    balance = balances(entries, as_of)
    if rules.expiry_months is None or entries.empty:
        return pd.Series(0, index=balance.index, dtype=np.int64, name="points")
    ledger = _read_ledger(entries)
    limit = as_of_day(as_of)
    ledger = ledger[ledger["day"] <= limit]
    cutoff = pd.Timestamp(to_date(limit)) - pd.DateOffset(months=int(rules.expiry_months))
    cutoff_day = int(np.datetime64(cutoff.date(), "D").astype(np.int64))
    gained = ledger["points"].clip(lower=0)
    old = gained.where(ledger["day"] <= cutoff_day, 0).groupby(ledger["account_id"]).sum()
    spent = (-ledger["points"].clip(upper=0)).groupby(ledger["account_id"]).sum()
    due = (old - spent).clip(lower=0).reindex(balance.index, fill_value=0)
    return due.astype(np.int64).rename("points")


def expiry_entries(entries: pd.DataFrame, as_of, rules: LoyaltyRules = LoyaltyRules()) -> pd.DataFrame:
    """The expiry entries to write on ``as_of`` (negative points), one per account with points due."""
    due = expiring_points(entries, as_of, rules)
    due = due[due > 0]
    return pd.DataFrame(
        {
            "account_id": due.index.to_numpy(),
            "date": np.full(len(due), np.datetime64(to_date(as_of_day(as_of)), "D")),
            "kind": "expiry",
            "points": -due.to_numpy(),
        }
    )


def available_points(entries: pd.DataFrame, account_id, on, rules: LoyaltyRules = LoyaltyRules()) -> int:
    """What ``account_id`` can redeem on ``on``: its balance less points expired but not yet written."""
    require_frame(entries, "ledger", LEDGER_COLUMNS)
    mine = entries[entries["account_id"] == account_id]
    if mine.empty:
        return 0
    balance = int(balances(mine, on).sum())
    return balance - int(expiring_points(mine, on, rules).sum())


def redemption_entry(
    entries: pd.DataFrame, account_id, points, on, rules: LoyaltyRules = LoyaltyRules()
) -> dict:
    """The entry redeeming ``points`` for service credit on ``on``, after checking the account can
    afford it. Raises ``RedemptionRefused`` when it cannot; the entry's ``credit`` is the service
    credit granted (points × credit_per_point)."""
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points <= 0:
        raise AnalyticsInputError("points", points, "a redemption is a whole number of points above 0")
    available = available_points(entries, account_id, on, rules)
    if points > available:
        raise RedemptionRefused(
            account_id,
            int(points),
            available,
            f"exceeds the available balance of {available} points; the redemption is refused",
        )
    return {
        "account_id": account_id,
        "date": to_date(as_of_day(on, "on")),
        "kind": "redemption",
        "points": -int(points),
        "credit": round(int(points) * rules.credit_per_point, 2),
    }


def _read_ledger(entries: pd.DataFrame) -> pd.DataFrame:
    account = ids(entries, "ledger", "account_id")
    day = days(entries, "ledger", "date")
    kind = entries["kind"].astype(str).str.strip().str.lower().to_numpy()
    unknown = ~np.isin(kind, ENTRY_KINDS)
    refuse(entries, "ledger", "kind", unknown, f"must be one of {', '.join(ENTRY_KINDS)}")
    points = pd.to_numeric(entries["points"], errors="coerce").to_numpy(dtype=float)
    refuse(
        entries,
        "ledger",
        "points",
        ~np.isfinite(points) | (np.round(points) != points),
        "must be a whole number of points",
    )
    refuse(
        entries,
        "ledger",
        "points",
        np.isin(kind, EARNING_KINDS) & (points <= 0),
        "an earning adds points: it must be above 0",
    )
    refuse(
        entries,
        "ledger",
        "points",
        np.isin(kind, SPENDING_KINDS) & (points >= 0),
        "a redemption or expiry takes points away: it must be below 0",
    )
    codes, _ = pd.factorize(account)
    return pd.DataFrame(
        {
            "account_id": account.to_numpy(),
            "code": codes,
            "day": day,
            "spend": (points < 0).astype(np.int8),
            "points": points.astype(np.int64),
        }
    )


def _empty_ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype=object),
            "date": pd.Series(dtype="datetime64[s]"),
            "kind": pd.Series(dtype=object),
            "points": pd.Series(dtype=np.int64),
        }
    )
