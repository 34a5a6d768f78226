"""Cohorts: retention heat maps by signup month — logo (the share of a cohort's accounts with MRR
k months after their first) and revenue (the cohort's MRR over its first month's) — and
repurchase cohorts of the customers who buy by order (clm.analytics.cohorts)."""

from __future__ import annotations

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


def _heat(scope, period, tables, table, first: pd.Series) -> dict:
    shown = months(scope, period, AGES)
    rows, groups = [], {}
    for cohort in tables.sizes.index:
        if not shown[0] <= cohort <= shown[-1]:
            continue
        cells = [table.at[cohort, k] if k in table.columns else None for k in range(AGES)]
        rows.append([str(cohort), int(tables.sizes[cohort]), *cells])
        groups[str(cohort)] = first[first == cohort].index
    return make(scope, period, columns(), rows, groups=groups)


def _mrr_cohorts(scope, period):
    def compute():
        mrr = scope.mrr
        end = pd.Period(period.as_of(scope.today), "M")
        active = mrr[(mrr["mrr"] > 0) & (mrr["month"] <= end)]
        first = active.groupby("account_id")["month"].min()
        return cohort_retention(mrr[mrr["month"] <= end], value="mrr", end=end), first

    return scope.memo(("mrr cohorts", period.label), compute)


def _mrr_heat(scope, period, table: str) -> dict:
    if scope.mrr.empty:
        return empty(scope, period, columns(), no_revenue())
    tables, first = _mrr_cohorts(scope, period)
    return _heat(scope, period, tables, getattr(tables, table), first)


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
    as_of = period.as_of(scope.today)
    contracted = SubscriptionChange.objects.values("account_id")
    orders = scope.records(Order.objects.filter(ordered_on__lte=as_of)).exclude(account_id__in=contracted)
    frame = read_frame(orders.order_by().values_list("account_id", iso("ordered_on"), money("amount")),
                       ["account_id", "date", "amount"])
    if frame.empty:
        return empty(scope, period, columns(), _("No customer without a contract has ordered by %(day)s.")
                     % {"day": as_of.isoformat()})
    tables = repurchase_cohorts(frame, as_of=as_of)
    day = pd.to_datetime(frame["date"])
    first = frame.assign(month=day.dt.to_period("M")).groupby("account_id")["month"].min()
    return _heat(scope, period, tables, tables.repurchase, first)
