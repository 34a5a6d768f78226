"""The value operations: the daily recomputation of CLV, value tiers with RFM, cross-sell
recommendations and purchase/referral points for every account at once (``recompute``), and the
loyalty ledger's manual operations (redeem, adjust), each validated and audited.

``recompute`` reads only what was known on its as-of date, aggregates in the database, computes
with the pure core (clm.analytics) on frames, and writes back in bulk. It is idempotent for a date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from clm.analytics import affinity, rfm, tiers
from clm.analytics.clv import BetaGeoModel, CLVInputError, GammaGammaModel, ShiftedBetaGeometricModel
from clm.analytics.clv.data import rfm_summary
from clm.analytics.revenue import account_mrr_by_month
from clm.commerce.models import Order, OrderLine, Product, SubscriptionChange
from clm.core import bulk, services
from clm.customers.models import Account
from clm.value.models import CLVEstimate, LoyaltyEntry, Recommendation, TierAssignment, TierRule

log = logging.getLogger("clm.value")

ANNUAL_DISCOUNT_RATE = 0.10
MONTHLY_DISCOUNT_RATE = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
BGNBD_HORIZON_MONTHS = 36  # repeat buyers' future value is counted over three years
LOYALTY_RULES = tiers.LoyaltyRules()
OFFERS_PER_ACCOUNT = 1
OFFER_MIN_ACCOUNTS = 5  # a rule "A, then B" needs this many accounts behind it
DAILY_HISTORY_DAYS = 90  # older daily CLV and tier rows are thinned to the first of each month


# ---------------------------------------------------------------------------------------------
# Reading what was known on the as-of date


def _frame(queryset, columns: list[str]) -> pd.DataFrame:
    """Rows of a values_list queryset as a frame, fetched through the driver without the ORM's
    per-value converters (dates come back as dates or ISO strings, numbers as floats)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


def _money(field_name: str):
    return Cast(field_name, models.FloatField())


def _iso(field_name: str):
    """A date column as 'YYYY-MM-DD' text: parsed by pandas in one vectorised pass rather than by
    the driver value by value."""
    return Cast(field_name, models.CharField())


def _day_numbers(values: pd.Series) -> np.ndarray:
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    if values.dtype == object and isinstance(values.iloc[0], str):
        values = pd.to_datetime(values, format="%Y-%m-%d")
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


@dataclass
class Known:
    """Everything recompute reads, restricted to what existed on ``as_of``."""

    as_of: dt.date
    accounts: pd.DataFrame  # account_id, customer_since (day or -1), referred_by
    orders: pd.DataFrame  # order_id, account_id, day, amount, cost
    changes: pd.DataFrame  # account_id, subscription_id, effective_date, kind, mrr_before, mrr_after
    lines: pd.DataFrame  # account_id, day, product_id

    @classmethod
    def load(cls, as_of: dt.date) -> Known:
        accounts = _frame(
            Account.objects.order_by().values_list("id", "customer_since", "referred_by_account_id"),
            ["account_id", "customer_since", "referred_by"],
        )
        since = pd.to_datetime(accounts["customer_since"])
        accounts["customer_since"] = np.where(
            since.notna() & (since <= pd.Timestamp(as_of)),
            since.to_numpy().astype("datetime64[D]").astype(np.int64),
            -1,
        )
        orders = _frame(
            Order.objects.filter(ordered_on__lte=as_of)
            .order_by()
            .values_list("id", "account_id", _iso("ordered_on"), _money("amount"), _money("cost")),
            ["order_id", "account_id", "day", "amount", "cost"],
        )
        orders["day"] = _day_numbers(orders["day"])
        for column in ("amount", "cost"):
            orders[column] = orders[column].astype(float)
        changes = _frame(
            SubscriptionChange.objects.filter(effective_date__lte=as_of)
            .order_by()
            .values_list(
                "account_id",
                "subscription_id",
                _iso("effective_date"),
                "kind",
                _money("mrr_before"),
                _money("mrr_after"),
            ),
            ["account_id", "subscription_id", "effective_date", "kind", "mrr_before", "mrr_after"],
        )
        if not changes.empty:
            changes["effective_date"] = pd.to_datetime(changes["effective_date"], format="%Y-%m-%d")
        lines = _frame(
            # first purchase of each product by each account: all the affinity rules look at
            OrderLine.objects.filter(order__ordered_on__lte=as_of, product__isnull=False)
            .order_by()
            .values_list("order__account_id", "product_id")
            .annotate(first=_iso(models.Min("order__ordered_on")))
            .values_list("order__account_id", "first", "product_id"),
            ["account_id", "day", "product_id"],
        )
        lines["day"] = _day_numbers(lines["day"])
        return cls(as_of, accounts, orders, changes, lines)

    @property
    def as_of_day(self) -> int:
        return int(np.datetime64(self.as_of, "D").astype(np.int64))


