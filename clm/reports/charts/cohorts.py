"""Cohorts: retention heat maps by signup month — logo (the share of a cohort's accounts with MRR
k months after their first) and revenue (the cohort's MRR over its first month's) — and
repurchase cohorts of the customers who buy by order (clm.analytics.cohorts).

Each row's part (the cohort month) holds the cohort's accounts; each cell's part
("<cohort>:m<k>", see ``cell``) the accounts the cell counts: on the logo and revenue maps those
of the cohort with MRR k months after their first (retained at that age, so the cell's count over
the cohort's size is the logo cell), on the repurchase map those that had ordered again by month k."""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from clm.analytics.cohorts import cohort_retention, repurchase_cohorts
from clm.commerce.models import Order, SubscriptionChange
from clm.core.frames import iso, money, read_frame

from ..figures import figure
from .base import empty, make, months
from .revenue import no_revenue

AGES = 24  # months since the start shown (0 … 23) and cohorts shown: two years, past the first renewal


def columns() -> list[str]:
    return ["cohort", "size", *(f"m{k}" for k in range(AGES))]


def cell(cohort, age: int) -> str:
    """The part of a heat map's cell: the cohort month and the months since its start."""
    return f"{cohort}:m{age}"


def _heat(scope, period, tables, table, first: pd.Series, members: pd.DataFrame) -> dict:
    """``members``: account_id, cohort, age — the accounts each cell counts."""
    shown = months(scope, period, AGES)
    rows, groups = [], {}
    kept = members[(members["age"] < AGES) & (members["cohort"] >= shown[0].ordinal)
                   & (members["cohort"] <= shown[-1].ordinal)]
    wide = table.reindex(columns=range(AGES))
    for cohort in tables.sizes.index:
        if not shown[0] <= cohort <= shown[-1]:
            continue
        rows.append([str(cohort), int(tables.sizes[cohort]), *wide.loc[cohort].tolist()])
        groups[str(cohort)] = first[first == cohort].index
    # the accounts of each cell, cut from the members sorted by cell (not a pandas group per cell)
    rows_, cols_ = np.nonzero(table.notna().to_numpy())
    observed = set(zip(pd.PeriodIndex(table.index, freq="M").asi8[rows_].tolist(),
                       table.columns[cols_].tolist(), strict=True))  # an unobserved cell has no part
    kept = kept.sort_values(["cohort", "age"], kind="stable")
    keys, ids = kept[["cohort", "age"]].to_numpy(), kept["account_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)]).tolist() if len(keys) else []
    for start, end in zip(starts, [*starts[1:], len(keys)][:len(starts)], strict=True):
        cohort, age = (int(v) for v in keys[start])
        if (cohort, age) in observed:
            groups[cell(pd.Period(ordinal=cohort, freq="M"), age)] = ids[start:end]
    return make(scope, period, columns(), rows, groups=groups)


def _ordinals(months_: pd.Series) -> np.ndarray:
    if months_.empty:  # no month at all: nothing for PeriodIndex to read a frequency from
        return np.array([], dtype=np.int64)
    return pd.PeriodIndex(months_, freq="M").asi8


def _mrr_cohorts(scope, period):
    def compute():
        mrr = scope.mrr
        end = pd.Period(period.as_of(scope.today), "M")
        active = mrr[(mrr["mrr"] > 0) & (mrr["month"] <= end)].drop_duplicates(["account_id", "month"])
        first = active.groupby("account_id")["month"].min()
        month = pd.Series(_ordinals(active["month"]), index=active.index)
        cohort = month.groupby(active["account_id"]).transform("min")
        members = pd.DataFrame({"account_id": active["account_id"].to_numpy(), "cohort": cohort.to_numpy(),
                                "age": (month - cohort).to_numpy()})
        return cohort_retention(mrr[mrr["month"] <= end], value="mrr", end=end), first, members

    # the tables depend on the last month only: the current month, quarter and year share them
    return scope.memo(("mrr cohorts", pd.Period(period.as_of(scope.today), "M")), compute)


def _mrr_heat(scope, period, table: str) -> dict:
    if scope.mrr.empty:
        return empty(scope, period, columns(), no_revenue())
    tables, first, members = _mrr_cohorts(scope, period)
    return _heat(scope, period, tables, getattr(tables, table), first, members)


@figure("cohorts.logo")
def logo(scope, period) -> dict:
    return _mrr_heat(scope, period, "retention")


@figure("cohorts.revenue")
def revenue(scope, period) -> dict:
    return _mrr_heat(scope, period, "revenue_retention")


@figure("cohorts.repurchase")
def repurchase(scope, period) -> dict:
    """Buyers without a contract by the month of their first order: the cumulative share that has
    ordered again on a later day by month k."""
    found = scope.memo(("repurchase cohorts", period.as_of(scope.today)), lambda: _repurchase(scope, period))
    if isinstance(found, str):
        return empty(scope, period, columns(), found)
    tables, first, members = found
    return _heat(scope, period, tables, tables.repurchase, first, members)


def _repurchase(scope, period):
    """The repurchase tables, each buyer's first month and the cells' members as of the period's
    end (or why there are none): periods ending on the same day share them."""
    as_of = period.as_of(scope.today)
    contracted = SubscriptionChange.objects.values("account_id")
    orders = scope.records(Order.objects.filter(ordered_on__lte=as_of)).exclude(account_id__in=contracted)
    frame = read_frame(orders.order_by().values_list("account_id", iso("ordered_on"), money("amount")),
                       ["account_id", "date", "amount"])
    if frame.empty:
        return _("No customer without a contract has ordered by %(day)s.") % {"day": as_of.isoformat()}
    tables = repurchase_cohorts(frame, as_of=as_of)
    day = pd.to_datetime(frame["date"])
    first_day = day.groupby(frame["account_id"]).min()
    first = first_day.dt.to_period("M")
    # a repurchase: an order on a later day than the first; the account counts from that month on
    later = day > frame["account_id"].map(first_day)
    again = day[later].groupby(frame["account_id"][later]).min().dt.to_period("M")
    cohort = _ordinals(first[again.index])
    came_back = _ordinals(again) - cohort
    ages = np.arange(AGES)
    take = came_back[:, None] <= ages[None, :]  # by month k: every k from the month it came back
    members = pd.DataFrame({"account_id": np.broadcast_to(again.index.to_numpy()[:, None], take.shape)[take],
                            "cohort": np.broadcast_to(cohort[:, None], take.shape)[take],
                            "age": np.broadcast_to(ages[None, :], take.shape)[take]})
    return tables, first, members
