"""The computing part of the daily value recomputation: frames in (``Known``), frames out
(``Outcome``): CLV by sBG for contracts and BG/NBD + Gamma-Gamma for repeat buyers (the seeds'
historical CLV where no model applies), value tiers with RFM, and cross-sell offers. Nothing is
written; it reads only the configured tier rules and the product names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils.translation import get_language

from clm.analytics import affinity, rfm, tiers
from clm.analytics.clv import (
    BetaGeoModel,
    CLVInputError,
    GammaGammaModel,
    NotEnoughDataError,
    ShiftedBetaGeometricModel,
)
from clm.analytics.clv.data import rfm_summary
from clm.analytics.clv.fitting import MIN_REPEAT_BUYERS
from clm.analytics.revenue import account_mrr_by_month
from clm.commerce.models import Product
from clm.core import workspace
from clm.core.frames import day_numbers
from clm.value.models import CLVEstimate, TierRule

from .loading import Known, purchases

OFFERS_PER_ACCOUNT = 1
OFFER_MIN_ACCOUNTS = 5  # a rule "A, then B" needs this many accounts behind it


@dataclass
class Outcome:
    clv: pd.DataFrame = field(default_factory=pd.DataFrame)
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    offers: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    since: pd.Series = field(default_factory=pd.Series)  # day number each customer became one


def compute(known: Known) -> Outcome:
    """The computing part of ``recompute``: frames in, frames out, nothing written (it reads only
    the configured tier rules and the product names)."""
    outcome = Outcome()
    history = _historical(known)
    subscribers = set(known.changes["account_id"].unique()) if len(known.changes) else set()
    contractual = _contractual_clv(known, history, subscribers, outcome)
    buyers = history.index[~history.index.isin(list(subscribers))]
    repeat = _repeat_buyer_clv(known, history.loc[buyers], outcome)
    outcome.clv = pd.concat([f for f in (contractual, repeat) if len(f)]) if len(history) else pd.DataFrame()
    outcome.clv = _without_future(outcome.clv, known.churned)
    outcome.since = _customer_since(known, history)
    tiered = _tiers(known, history, outcome)
    outcome.tiers = tiered[~tiered.index.isin(list(known.churned))] if len(tiered) else tiered
    offers = _offers(known, outcome)
    outcome.offers = offers[~offers["account_id"].isin(list(known.churned))] if len(offers) else offers
    return outcome


def _without_future(clv: pd.DataFrame, churned: frozenset) -> pd.DataFrame:
    """A churned account has no value still to come: its CLV is what it brought (the seeds'
    historical CLV), its future value 0, and its inputs say so (value lists leave it out)."""
    if clv.empty or not churned:
        return clv
    gone = clv.index.isin(list(churned))
    if not gone.any():
        return clv
    clv = clv.copy()
    clv.loc[gone, "future"] = 0.0
    clv.loc[gone, "inputs"] = pd.Series(
        [{**inputs, "churned": True} for inputs in clv.loc[gone, "inputs"]], index=clv.index[gone], dtype=object
    )
    return clv


def _historical(known: Known) -> pd.DataFrame:
    """Per account with any order or contract: revenue, cost, margin rate and first day."""
    orders = known.orders
    by_account = orders.groupby("account_id").agg(
        revenue=("amount", "sum"), cost=("cost", "sum"), first_order=("day", "min")
    )
    base_rate = _margin_rate(by_account["revenue"].sum(), by_account["cost"].sum())
    accounts = set(by_account.index)
    if len(known.changes):
        accounts |= set(known.changes["account_id"].unique())
    table = by_account.reindex(sorted(accounts))
    table["revenue"] = table["revenue"].fillna(0.0)
    table["cost"] = table["cost"].fillna(0.0)
    own = table["revenue"] > 0
    table["margin_rate"] = np.where(
        own, (table["revenue"] - table["cost"]) / table["revenue"].where(own, 1), base_rate
    )
    table["margin_source"] = np.where(own, "own orders", "company average")
    table["historical_value"] = table["revenue"] - table["cost"]  # seed: total revenue − total cost
    table.index.name = "account_id"
    return table


def _margin_rate(revenue: float, cost: float) -> float:
    return float((revenue - cost) / revenue) if revenue > 0 else 1.0


def _contractual_clv(known: Known, history: pd.DataFrame, subscribers: set, outcome: Outcome) -> pd.DataFrame:
    """sBG (Fader & Hardie 2007) fitted on monthly renewals over all contract cohorts at once;
    each account's future value = monthly margin × discounted expected residual lifetime."""
    if not subscribers:
        return pd.DataFrame()
    try:
        snapshots = account_mrr_by_month(known.changes, end=known.as_of)
    except CLVInputError as exc:
        outcome.problems.append(f"contracts: the MRR ledger cannot be read ({exc}); historical CLV used")
        return _historical_clv(history.loc[sorted(subscribers)], f"the MRR ledger cannot be read: {exc}")
    last = pd.Period(known.as_of, "M").ordinal
    accounts, codes = np.unique(snapshots["account_id"].to_numpy(), return_inverse=True)
    month = snapshots["month"].array.asi8
    first = int(month.min()) if len(month) else last
    width = last - first + 1
    grid = np.zeros((len(accounts), width))
    grid[codes, month - first] = snapshots["mrr"].to_numpy()
    paying = grid > 0
    columns = np.arange(width)
    # the account's latest spell of paying months: from its start to its last paying month
    last_paying = width - 1 - np.argmax(paying[:, ::-1], axis=1)
    last_gap = np.maximum.accumulate(np.where(~paying, columns, -1), axis=1)
    start = last_gap[np.arange(len(accounts)), last_paying] + 1
    active = paying[:, -1]
    # a month is one period: active accounts have survived (last − start) renewals; the others
    # paid for (last_paying − start + 1) months and left at the end of the last
    periods = np.where(active, width - 1 - start, last_paying - start + 1)
    mrr_now = grid[:, -1]
    never_paid = sorted(subscribers - set(accounts))  # contracts at 0 MRR only (free trials)
    try:
        model = ShiftedBetaGeometricModel.fit_lifetimes(periods, ~active)
    except CLVInputError as exc:
        outcome.problems.append(f"contracts: sBG not fitted ({exc.reason}); historical CLV used")
        return _historical_clv(history.loc[sorted(subscribers)], f"sBG could not be fitted: {exc.reason}")
    outcome.models["sbg"] = {
        **_rounded(model.params),
        "period": "month",
        "customers": model.fit_info.n_customers,
        "log_likelihood": round(model.fit_info.log_likelihood, 4),
    }
    rates = workspace.clv_settings()
    derl = model.discounted_expected_residual_lifetime(rates.monthly_discount_rate, np.maximum(periods, 0))
    retention = model.retention_rate(np.maximum(periods, 0) + 1)
    own = history.reindex(accounts)
    margin_rate = own["margin_rate"].fillna(1.0).to_numpy()
    monthly_margin = mrr_now * margin_rate
    future = np.where(active, monthly_margin * derl, 0.0)
    historical = own["historical_value"].fillna(0.0).to_numpy()
    source = own["margin_source"].fillna("none").tolist()
    revenue_so_far = own["revenue"].fillna(0.0).tolist()
    cost_so_far = own["cost"].fillna(0.0).tolist()
    cohort = pd.PeriodIndex.from_ordinals(first + start, freq="M").astype(str)
    params = _rounded(model.params)
    inputs = [
        {
            "model": "sBG",
            "parameters": params,
            "period": "month",
            "cohort": cohort[i],
            "active": bool(active[i]),
            "months_in_current_contract_spell": int(periods[i]),
            "mrr": round(float(mrr_now[i]), 2),
            "margin_rate": round(float(margin_rate[i]), 4),
            "margin_source": source[i],
            "monthly_margin": round(float(monthly_margin[i]), 2),
            "retention_next_month": round(float(retention[i]), 4),
            "discounted_expected_residual_months": round(float(derl[i]), 3) if active[i] else 0.0,
            "annual_discount_rate": rates.annual_discount_rate,
            "revenue_to_date": round(revenue_so_far[i], 2),
            "cost_to_date": round(cost_so_far[i], 2),
        }
        for i in range(len(accounts))
    ]
    table = pd.DataFrame(
        {"method": CLVEstimate.Method.SBG, "historical": historical, "future": future, "inputs": inputs},
        index=pd.Index(accounts, name="account_id"),
    )
    if never_paid:
        table = pd.concat([table, _historical_clv(history.loc[never_paid], "no paid contract month yet")])
    return table