# ---------------------------------------------------------------------------------------------
# The daily recomputation


@dataclass
class Outcome:
    clv: pd.DataFrame = field(default_factory=pd.DataFrame)
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    offers: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    since: pd.Series = field(default_factory=pd.Series)  # day number each customer became one


def recompute(as_of: dt.date) -> dict:
    """CLV, value tiers with RFM, recommendations and loyalty earnings of every account as of a
    date, written back in bulk; running it twice for one date leaves the same rows. Returns counts
    (and any part that could not be computed, under "problems", with the reason)."""
    as_of = _as_date(as_of)
    began = time.perf_counter()
    known = Known.load(as_of)
    loaded = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite results are handled
        outcome = compute(known)
    computed = time.perf_counter()
    with transaction.atomic():
        written = _write_estimates(outcome.clv, as_of)
        assigned = _write_tiers(outcome.tiers, as_of)
        recommendations = _sync_recommendations(outcome.offers, known)
        points = _earn_points(known, outcome.since)
        _thin_history(as_of)
    for problem in outcome.problems:
        log.warning("value recompute %s: %s", as_of, problem)
    methods = outcome.clv["method"].value_counts().to_dict() if len(outcome.clv) else {}
    return {
        "as_of": as_of.isoformat(),
        "clv_estimates": written,
        "clv_by_method": {str(k): int(v) for k, v in sorted(methods.items())},
        "tier_assignments": assigned,
        "recommendations": recommendations,
        "loyalty_entries": points,
        "models": outcome.models,
        "problems": outcome.problems,
        "seconds": {
            "load": round(loaded - began, 3),
            "compute": round(computed - loaded, 3),
            "write": round(time.perf_counter() - computed, 3),
        },
    }


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
    outcome.since = _customer_since(known, history)
    outcome.tiers = _tiers(known, history, outcome)
    outcome.offers = _offers(known, outcome)
    return outcome


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
    derl = model.discounted_expected_residual_lifetime(MONTHLY_DISCOUNT_RATE, np.maximum(periods, 0))
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
            "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
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
    frame = pd.DataFrame(
        {
            "customer": orders["account_id"].to_numpy(),
            "date": orders["day"].to_numpy().astype("datetime64[D]"),
            "amount": orders["amount"].to_numpy(),
        }
    )
    summary = rfm_summary(frame, pd.Timestamp(known.as_of), period="week")
    x, t_x, age, m = (
        summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")
    )
    try:
        bg = BetaGeoModel.fit(x, t_x, age)
    except CLVInputError as exc:
        outcome.problems.append(f"repeat buyers: BG/NBD not fitted ({exc.reason}); historical CLV used")
        return _historical_clv(history, f"BG/NBD could not be fitted: {exc.reason}")
    spend_note = "Gamma-Gamma"
    repeat = (x > 0) & (m > 0)
    try:
        gg = GammaGammaModel.fit(x[repeat], m[repeat])
        gg.expected_average_spend_new_customer()  # needs q > 1
    except CLVInputError as exc:
        gg = None
        spend_note = f"own mean order value (Gamma-Gamma not fitted: {exc.reason})"
    if gg is not None:
        revenue = gg.expected_customer_lifetime_value(
            bg, x, t_x, age, m, months=BGNBD_HORIZON_MONTHS, monthly_discount_rate=MONTHLY_DISCOUNT_RATE
        )
        spend = gg.expected_average_spend(x, m)
    else:
        mean_order = (orders.groupby("account_id")["amount"].mean()).reindex(summary.index).to_numpy()
        spend = mean_order
        horizons = np.arange(BGNBD_HORIZON_MONTHS + 1) * (365.2425 / 12 / 7)
        cumulative = bg.expected_purchases(horizons[:, None], x[None], t_x[None], age[None])
        discount = (1 + MONTHLY_DISCOUNT_RATE) ** -np.arange(1, BGNBD_HORIZON_MONTHS + 1)
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
            "horizon_months": BGNBD_HORIZON_MONTHS,
            "margin_rate": round(float(margin_rate[i]), 4),
            "margin_source": source[i],
            "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
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


