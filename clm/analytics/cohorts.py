"""Cohort tables by start month, ready for heat maps: logo and revenue retention of accounts with
monthly revenue (subscriptions), and repurchase cohorts of buyers without contracts (orders).

Every table is a DataFrame indexed by cohort (Period[M], the account's first active month) with
one column per month since start (0, 1, 2, ...). Cells a cohort has not reached yet are NaN (not
observed, left blank on a heat map); observed cells with no activity are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .value_frames import (
    amounts,
    as_month,
    as_of_day,
    days,
    ids,
    months,
    not_after,
    require_frame,
    to_periods,
)

ACTIVITY_COLUMNS = ("account_id", "month")
ORDER_COLUMNS = ("account_id", "date")


@dataclass(frozen=True)
class CohortTables:
    """sizes: accounts per cohort. active: accounts active in month k of their life; retention:
    active / size (logo retention). revenue: the cohort's revenue in month k; revenue_retention:
    revenue / revenue in month 0 (net: can exceed 1). repurchase (orders only): share of the
    cohort that has ordered again on a later day by the end of month k (cumulative)."""

    sizes: pd.Series
    active: pd.DataFrame
    retention: pd.DataFrame
    revenue: pd.DataFrame | None = None
    revenue_retention: pd.DataFrame | None = None
    repurchase: pd.DataFrame | None = None


def cohort_retention(activity: pd.DataFrame, *, value: str | None = "revenue", end=None) -> CohortTables:
    """Logo and revenue retention by start month from monthly activity per account.

    ``activity`` has columns account_id, month (a date, 'YYYY-MM' or Period) and, unless
    ``value=None``, the revenue column named by ``value`` (MRR or invoiced revenue, ≥ 0). An
    account is active in a month when its revenue that month is above 0 (with ``value=None``:
    when it has a row); several rows of one account and month add up. Its cohort is its first
    active month. A cohort's month k counts the accounts active then, whether or not they were in
    between (a returning account counts again). Months are observed up to ``end`` (default: the
    last month in the data, rows with 0 revenue included: they show the month was looked at).
    """
    columns = ACTIVITY_COLUMNS + ((value,) if value else ())
    require_frame(activity, "activity", columns)
    if activity.empty:
        return _empty(value is not None, False)
    account = ids(activity, "activity", "account_id")
    month = months(activity, "activity", "month")
    revenue = amounts(activity, "activity", value, what="revenue") if value else np.ones(len(activity))
    last = int(month.max()) if end is None else as_month(end, "end")
    keep = (revenue > 0) & (month <= last)
    if not keep.any():
        return _empty(value is not None, False)
    codes, _ = pd.factorize(account[keep])
    return _tables(codes, month[keep], revenue[keep] if value else None, last)


def repurchase_cohorts(orders: pd.DataFrame, *, amount: str | None = "amount", as_of=None) -> CohortTables:
    """Cohorts of buyers by the month of their first order: the share ordering in each month of
    their life (month 0 is everyone), the cumulative share who have come back (an order on a
    later day than the first), and, with ``amount``, revenue retention.

    ``orders`` has columns account_id, date and, unless ``amount=None``, the amount column
    (≥ 0). Orders after ``as_of`` are refused; months are observed up to ``as_of``'s month
    (default: the last order's).
    """
    columns = ORDER_COLUMNS + ((amount,) if amount else ())
    require_frame(orders, "orders", columns)
    if orders.empty:
        return _empty(amount is not None, True)
    account = ids(orders, "orders", "account_id")
    day = days(orders, "orders", "date")
    money = amounts(orders, "orders", amount) if amount else None
    if as_of is not None:
        limit = as_of_day(as_of)
        not_after(orders, "orders", "date", day, limit)
    else:
        limit = int(day.max())
    month = _month_of(day)
    last = int(_month_of(np.array([limit]))[0])
    codes, _ = pd.factorize(account)
    tables = _tables(codes, month, money, last)

    # a repurchase is an order on a later day than the account's first
    first_day = _group_min(codes, day)
    later = day > first_day[codes]
    second_day = np.full(len(first_day), np.iinfo(np.int64).max)
    np.minimum.at(second_day, codes[later], day[later])
    buyers = second_day < np.iinfo(np.int64).max
    cohort = _group_min(codes, month)
    age = np.where(buyers, _month_of(np.where(buyers, second_day, 0)) - cohort, 0)
    counts = _count_matrix(cohort[buyers], age[buyers], tables.active.shape[1], tables.sizes.index)
    cumulative = counts.cumsum(axis=1)
    repurchase = _mask_unobserved(cumulative.div(tables.sizes, axis=0), last)
    return CohortTables(
        tables.sizes, tables.active, tables.retention, tables.revenue, tables.revenue_retention, repurchase
    )


def _tables(codes: np.ndarray, month: np.ndarray, revenue: np.ndarray | None, last: int) -> CohortTables:
    cohort_of_account = _group_min(codes, month)
    cohort = cohort_of_account[codes]
    age = month - cohort
    width = int(last - cohort_of_account.min()) + 1
    cohorts = pd.PeriodIndex(to_periods(_distinct(cohort_of_account)), name="cohort")
    sizes = pd.Series(np.bincount(_dense(cohort_of_account, cohorts)), index=cohorts, name="accounts")

    # one account active twice in one month (two rows) counts once
    account, account_age = np.divmod(_distinct(codes.astype(np.int64) * width + age), width)
    active = _count_matrix(cohort_of_account[account], account_age, width, cohorts)
    active = _mask_unobserved(active, last)
    retention = active.div(sizes, axis=0)
    if revenue is None:
        return CohortTables(sizes, active, retention)
    money = _sum_matrix(cohort, age, revenue, width, cohorts)
    money = _mask_unobserved(money, last)
    return CohortTables(sizes, active, retention, money, money.div(money[0].where(money[0] > 0), axis=0))


def _count_matrix(cohort: np.ndarray, age: np.ndarray, width: int, cohorts: pd.PeriodIndex) -> pd.DataFrame:
    return _sum_matrix(cohort, age, np.ones(len(cohort)), width, cohorts).astype(float)


def _sum_matrix(cohort, age, weight, width: int, cohorts: pd.PeriodIndex) -> pd.DataFrame:
    row = _dense(cohort, cohorts)
    flat = np.bincount(row * width + age, weight, len(cohorts) * width)
    return pd.DataFrame(
        flat.reshape(len(cohorts), width),
        index=cohorts,
        columns=pd.RangeIndex(width, name="months_since_start"),
    )


def _mask_unobserved(table: pd.DataFrame, last: int) -> pd.DataFrame:
    observed_ages = last - table.index.asi8  # ages a cohort has reached
    ages = table.columns.to_numpy()
    return table.where(ages[None, :] <= observed_ages[:, None])


def _dense(cohort_ordinals: np.ndarray, cohorts: pd.PeriodIndex) -> np.ndarray:
    return np.searchsorted(cohorts.asi8, cohort_ordinals)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; np.unique's hash path is far slower on these integer keys."""
    ordered = np.sort(values)
    return ordered[np.append(True, ordered[1:] != ordered[:-1])] if len(ordered) else ordered


def _group_min(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(int(codes.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, codes, values.astype(np.int64))
    return out


def _month_of(day: np.ndarray) -> np.ndarray:
    return np.asarray(day, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _empty(with_revenue: bool, with_repurchase: bool) -> CohortTables:
    index = pd.PeriodIndex([], freq="M", name="cohort")

    def table():
        return pd.DataFrame(index=index, columns=pd.RangeIndex(0, name="months_since_start"), dtype=float)

    return CohortTables(
        pd.Series([], index=index, dtype=np.int64, name="accounts"),
        table(),
        table(),
        table() if with_revenue else None,
        table() if with_revenue else None,
        table() if with_repurchase else None,
    )