def _repeat_buyer_clv(known: Known, history: pd.DataFrame, outcome: Outcome) -> pd.DataFrame:
    """BG/NBD (Fader, Hardie & Lee 2005) for the purchases, Gamma-Gamma for their value, fitted on
    every order-only account; future value = expected discounted spend over the horizon × margin."""
    if history.empty:
        return pd.DataFrame()
    orders = known.orders[known.orders["account_id"].isin(history.index)]
    frame = purchases(orders).rename(columns={"account_id": "customer"})
    summary = rfm_summary(frame, pd.Timestamp(known.as_of), period="week")
    x, t_x, age, m = (
        summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")
    )
    try:
        bg = BetaGeoModel.fit(x, t_x, age)
    except CLVInputError as exc:
        outcome.problems.append(f"repeat buyers: BG/NBD not fitted ({exc.reason}); historical CLV used")
        table = _historical_clv(history, f"BG/NBD could not be fitted: {exc.reason}")
        if isinstance(exc, NotEnoughDataError):
            said = {"model": exc.model, "customers": exc.customers, "repeat_buyers": exc.repeat_buyers,
                    "needed": exc.needed, "needed_repeat_buyers": MIN_REPEAT_BUYERS}
            table["inputs"] = [{**inputs, "not_enough_data": said} for inputs in table["inputs"]]
        return table
    spend_note = "Gamma-Gamma"
    rates = workspace.clv_settings()
    horizon, monthly_rate = rates.horizon_months, rates.monthly_discount_rate
    repeat = (x > 0) & (m > 0)
    try:
        gg = GammaGammaModel.fit(x[repeat], m[repeat])  # refuses q <= 1, an infinite mean spend
    except CLVInputError as exc:
        gg = None
        spend_note = f"own mean order value (Gamma-Gamma not fitted: {exc.reason})"
    if gg is not None:
        revenue = gg.expected_customer_lifetime_value(
            bg, x, t_x, age, m, months=horizon, monthly_discount_rate=monthly_rate
        )
        spend = gg.expected_average_spend(x, m)
    else:
        mean_order = (orders.groupby("account_id")["amount"].mean()).reindex(summary.index).to_numpy()
        spend = mean_order
        horizons = np.arange(horizon + 1) * (365.2425 / 12 / 7)
        cumulative = bg.expected_purchases(horizons[:, None], x[None], t_x[None], age[None])
        discount = (1 + monthly_rate) ** -np.arange(1, horizon + 1)
        revenue = spend * (discount @ np.diff(cumulative, axis=0))
    unusable = ~np.isfinite(revenue)
    if unusable.any():
        outcome.problems.append(
            f"repeat buyers: the model gave no finite value for {int(unusable.sum())} accounts; historical CLV used"
        )
        revenue = np.where(unusable, 0.0, revenue)
    p_alive = bg.probability_alive(x, t_x, age)
    next_year = bg.expected_purchases(52.0, x, t_x, age)
    outcome.models["bgnbd"] = {
        **_rounded(bg.params),
        "period": "week",
        "customers": bg.fit_info.n_customers,
        "log_likelihood": round(bg.fit_info.log_likelihood, 4),
    }
    if gg is not None:
        outcome.models["gamma_gamma"] = {**_rounded(gg.params), "customers": gg.fit_info.n_customers}
    own = history.reindex(summary.index)
    margin_rate = own["margin_rate"].to_numpy()
    source, revenue_so_far, cost_so_far = (own[c].tolist() for c in ("margin_source", "revenue", "cost"))
    params = {"bgnbd": _rounded(bg.params), "gamma_gamma": _rounded(gg.params) if gg is not None else None}
    inputs = [
        {
            "model": "BG/NBD + Gamma-Gamma",
            "parameters": params,
            "period": "week",
            "repeat_purchases": int(x[i]),
            "recency_weeks": round(float(t_x[i]), 3),
            "age_weeks": round(float(age[i]), 3),
            "mean_repeat_order_value": round(float(m[i]), 2),
            "p_alive": round(float(p_alive[i]), 4),
            "expected_purchases_next_52_weeks": round(float(next_year[i]), 3),
            "expected_order_value": round(float(spend[i]), 2),
            "spend_model": spend_note,
            "expected_discounted_revenue": round(float(revenue[i]), 2),
            "horizon_months": horizon,
            "margin_rate": round(float(margin_rate[i]), 4),
            "margin_source": source[i],
            "annual_discount_rate": rates.annual_discount_rate,
            "revenue_to_date": round(revenue_so_far[i], 2),
            "cost_to_date": round(cost_so_far[i], 2),
        }
        for i in range(len(summary))
    ]
    table = pd.DataFrame(
        {
            "method": CLVEstimate.Method.BGNBD,
            "historical": own["historical_value"].to_numpy(),
            "future": revenue * margin_rate,
            "inputs": inputs,
        },
        index=pd.Index(summary.index.to_numpy(), name="account_id"),
    )
    if unusable.any():
        fallback = _historical_clv(own[unusable], "BG/NBD gave no finite value for this account")
        table = pd.concat([table[~unusable], fallback])
    return table


