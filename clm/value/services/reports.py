"""Reports over the records a user may see (the API passes querysets already restricted): MRR
movements with NRR/GRR, cohort retention, CAC with unit economics, the value of contract cohorts."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from django.db import models

from clm.analytics.revenue import account_mrr_by_month
from clm.commerce.frames import change_frame, order_frame
from clm.core.frames import money, read_frame
from clm.customers.models import Account
from clm.value.models import CLVEstimate

from .loading import purchases


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


def mrr_report(changes, as_of: dt.date, *, start=None, end=None, window: int = 1) -> dict:
    """MRR movements per month (new, expansion, reactivation, contraction, churn) and NRR/GRR
    over ``window`` months, from the subscription changes known on ``as_of``."""
    from clm.analytics.revenue import mrr_movements, revenue_retention

    frame = change_frame(changes, as_of=as_of)
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
        frame = change_frame(changes, as_of=as_of)
        snapshots = account_mrr_by_month(frame, end=as_of)
        tables = cohort_retention(snapshots, value="mrr", end=as_of)
    else:
        tables = repurchase_cohorts(purchases(order_frame(orders, as_of=as_of)), as_of=as_of)
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


def acquisition_frames(
    as_of: dt.date, since: dt.date | None = None, *, valued_on: dt.date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dt.date | None]:
    """What the unit economics read on ``as_of``: spend per channel and month, new customers by
    channel, and each account's LTV (mean CLV, historical + future, from the latest estimates up
    to ``valued_on``, by default ``as_of``) with its monthly margin (current monthly margin for
    contracts, margin so far per month of tenure for orders); and the day of those estimates. With
    ``since``, only the spend, customers and estimates from that day on (one period's economics).
    A past period's customers are valued as the report's day knows them (``valued_on`` today):
    the estimates of the period's own last day would not know the customers won since the last
    estimate before it (history keeps one estimate a month), and the API's CAC report values every
    period's customers with today's estimates."""
    from clm.sales.models import ChannelSpend

    spent = ChannelSpend.objects.filter(month__lte=as_of)
    won = Account.objects.filter(customer_since__lte=as_of)
    if since is not None:
        spent = spent.filter(month__gte=since.replace(day=1))
        won = won.filter(customer_since__gte=since)
    spend = read_frame(
        spent.order_by().values_list("channel", "month", money("amount")), ["channel", "month", "amount"]
    )
    customers = read_frame(
        won.order_by().values_list("id", "acquisition_channel", "customer_since"),
        ["account_id", "acquisition_channel", "customer_since"],
    )
    latest = CLVEstimate.objects.filter(as_of__lte=valued_on or as_of).aggregate(day=models.Max("as_of"))["day"]
    values = pd.DataFrame(columns=["account_id", "ltv", "monthly_margin"])
    if latest is not None:
        estimates = CLVEstimate.objects.filter(as_of=latest)
        if since is not None:
            estimates = estimates.filter(account__in=won)
        rows = list(
            estimates.values_list(
                "account_id", money("value"), money("historical_value"), "inputs"
            )
        )
        since = dict(zip(customers["account_id"], pd.to_datetime(customers["customer_since"]), strict=True))
        margin = []
        for account, _value, historical, inputs in rows:
            monthly = inputs.get("monthly_margin") if isinstance(inputs, dict) else None
            if monthly is None and account in since:
                months = max((pd.Timestamp(latest) - since[account]).days / (365.2425 / 12), 1.0)
                monthly = historical / months
            margin.append(np.nan if monthly is None else float(monthly))
        values = pd.DataFrame(
            {"account_id": [r[0] for r in rows], "ltv": [float(r[1]) for r in rows], "monthly_margin": margin}
        )
    return spend, customers, values, latest


def cac_report(as_of: dt.date, *, period: str | None = "month") -> dict:
    """CAC per channel and period with LTV:CAC, CAC as a share of LTV and its health (seed 000:
    healthy below 30%, warning to 50%, alarm above) and CAC payback months, from
    ``acquisition_frames``."""
    from clm.analytics.acquisition import unit_economics
    from clm.analytics.clv.formulas import ALARM_CAC_SHARE, HEALTHY_CAC_SHARE

    spend, customers, values, latest = acquisition_frames(as_of)
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


def contract_cohort_values(estimates) -> list[dict]:
    """Per contract cohort (start month of the current contract spell), from sBG estimates: the
    accounts, those still active, their expected residual value (the sum over the cohort is the
    cohort's value to come, Fader & Hardie 2010) and their mean CLV."""
    rows = list(
        estimates.filter(method=CLVEstimate.Method.SBG).values_list(
            money("value"), money("future_value"), "inputs"
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