def _customer_since(known: Known, history: pd.DataFrame) -> pd.Series:
    """Day number each customer became one by the as-of date: the earliest of its recorded
    customer-since date, its first order and its first paid contract month."""
    accounts = known.accounts.set_index("account_id")
    candidates = [accounts["customer_since"].where(accounts["customer_since"] >= 0)]
    if len(history):
        candidates.append(history["first_order"].reindex(accounts.index))
    if len(known.changes):
        started = known.changes[known.changes["mrr_after"] > 0].groupby("account_id")["effective_date"].min()
        candidates.append(pd.Series(_day_numbers(started), index=started.index).reindex(accounts.index))
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
        orders = pd.DataFrame(
            {
                "account_id": known.orders["account_id"].to_numpy(),
                "date": known.orders["day"].to_numpy().astype("datetime64[D]"),
                "amount": known.orders["amount"].to_numpy(),
            }
        )
        scores = rfm.rfm_table(orders, known.as_of)
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


# ---------------------------------------------------------------------------------------------
# Writing back


def _write_estimates(table: pd.DataFrame, as_of: dt.date) -> int:
    CLVEstimate.objects.filter(as_of=as_of).delete()
    if table.empty:
        return 0
    historical = table["historical"].to_numpy(dtype=float)
    future = table["future"].to_numpy(dtype=float)
    day = connection.ops.adapt_datefield_value(as_of)
    rows = [
        (
            int(a),
            day,
            str(m),
            _text_cents(h + f),
            _text_cents(h),
            _text_cents(f),
            json.dumps(i, ensure_ascii=False),
        )
        for a, m, h, f, i in zip(
            table.index.tolist(),
            table["method"].tolist(),
            historical,
            future,
            table["inputs"].tolist(),
            strict=True,
        )
    ]
    columns = ["account_id", "as_of", "method", "value", "historical_value", "future_value", "inputs"]
    bulk.insert(CLVEstimate, columns, rows)
    return len(rows)


def _write_tiers(table: pd.DataFrame, as_of: dt.date) -> int:
    TierAssignment.objects.filter(as_of=as_of).delete()
    if table.empty:
        return 0
    n = len(table)
    has_rfm = "rfm_code" in table.columns

    def column(name, cast, blank=None):
        if not has_rfm:
            return [blank] * n
        return [blank if pd.isna(v) else cast(v) for v in table[name].tolist()]

    day = connection.ops.adapt_datefield_value(as_of)
    rows = list(
        zip(
            [int(a) for a in table.index.tolist()],
            [day] * n,
            table["tier"].tolist(),
            table["tier_label"].tolist(),
            [round(float(v), 4) for v in table["tenure_years"].tolist()],
            [_text_cents(v) for v in table["total_revenue"].tolist()],
            column("recency_days", int),
            column("frequency", int),
            column("monetary", _text_cents),
            column("rfm_code", str, ""),
            column("segment", str, ""),
            column("value_class", str, ""),
            strict=True,
        )
    )
    columns = [
        "account_id", "as_of", "tier", "tier_label", "tenure_years", "total_revenue",
        "recency_days", "frequency", "monetary", "rfm_code", "segment", "value_class",
    ]  # fmt: skip
    bulk.insert(TierAssignment, columns, rows)
    return n