def _historical_clv(history: pd.DataFrame, reason: str) -> pd.DataFrame:
    """The seeds' historical CLV (revenue − cost so far) when no model applies, saying why."""
    inputs = [
        {
            "model": "historical",
            "reason": reason,
            "revenue_to_date": round(float(r), 2),
            "cost_to_date": round(float(c), 2),
        }
        for r, c in zip(history["revenue"], history["cost"], strict=True)
    ]
    return pd.DataFrame(
        {
            "method": CLVEstimate.Method.HISTORICAL,
            "historical": history["historical_value"].to_numpy(dtype=float),
            "future": 0.0,
            "inputs": inputs,
        },
        index=pd.Index(history.index.to_numpy(), name="account_id"),
    )


def tier_rules() -> tuple[tiers.TierRule, ...]:
    """The configured tiers (TierRule rows, by position), or the defaults when none are set."""
    rows = list(TierRule.objects.order_by("position"))
    if not rows:
        return tiers.DEFAULT_TIERS
    return tuple(
        tiers.TierRule(
            r.key, r.label, r.label_zh or r.label, float(r.min_tenure_years), float(r.min_total_revenue)
        )
        for r in rows
    )


def tier_names() -> dict[str, str]:
    """Each value tier's name in the user's language, by key: the configured tiers' (tier_rules()),
    the defaults' when none are set. Every page, chart and export names a tier through this."""
    chinese = (get_language() or "").lower().startswith("zh")
    return {rule.key: (rule.label_zh or rule.label) if chinese else rule.label for rule in tier_rules()}


