"""Up-sell: which subscribed accounts are near their plan's limits or growing fast, and what to
offer them — the next plan of the product family, or more seats of the plan they have.

Pure: frames in, frames out. The signals, per account and product family (its largest live
contract in the family):

* seat utilisation = distinct active users in the last ``window_days`` ÷ contracted seats,
  a signal at or above ``seat_utilisation``;
* growth = active users in the last window ÷ active users in the window before − 1, a signal at
  or above ``growth`` (only when the earlier window had at least ``min_users`` users);
* core-feature breadth = core features used in the last window ÷ core features, a signal at or
  above ``core_breadth`` (the account uses everything its plan is for).
Growth and breadth count only when the seats are nearly full (utilisation at least
``seat_utilisation`` × ``near_full``): a plan whose seats sit partly empty is not at its limits.

The contract read is the plan the account is on: its highest live plan in the family (so after
an upgrade, the new plan even while the old contract runs to its end).

The offer: the next plan (next higher list price among the family's recurring plans) when there
is one and any signal fires; at the top plan, more seats when seats are full or growth signals. More
seats = enough seats to bring utilisation down to ``target_utilisation``. The potential MRR:
upgrade = seats × (next list price − current list price); seats = added seats × the contract's
MRR per seat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

UPGRADE, SEATS = "upgrade", "seats"
OFFER_COLUMNS = (
    "account_id", "product_id", "current_product_id", "action", "seats", "seats_used", "utilisation",
    "growth", "breadth", "added_seats", "potential_mrr", "signals",
)  # fmt: skip


@dataclass(frozen=True)
class Thresholds:
    seat_utilisation: float = 1.0
    growth: float = 0.25
    core_breadth: float = 1.0
    min_users: int = 3
    target_utilisation: float = 0.8
    near_full: float = 0.9  # of seat_utilisation: where growth and breadth count (see the docstring)


def upsell_offers(
    contracts: pd.DataFrame, usage: pd.DataFrame, plans: pd.DataFrame, t: Thresholds
) -> pd.DataFrame:
    """``contracts``: account_id, product_id, seats, mrr (live contracts); ``usage``: account_id,
    users (active users in the last window), users_before (the window before), core_used, core_total;
    ``plans``: product_id, family, list_price (recurring plans). One row per offer, OFFER_COLUMNS."""
    if contracts.empty or plans.empty:
        return pd.DataFrame(columns=list(OFFER_COLUMNS))
    plans = plans.sort_values(["family", "list_price", "product_id"])
    info = plans.set_index("product_id")
    ladder = {}  # product -> next product of the family
    for _family, group in plans.groupby("family", sort=False):
        ids = group["product_id"].tolist()
        for low, high in zip(ids, ids[1:], strict=False):
            ladder[low] = high
    rows = contracts[contracts["product_id"].isin(info.index)].copy()
    rows["family"] = rows["product_id"].map(info["family"])
    # the plan the account is on in each family: its highest live plan (after an upgrade whose
    # old contract runs to its end, the new one), the larger contract between two of one plan
    rows["price"] = rows["product_id"].map(info["list_price"])
    rows = rows.sort_values(["price", "mrr", "product_id"], ascending=[False, False, True]).drop_duplicates(
        ["account_id", "family"]
    )
    usage = usage.set_index("account_id")
    offers = []
    for r in rows.itertuples(index=False):
        u = usage.loc[r.account_id] if r.account_id in usage.index else None
        users = float(u["users"]) if u is not None else 0.0
        before = float(u["users_before"]) if u is not None else 0.0
        seats = max(int(r.seats), 1)
        utilisation = users / seats
        growth = users / before - 1 if before >= t.min_users else None
        core_total = float(u["core_total"]) if u is not None else 0.0
        breadth = float(u["core_used"]) / core_total if core_total else None
        full = utilisation >= t.seat_utilisation
        # growth and breadth speak of the plan's limits only when its seats are nearly full too
        near = utilisation >= t.seat_utilisation * t.near_full
        growing = growth is not None and growth >= t.growth and near
        broad = breadth is not None and breadth >= t.core_breadth and near
        signals = [name for name, on in (("seats", full), ("growth", growing), ("breadth", broad)) if on]
        nxt = ladder.get(r.product_id)
        added, potential = 0, 0.0
        if nxt is not None and (broad or growing or full):
            action, product = UPGRADE, nxt
            potential = seats * (
                float(info.at[nxt, "list_price"]) - float(info.at[r.product_id, "list_price"])
            )
        elif nxt is None and (full or growing):
            action, product = SEATS, r.product_id
            added = max(1, math.ceil(users / t.target_utilisation) - seats)
            potential = added * float(r.mrr) / seats
        else:
            continue
        offers.append(
            (int(r.account_id), int(product), int(r.product_id), action, seats, int(users), round(utilisation, 4),
             None if growth is None else round(growth, 4), None if breadth is None else round(breadth, 4),
             added, round(potential, 2), ",".join(signals))
        )  # fmt: skip
    return pd.DataFrame(offers, columns=list(OFFER_COLUMNS))


def conversions(recs: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Which up-sell recommendations converted, from the contract ledger. ``recs``: rec_id,
    account_id, family, since (day offered, datetime64), baseline (the account's MRR on the family
    that day); ``changes``: account_id, subscription_id, family, effective_date, mrr_before,
    mrr_after (oldest first). A recommendation converts on the first change on or after ``since``
    that raises MRR on the family; its expansion = the family's MRR at the end of that day −
    the baseline. Returns rec_id, converted_on, expansion_mrr for the converted ones."""
    out = []
    if recs.empty or changes.empty:
        return pd.DataFrame(out, columns=["rec_id", "converted_on", "expansion_mrr"])
    groups = dict(tuple(changes.groupby(["account_id", "family"], sort=False)))
    for r in recs.itertuples(index=False):
        ledger = groups.get((r.account_id, r.family))
        if ledger is None:
            continue
        raises = ledger[(ledger["effective_date"] >= r.since) & (ledger["mrr_after"] > ledger["mrr_before"])]
        if raises.empty:
            continue
        day = raises["effective_date"].iloc[0]
        after = family_mrr(ledger, day)
        if after > r.baseline:
            out.append((int(r.rec_id), day, round(after - float(r.baseline), 2)))
    return pd.DataFrame(out, columns=["rec_id", "converted_on", "expansion_mrr"])


def family_mrr(ledger: pd.DataFrame, day) -> float:
    """MRR at the end of ``day``: the last mrr_after of each subscription in ``ledger`` up to it."""
    upto = ledger[ledger["effective_date"] <= day]
    return float(upto.groupby("subscription_id")["mrr_after"].last().sum()) if len(upto) else 0.0


def family_mrrs(ledger: pd.DataFrame, day) -> pd.Series:
    """``family_mrr`` of every account and family in ``ledger`` at once (one pass over the ledger,
    not one per account): a Series indexed by (account_id, family)."""
    upto = ledger[ledger["effective_date"] <= day]
    last = upto.groupby(["account_id", "family", "subscription_id"], sort=False)["mrr_after"].last()
    return last.groupby(level=["account_id", "family"], sort=False).sum().astype(float)