def _text_cents(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"a value to store is not finite: {value}")
    return f"{value:.2f}"


def _sync_recommendations(offers: pd.DataFrame, known: Known) -> dict:
    """Bring the stored recommendations in line with today's offers: new offers open, open ones
    are refreshed, offers the account has since bought become converted, other open ones that are
    no longer suggested are withdrawn. Dismissed ones are never reopened; accepted ones stay
    accepted (sales are working on them) until the account buys."""
    existing, stored = {}, {}
    for pk, a, p, status, *content in Recommendation.objects.values_list(
        "id", "account_id", "product_id", "status", "because_of_id", "rank", "due_from", "due_to", "reason"
    ):
        existing[(a, p)] = (pk, status)
        stored[(a, p)] = (status, *content)
    owned = set()
    if len(known.lines):
        owned = set(zip(known.lines["account_id"].tolist(), known.lines["product_id"].tolist(), strict=True))
    counts = {"created": 0, "refreshed": 0, "unchanged": 0, "converted": 0, "withdrawn": 0}
    offered = set()
    create, refresh = [], []
    if len(offers):
        day = connection.ops.adapt_datefield_value(known.as_of)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        columns = {c: offers[c].tolist() for c in ("account_id", "product_id", "because_of", "rank", "score")}
        columns.update({c: offers[c].tolist() for c in ("confidence", "lift", "reason", "reason_zh")})
        due_from = [d.date() for d in pd.to_datetime(offers["due_from"])]
        due_to = [d.date() for d in pd.to_datetime(offers["due_to"])]
        unchanged = 0
        for i, (account, product) in enumerate(
            zip(columns["account_id"], columns["product_id"], strict=True)
        ):
            key = (int(account), int(product))
            offered.add(key)
            found = existing.get(key)
            if found and found[1] == Recommendation.Status.DISMISSED:
                continue
            status = (
                found[1]
                if found and found[1] == Recommendation.Status.ACCEPTED
                else Recommendation.Status.OPEN
            )
            reason = columns["reason"][i][:300]
            content = (
                str(status),
                int(columns["because_of"][i]),
                int(columns["rank"][i]),
                due_from[i],
                due_to[i],
            )
            if found and stored[key] == (*content, reason):
                unchanged += 1  # the same offer as yesterday: nothing to write
                continue
            row = (
                key[0], key[1], int(columns["because_of"][i]), "cross_sell", int(columns["rank"][i]),
                float(columns["score"][i]), float(columns["confidence"][i]), float(columns["lift"][i]),
                connection.ops.adapt_datefield_value(due_from[i]), connection.ops.adapt_datefield_value(due_to[i]),
                reason, columns["reason_zh"][i][:300], str(status), day, now, now,
            )  # fmt: skip
            (create if found is None else refresh).append(row)
        names = [
            "account_id", "product_id", "because_of_id", "kind", "rank", "score", "confidence", "lift",
            "due_from", "due_to", "reason", "reason_zh", "status", "computed_on", "created_at", "updated_at",
        ]  # fmt: skip
        keep = ("account_id", "product_id", "created_at", "kind")
        # one INSERT … ON CONFLICT DO UPDATE for new and refreshed offers (ids and created_at stay)
        bulk.insert(
            Recommendation,
            names,
            create + refresh,
            conflict=("account_id", "product_id"),
            update=[n for n in names if n not in keep],
        )
        counts["unchanged"] = unchanged
    counts["created"], counts["refreshed"] = len(create), len(refresh)
    gone_converted, gone_withdrawn = [], []
    for key, (pk, status) in existing.items():
        if key in offered or status not in Recommendation.LIVE:
            continue
        if key in owned:
            gone_converted.append(pk)
        elif status == Recommendation.Status.OPEN:
            gone_withdrawn.append(pk)
    counts["converted"] = Recommendation.objects.filter(pk__in=gone_converted).update(
        status=Recommendation.Status.CONVERTED, computed_on=known.as_of
    )
    counts["withdrawn"] = Recommendation.objects.filter(pk__in=gone_withdrawn).update(
        status=Recommendation.Status.WITHDRAWN, computed_on=known.as_of
    )
    return counts