def _customer_since(known: Known, history: pd.DataFrame) -> pd.Series:
    """Day number each customer became one by the as-of date: the earliest of its recorded
    customer-since date, its first order and its first paid contract month."""
    accounts = known.accounts.set_index("account_id")
    candidates = [accounts["customer_since"].where(accounts["customer_since"] >= 0)]
    if len(history):
        candidates.append(history["first_order"].reindex(accounts.index))
    if len(known.changes):
        started = known.changes[known.changes["mrr_after"] > 0].groupby("account_id")["effective_date"].min()
        candidates.append(pd.Series(day_numbers(started), index=started.index).reindex(accounts.index))
    return pd.concat(candidates, axis=1).min(axis=1).dropna().astype(np.int64)


def _tiers(known: Known, history: pd.DataFrame, outcome: Outcome) -> pd.DataFrame:
    """Tier by tenure and total revenue for every customer (an account with an order, a contract
    or a customer-since date by the as-of date), joined with the RFM of its orders."""
    since = outcome.since
    if since.empty:
        return pd.DataFrame()
    revenue = history["revenue"].reindex(since.index).fillna(0.0) if len(history) else 0.0
    frame = pd.DataFrame(
        {
            "account_id": since.index.to_numpy(),
            "customer_since": since.to_numpy().astype(np.int64).astype("datetime64[D]"),
            "total_revenue": np.asarray(revenue, dtype=float),
        }
    )
    try:
        table = tiers.value_tiers(frame, known.as_of, tier_rules())
    except CLVInputError as exc:
        outcome.problems.append(f"tiers: not assigned, the tier rules are not usable ({exc})")
        return pd.DataFrame()
    if len(known.orders):
        scores = rfm.rfm_table(purchases(known.orders), known.as_of)
        table = table.join(
            scores[["recency_days", "frequency", "monetary", "rfm_code", "segment", "value_class"]]
        )
    return table


def _offers(known: Known, outcome: Outcome) -> pd.DataFrame:
    if known.lines.empty:
        return pd.DataFrame()
    products = dict(Product.objects.values_list("id", "name"))
    lines = pd.DataFrame(
        {
            "account_id": known.lines["account_id"].to_numpy(),
            "date": known.lines["day"].to_numpy().astype("datetime64[D]"),
            "product_id": known.lines["product_id"].to_numpy(),
        }
    )
    try:
        return affinity.next_best_offers(
            lines, as_of=known.as_of, names=products, top=OFFERS_PER_ACCOUNT, min_accounts=OFFER_MIN_ACCOUNTS
        )
    except CLVInputError as exc:
        outcome.problems.append(f"recommendations: not computed ({exc})")
        return pd.DataFrame()


def _rounded(params: dict) -> dict:
    return {k: float(f"{v:.6g}") for k, v in params.items()}
