"""Customer acquisition cost per channel and period, and the unit economics built on it: LTV:CAC,
CAC as a share of LTV with its health (seed 000: healthy below 30%, alarm above 50%) and CAC
payback months. The arithmetic is ``clm.analytics.clv.formulas``'; this module groups frames.

Inputs:
* spend: channel, month (a date, 'YYYY-MM' or Period), amount (≥ 0) — marketing and sales spend
  per channel and month; several rows of one channel and month add up.
* customers: account_id, acquisition_channel, customer_since (date) — new customers by the
  channel that won them; a blank channel counts as ``UNATTRIBUTED``.

A channel and period with spend but no new customer has no CAC: its ``cac`` is <NA> and its
status ``no_new_customers`` (never inf). One with customers but no spend recorded has CAC 0 and
status ``no_spend``, which usually means spend is missing rather than free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clv.formulas import cac_health, cac_payback_months, customer_acquisition_cost, ltv_to_cac_ratio
from .value_frames import (
    AnalyticsInputError,
    as_month,
    as_of_day,
    days,
    ids,
    months,
    not_after,
    refuse,
    require_frame,
    to_periods,
)
from .value_frames import amounts as money_column

SPEND_COLUMNS = ("channel", "month", "amount")
CUSTOMER_COLUMNS = ("account_id", "acquisition_channel", "customer_since")
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}
UNATTRIBUTED = "unattributed"
ALL_CHANNELS = "all"
CAC_STATUS = {
    "ok": "spend and new customers",
    "no_new_customers": "spend but no new customer: CAC is undefined",
    "no_spend": "new customers but no spend recorded: CAC 0",
}
CAC_COLUMNS = ("channel", "period", "spend", "new_customers", "cac", "status")
ECONOMICS_COLUMNS = (
    *CAC_COLUMNS,
    "ltv",
    "monthly_margin",
    "ltv_to_cac",
    "cac_share_of_ltv",
    "health",
    "payback_months",
)


def cac_by_channel(
    spend: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    period: str | None = "month",
    as_of=None,
    blended: bool = False,
) -> pd.DataFrame:
    """CAC = spend / new customers per channel and ``period`` ("month", "quarter", "year", or
    None for the whole range). ``blended=True`` adds a row per period for all channels together
    (channel ``ALL_CHANNELS``). Columns ``CAC_COLUMNS`` (period is None when ``period`` is None),
    sorted by period then channel; cac is nullable (<NA> when undefined). With ``as_of``,
    customers won after it and spend in months after its month are refused."""
    freq = _freq(period)
    spent = _spend(spend, as_of)
    won = _customers(customers, as_of)
    keys = ["channel", "period"]
    if freq is None:
        spent["period"] = won["period"] = None
    else:
        spent["period"] = to_periods(spent["month"]).asfreq(freq) if len(spent) else []
        won["period"] = _period_of_days(won["day"], freq)
    totals = spent.groupby(keys, dropna=False)["amount"].sum().rename("spend")
    counts = won.groupby(keys, dropna=False).size().rename("new_customers")
    table = pd.concat([totals, counts], axis=1)
    if blended and len(table):
        overall = table.groupby(level="period", dropna=False).sum()
        overall["channel"] = ALL_CHANNELS
        table = pd.concat([table, overall.reset_index().set_index(keys)])
    table = table.reset_index()
    if table.empty:
        return _empty(CAC_COLUMNS)
    table["spend"] = table["spend"].fillna(0.0).astype(float)
    table["new_customers"] = table["new_customers"].fillna(0).astype(np.int64)
    table["cac"] = _cac(table["spend"].to_numpy(), table["new_customers"].to_numpy())
    if freq is None:
        table["period"] = None
    table["status"] = np.where(
        table["new_customers"] == 0, "no_new_customers", np.where(table["spend"] == 0, "no_spend", "ok")
    )
    order = np.lexsort((table["channel"].astype(str), table["period"].astype(str)))
    return table.iloc[order][list(CAC_COLUMNS)].reset_index(drop=True)


def channel_values(
    customers: pd.DataFrame, values: pd.DataFrame, *, period: str | None = None, as_of=None
) -> pd.DataFrame:
    """Mean LTV (and mean monthly gross margin, when ``values`` has monthly_margin) of each
    channel's new customers per ``period``, from ``values`` with columns account_id, ltv
    [, monthly_margin]. Accounts without a value are left out of the means."""
    freq = _freq(period)
    won = _customers(customers, as_of)
    require_frame(values, "values", ("account_id", "ltv"))
    columns = ["channel", "period", "ltv", "monthly_margin"]
    if won.empty or values.empty:
        return _empty(columns)
    ltv = pd.to_numeric(values["ltv"], errors="coerce")
    _refuse_nonfinite(values, "ltv", ltv)
    per_account = pd.DataFrame(
        {"account_id": ids(values, "values", "account_id").to_numpy(), "ltv": ltv.to_numpy()}
    )
    if "monthly_margin" in values.columns:
        margin = pd.to_numeric(values["monthly_margin"], errors="coerce")
        _refuse_nonfinite(values, "monthly_margin", margin)
        per_account["monthly_margin"] = margin.to_numpy()
    else:
        per_account["monthly_margin"] = np.nan
    won["period"] = None if freq is None else _period_of_days(won["day"], freq)
    joined = won.merge(per_account, on="account_id", how="inner")
    means = (
        joined.groupby(["channel", "period"], dropna=False)[["ltv", "monthly_margin"]].mean().reset_index()
    )
    if freq is None:
        means["period"] = None
    return means[columns]


def unit_economics(
    spend: pd.DataFrame,
    customers: pd.DataFrame,
    values: pd.DataFrame,
    *,
    period: str | None = None,
    as_of=None,
) -> pd.DataFrame:
    """CAC per channel and period with LTV:CAC, CAC as a share of LTV, its health ("healthy" below
    30%, "warning" to 50%, "alarm" above, or when LTV ≤ 0) and CAC payback months.

    ``values`` gives LTV either per account (account_id, ltv [, monthly_margin]: the mean over
    the channel's new customers of the period is used) or per channel (channel, ltv
    [, monthly_margin]: the same figure for every period). monthly_margin is a customer's
    monthly gross margin, needed for payback. Columns ``ECONOMICS_COLUMNS``; figures that are
    undefined (no CAC, no LTV, a CAC of 0 for the ratio, no positive margin for payback) are <NA>.
    """
    table = cac_by_channel(spend, customers, period=period, as_of=as_of)
    if table.empty:
        return _empty(ECONOMICS_COLUMNS)
    if "account_id" in values.columns:
        per_channel = channel_values(customers, values, period=period, as_of=as_of)
        keys = ["channel"] if period is None else ["channel", "period"]
        table = table.merge(per_channel[[*keys, "ltv", "monthly_margin"]], on=keys, how="left")
    else:
        require_frame(values, "values", ("channel", "ltv"))
        per_channel = pd.DataFrame({"channel": values["channel"].astype(str)})
        for column in ("ltv", "monthly_margin"):
            if column in values.columns:
                number = pd.to_numeric(values[column], errors="coerce")
                _refuse_nonfinite(values, column, number)
                per_channel[column] = number.to_numpy()
            else:
                per_channel[column] = np.nan
        table = table.merge(per_channel.drop_duplicates("channel", keep="last"), on="channel", how="left")
    cac = table["cac"].to_numpy(dtype=float, na_value=np.nan)
    ltv = table["ltv"].to_numpy(dtype=float)
    margin = table["monthly_margin"].to_numpy(dtype=float)
    known = np.isfinite(cac) & np.isfinite(ltv)
    ratio = np.full(len(table), np.nan)
    share = np.full(len(table), np.nan)
    health = np.full(len(table), None, dtype=object)
    payback = np.full(len(table), np.nan)
    priced = known & (cac > 0)
    if priced.any():
        ratio[priced] = ltv_to_cac_ratio(ltv[priced], cac[priced])
    positive = known & (ltv > 0)
    share[positive] = cac[positive] / ltv[positive]
    if known.any():
        health[known] = cac_health(ltv[known], cac[known])
    paying = np.isfinite(cac) & np.isfinite(margin) & (margin > 0)
    if paying.any():
        payback[paying] = cac_payback_months(cac[paying], margin[paying])
    table["ltv"] = pd.array(ltv, dtype="Float64")
    table["monthly_margin"] = pd.array(margin, dtype="Float64")
    table["ltv_to_cac"] = pd.array(ratio, dtype="Float64")
    table["cac_share_of_ltv"] = pd.array(share, dtype="Float64")
    # object dtype, or pandas 3 infers its string type and the missing health becomes NaN
    table["health"] = pd.Series(health, index=table.index, dtype=object)
    table["payback_months"] = pd.array(payback, dtype="Float64")
    return table[list(ECONOMICS_COLUMNS)]


def _cac(spend: np.ndarray, new_customers: np.ndarray) -> pd.arrays.FloatingArray:
    defined = new_customers > 0
    cac = np.full(len(spend), np.nan)
    if defined.any():
        cac[defined] = customer_acquisition_cost(spend[defined], new_customers[defined])
    return pd.array(cac, dtype="Float64")


def _spend(spend: pd.DataFrame, as_of) -> pd.DataFrame:
    require_frame(spend, "spend", SPEND_COLUMNS)
    if spend.empty:
        return pd.DataFrame(
            {
                "channel": pd.Series(dtype=object),
                "month": pd.Series(dtype=np.int64),
                "amount": pd.Series(dtype=float),
                "period": pd.Series(dtype=object),
            }
        )
    channel = ids(spend, "spend", "channel").astype(str).str.strip()
    month = months(spend, "spend", "month")
    amount = money_column(spend, "spend", "amount", what="spend")
    if as_of is not None:
        limit = as_month(as_of, "as_of")
        refuse(spend, "spend", "month", month > limit, f"is after the as-of month {to_periods([limit])[0]}")
    return pd.DataFrame({"channel": channel.to_numpy(), "month": month, "amount": amount, "period": None})


def _customers(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    require_frame(customers, "customers", CUSTOMER_COLUMNS)
    if customers.empty:
        return pd.DataFrame(
            {
                "account_id": pd.Series(dtype=object),
                "channel": pd.Series(dtype=object),
                "day": pd.Series(dtype=np.int64),
                "period": pd.Series(dtype=object),
            }
        )
    account = ids(customers, "customers", "account_id")
    raw = customers["acquisition_channel"]
    channel = (
        raw.astype(str).str.strip().where(raw.notna() & (raw.astype(str).str.strip() != ""), UNATTRIBUTED)
    )
    day = days(customers, "customers", "customer_since")
    if as_of is not None:
        not_after(customers, "customers", "customer_since", day, as_of_day(as_of))
    return pd.DataFrame(
        {"account_id": account.to_numpy(), "channel": channel.to_numpy(), "day": day, "period": None}
    )


def _period_of_days(day: pd.Series, freq: str):
    if len(day) == 0:
        return []
    return pd.PeriodIndex(np.asarray(day, dtype=np.int64).astype("datetime64[D]"), freq=freq)


def _freq(period: str | None) -> str | None:
    if period is None:
        return None
    if period not in PERIODS:
        raise AnalyticsInputError("period", period, f"must be one of {', '.join(PERIODS)} or None")
    return PERIODS[period]


def _refuse_nonfinite(frame: pd.DataFrame, column: str, numbers: pd.Series) -> None:
    bad = ~np.isfinite(numbers.to_numpy(dtype=float))
    refuse(frame, "values", column, bad, "is not a finite number")


_DTYPES = {
    "spend": float,
    "new_customers": np.int64,
    "cac": "Float64",
    "ltv": "Float64",
    "monthly_margin": "Float64",
    "ltv_to_cac": "Float64",
    "cac_share_of_ltv": "Float64",
    "payback_months": "Float64",
}


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object)) for c in columns})