def _earn_points(known: Known, since: pd.Series) -> dict:
    """Points for every order up to the as-of date not yet credited, and for every referred
    account that has become a customer by then (to its referrer). Each order and each referred
    account earns once (unique constraints), so repeating a day adds nothing."""
    uncredited = (
        Order.objects.filter(ordered_on__lte=known.as_of)
        .exclude(models.Exists(LoyaltyEntry.objects.filter(order_id=models.OuterRef("pk"))))
        .order_by()
        .values_list("id", flat=True)
    )
    orders = known.orders
    fresh = orders[orders["order_id"].isin(list(uncredited))]
    points = (
        tiers.purchase_points(fresh["amount"].to_numpy(), LOYALTY_RULES) if len(fresh) else np.zeros(0, int)
    )
    earning = fresh[points > 0]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    dates = [str(d) for d in earning["day"].to_numpy().astype("datetime64[D]")]
    purchase = [
        (int(a), d, LoyaltyEntry.Kind.PURCHASE.value, int(p), "0", int(o), "", now)
        for a, d, p, o in zip(
            earning["account_id"].tolist(),
            dates,
            points[points > 0].tolist(),
            earning["order_id"].tolist(),
            strict=True,
        )
    ]
    columns = ["account_id", "date", "kind", "points", "credit", "order_id", "note", "created_at"]
    bulk.insert(LoyaltyEntry, columns, purchase, conflict=("order_id",))
    referral = []
    if len(since) and LOYALTY_RULES.referral_points > 0:
        accounts = known.accounts.set_index("account_id")
        referred = accounts.loc[accounts.index.isin(since.index), "referred_by"].dropna()
        referred = referred[referred.astype(int) != referred.index.to_numpy()]
        rewarded = set(
            LoyaltyEntry.objects.filter(referred_account__isnull=False).values_list(
                "referred_account_id", flat=True
            )
        )
        for account, referrer in referred.items():
            if account in rewarded:
                continue
            referral.append(
                LoyaltyEntry(
                    account_id=int(referrer),
                    date=np.datetime64(int(since[account]), "D").astype(object),
                    kind=LoyaltyEntry.Kind.REFERRAL,
                    points=int(LOYALTY_RULES.referral_points),
                    referred_account_id=int(account),
                    note="referred a customer who signed",
                )
            )
        LoyaltyEntry.objects.bulk_create(referral, batch_size=2000, ignore_conflicts=True)
    expired = _expire_points(known.as_of) if LOYALTY_RULES.expiry_months else 0
    return {"purchase": len(purchase), "referral": len(referral), "expiry": expired}


def _expire_points(as_of: dt.date) -> int:
    """Expiry entries for points older than the rules' expiry age, oldest first (clm.analytics.tiers)."""
    ledger = _frame(
        LoyaltyEntry.objects.filter(date__lte=as_of)
        .order_by()
        .values_list("account_id", _iso("date"), "kind", "points"),
        list(tiers.LEDGER_COLUMNS),
    )
    if ledger.empty:
        return 0
    due = tiers.expiry_entries(ledger, as_of, LOYALTY_RULES)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    day = connection.ops.adapt_datefield_value(as_of)
    rows = [
        (int(a), day, LoyaltyEntry.Kind.EXPIRY.value, int(p), "0", "points older than the expiry age", now)
        for a, p in zip(due["account_id"].tolist(), due["points"].tolist(), strict=True)
    ]
    bulk.insert(LoyaltyEntry, ["account_id", "date", "kind", "points", "credit", "note", "created_at"], rows)
    return len(rows)


def _thin_history(as_of: dt.date) -> None:
    """Keep every day of the last DAILY_HISTORY_DAYS, and the first of each month before."""
    cutoff = as_of - dt.timedelta(days=DAILY_HISTORY_DAYS)
    for model in (CLVEstimate, TierAssignment):
        model.objects.filter(as_of__lt=cutoff).exclude(as_of__day=1).delete()


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"as_of must be a date, not {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# The loyalty ledger


def balance(account: Account, on: dt.date | None = None) -> int:
    """The account's points: the sum of its ledger (up to ``on``)."""
    entries = LoyaltyEntry.objects.filter(account=account)
    if on is not None:
        entries = entries.filter(date__lte=on)
    return int(entries.aggregate(total=models.Sum("points"))["total"] or 0)


def _ledger(account: Account) -> pd.DataFrame:
    rows = list(
        LoyaltyEntry.objects.filter(account=account).values_list("account_id", "date", "kind", "points")
    )
    return pd.DataFrame(rows, columns=list(tiers.LEDGER_COLUMNS))


def check_entry(account: Account, kind: str, points, on: dt.date) -> dict:
    """Refuse (ValidationError on "points") an entry the ledger cannot take: a kind it does not
    know, points that are not a whole number or of the wrong sign for the kind, or a redemption
    or deduction beyond the balance (as of its date, and overall: later entries count too).
    Returns the pure rule's entry (with the service credit of a redemption)."""
    if kind not in LoyaltyEntry.Kind.values:
        raise ValidationError({"kind": f"must be one of {', '.join(LoyaltyEntry.Kind.values)}"})
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationError({"points": "a whole number of points other than 0"})
    if kind in LoyaltyEntry.EARNING and points < 0:
        raise ValidationError({"points": "an earning adds points: it must be above 0"})
    if kind in LoyaltyEntry.SPENDING and points > 0:
        raise ValidationError({"points": "a redemption or expiry takes points away: it must be below 0"})
    entry = {"points": points, "credit": 0.0}
    if kind == LoyaltyEntry.Kind.REDEMPTION:
        try:
            entry = tiers.redemption_entry(_ledger(account), account.pk, -points, on, LOYALTY_RULES)
        except tiers.RedemptionRefused as exc:
            raise ValidationError(
                {
                    "points": f"{-points} points requested, {exc.available} available: a redemption cannot exceed the balance"
                }
            ) from None
        except CLVInputError as exc:
            raise ValidationError({"points": exc.reason}) from None
    total = balance(account)
    if points < 0 and total + points < 0:
        raise ValidationError(
            {"points": f"{-points} points requested, {total} available: the balance never goes below 0"}
        )
    return entry


@transaction.atomic
def redeem_points(
    account: Account,
    points: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    actor=None,
    via: str = "system",
) -> LoyaltyEntry:
    """Redeem points for service credit (points × credit per point). Refused, with the available
    balance in the message, when the account's points do not cover it."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValidationError({"points": "a redemption is a whole number of points above 0"})
    return add_entry(account, LoyaltyEntry.Kind.REDEMPTION, -points, on=on, note=note, actor=actor, via=via)


@transaction.atomic
def add_entry(
    account: Account,
    kind: str,
    points: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    actor=None,
    via: str = "system",
    referred_account: Account | None = None,
) -> LoyaltyEntry:
    """Add one ledger entry (a referral, an adjustment, a redemption with negative points...),
    checked by ``check_entry`` while the account is locked, so two redemptions at once cannot
    both spend the same points; audited."""
    on = on or timezone.localdate()
    Account.objects.select_for_update().filter(pk=account.pk).first()  # one change of points at a time
    entry = check_entry(account, kind, points, on)
    data = {
        "account": account,
        "date": on,
        "kind": kind,
        "points": points,
        "credit": Decimal(str(entry["credit"])),
        "note": note,
        "referred_account": referred_account,
        "created_by": actor if getattr(actor, "pk", None) else None,
    }
    return services.create(LoyaltyEntry, data, actor=actor, via=via)


# ---------------------------------------------------------------------------------------------
# Reports over the records a user may see (the API passes querysets already restricted)


def _months(table: pd.DataFrame) -> list[str]:
    return [str(p) for p in table.index]


def _cells(values) -> list:
    """Numbers as JSON: NaN and <NA> (undefined, not observed) become None."""
    out = []
    for v in np.asarray(values, dtype=object).tolist():
        out.append(
            None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)) else float(v)
        )
    return out


def change_frame(changes) -> pd.DataFrame:
    frame = _frame(
        changes.order_by().values_list(
            "account_id",
            "subscription_id",
            "effective_date",
            "kind",
            _money("mrr_before"),
            _money("mrr_after"),
        ),
        ["account_id", "subscription_id", "effective_date", "kind", "mrr_before", "mrr_after"],
    )
    if not frame.empty:
        frame["effective_date"] = pd.to_datetime(frame["effective_date"])
    return frame


def mrr_report(changes, as_of: dt.date, *, start=None, end=None, window: int = 1) -> dict:
    """MRR movements per month (new, expansion, reactivation, contraction, churn) and NRR/GRR
    over ``window`` months, from the subscription changes known on ``as_of``."""
    from clm.analytics.revenue import mrr_movements, revenue_retention

    frame = change_frame(changes.filter(effective_date__lte=as_of))
    snapshots = account_mrr_by_month(frame, end=as_of) if len(frame) else account_mrr_by_month(frame)
    movements = mrr_movements(snapshots, start=start, end=end or as_of)
    retention = revenue_retention(snapshots, window=window, start=start, end=end or as_of)
    retention = retention.reindex(movements.index)
    months = []
    for i, month in enumerate(movements.index):
        row = movements.iloc[i]
        months.append(
            {
                "month": str(month),
                **{k: round(float(row[k]), 2) for k in movements.columns},
                "nrr": _cells([retention["nrr"].iloc[i]])[0] if len(retention) else None,
                "grr": _cells([retention["grr"].iloc[i]])[0] if len(retention) else None,
            }
        )
    return {"as_of": as_of.isoformat(), "window_months": window, "months": months}


def cohort_report(changes, orders, as_of: dt.date, *, basis: str = "contracts") -> dict:
    """Logo and revenue retention by start month, as matrices for a heat map (rows: cohorts,
    columns: months since start; None where a cohort has not got that far yet)."""
    from clm.analytics.cohorts import cohort_retention, repurchase_cohorts

    if basis == "contracts":
        frame = change_frame(changes.filter(effective_date__lte=as_of))
        snapshots = account_mrr_by_month(frame, end=as_of)
        tables = cohort_retention(snapshots, value="mrr", end=as_of)
    else:
        rows = _frame(
            orders.filter(ordered_on__lte=as_of)
            .order_by()
            .values_list("account_id", "ordered_on", _money("amount")),
            ["account_id", "date", "amount"],
        )
        rows["date"] = pd.to_datetime(rows["date"]) if len(rows) else rows["date"]
        tables = repurchase_cohorts(rows, as_of=as_of)
    report = {
        "as_of": as_of.isoformat(),
        "basis": basis,
        "cohorts": _months(tables.retention),
        "accounts": [int(v) for v in tables.sizes.tolist()],
        "months_since_start": [int(c) for c in tables.retention.columns],
        "logo_retention": [_cells(row) for row in tables.retention.to_numpy()],
        "revenue_retention": [_cells(row) for row in tables.revenue_retention.to_numpy()]
        if tables.revenue_retention is not None
        else [],
    }
    if tables.repurchase is not None:
        report["repurchase"] = [_cells(row) for row in tables.repurchase.to_numpy()]
    return report


def cac_report(as_of: dt.date, *, period: str | None = "month") -> dict:
    """CAC per channel and period with LTV:CAC, CAC as a share of LTV and its health (seed 000:
    healthy below 30%, warning to 50%, alarm above) and CAC payback months. LTV is the mean
    CLV (historical + future) of the channel's new customers, from the latest estimates up to
    ``as_of``; monthly margin is their current monthly margin (contracts) or their margin so far
    per month of tenure (orders)."""
    from clm.analytics.acquisition import unit_economics
    from clm.analytics.clv.formulas import ALARM_CAC_SHARE, HEALTHY_CAC_SHARE
    from clm.sales.models import ChannelSpend

    spend = _frame(
        ChannelSpend.objects.filter(month__lte=as_of)
        .order_by()
        .values_list("channel", "month", _money("amount")),
        ["channel", "month", "amount"],
    )
    customers = _frame(
        Account.objects.filter(customer_since__lte=as_of)
        .order_by()
        .values_list("id", "acquisition_channel", "customer_since"),
        ["account_id", "acquisition_channel", "customer_since"],
    )
    latest = CLVEstimate.objects.filter(as_of__lte=as_of).aggregate(day=models.Max("as_of"))["day"]
    values = pd.DataFrame(columns=["account_id", "ltv", "monthly_margin"])
    if latest is not None:
        rows = list(
            CLVEstimate.objects.filter(as_of=latest).values_list(
                "account_id", _money("value"), _money("historical_value"), "inputs"
            )
        )
        since = dict(zip(customers["account_id"], pd.to_datetime(customers["customer_since"]), strict=True))
        margin = []
        for account, _value, historical, inputs in rows:
            monthly = inputs.get("monthly_margin") if isinstance(inputs, dict) else None
            if monthly is None and account in since:
                months = max((pd.Timestamp(as_of) - since[account]).days / (365.2425 / 12), 1.0)
                monthly = historical / months
            margin.append(np.nan if monthly is None else float(monthly))
        values = pd.DataFrame(
            {"account_id": [r[0] for r in rows], "ltv": [float(r[1]) for r in rows], "monthly_margin": margin}
        )
    table = unit_economics(spend, customers, values, period=period, as_of=as_of)
    out = []
    for row in table.itertuples(index=False):
        out.append(
            {
                "channel": row.channel,
                "period": None if row.period is None else str(row.period),
                "spend": round(float(row.spend), 2),
                "new_customers": int(row.new_customers),
                "status": row.status,
                **{
                    k: _cells([getattr(row, k)])[0]
                    for k in (
                        "cac",
                        "ltv",
                        "monthly_margin",
                        "ltv_to_cac",
                        "cac_share_of_ltv",
                        "payback_months",
                    )
                },
                "health": row.health,
            }
        )
    return {
        "as_of": as_of.isoformat(),
        "period": period or "all",
        "clv_as_of": latest.isoformat() if latest else None,
        "warning_share": HEALTHY_CAC_SHARE,
        "alarm_share": ALARM_CAC_SHARE,
        "rows": out,
    }


def set_recommendation_status(
    rec: Recommendation, status: str, *, actor=None, via: str = "system"
) -> Recommendation:
    """Sales act on a recommendation: accept it (working on it), dismiss it (never offered again
    for this product), or reopen it. Audited like every other change."""
    allowed = (Recommendation.Status.OPEN, Recommendation.Status.ACCEPTED, Recommendation.Status.DISMISSED)
    if status not in allowed:
        raise ValidationError({"status": f"must be one of {', '.join(allowed)}"})
    return services.update(rec, {"status": status}, actor=actor, via=via)


def contract_cohort_values(estimates) -> list[dict]:
    """Per contract cohort (start month of the current contract spell), from sBG estimates: the
    accounts, those still active, their expected residual value (the sum over the cohort is the
    cohort's value to come, Fader & Hardie 2010) and their mean CLV."""
    rows = list(
        estimates.filter(method=CLVEstimate.Method.SBG).values_list(
            _money("value"), _money("future_value"), "inputs"
        )
    )
    if not rows:
        return []
    frame = pd.DataFrame(
        {
            "cohort": [r[2].get("cohort") for r in rows],
            "active": [bool(r[2].get("active")) for r in rows],
            "value": [float(r[0]) for r in rows],
            "future": [float(r[1]) for r in rows],
        }
    )
    table = frame.groupby("cohort", sort=True).agg(
        accounts=("value", "size"),
        active=("active", "sum"),
        future_value=("future", "sum"),
        mean_clv=("value", "mean"),
    )
    return [
        {
            "cohort": str(cohort),
            "accounts": int(row.accounts),
            "active": int(row.active),
            "future_value": round(float(row.future_value), 2),
            "mean_clv": round(float(row.mean_clv), 2),
        }
        for cohort, row in table.iterrows()
    ]
