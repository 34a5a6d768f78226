"""Revenue: the MRR waterfall by month (new, expansion, reactivation, contraction, churn), NRR and
GRR by month and by signup cohort, and ARR by segment (industry, region, value tier) — all through
clm.analytics.revenue, over the MRR of the scope's accounts (the KPIs' own frame)."""

from __future__ import annotations

import pandas as pd
from django.db.models import Max
from django.utils.translation import gettext as _

from clm.analytics.revenue import (
    MOVEMENTS,
    account_mrr_movements,
    mrr_movements,
    revenue_retention,
    revenue_retention_by,
)
from clm.value.models import TierAssignment

from ..figures import figure
from ..kpis.base import finite
from ..kpis.revenue import no_history
from .base import empty, make, months


def no_revenue() -> str:
    return _("No contract revenue is recorded yet.")


def _in(frame_months, shown: pd.PeriodIndex):
    return (frame_months >= shown[0]) & (frame_months <= shown[-1])


@figure("revenue.waterfall")
def waterfall(scope, period) -> dict:
    """Opening MRR, each movement and closing MRR per month (closing = opening + new + expansion +
    reactivation − contraction − churn, checked by the analytics core)."""
    columns = ["month", "opening_mrr", *MOVEMENTS, "net_new_mrr", "closing_mrr"]
    if scope.mrr.empty:
        return empty(scope, period, columns, no_revenue())
    shown = months(scope, period)
    table = mrr_movements(scope.mrr, end=shown[-1])
    table = table[_in(table.index, shown)]
    rows = [[str(month), *(float(row[c]) for c in columns[1:])] for month, row in table.iterrows()]
    moves = scope.memo("movements", lambda: account_mrr_movements(scope.mrr))
    moves = moves[_in(moves["month"], shown)]
    groups = {f"{m}:{kind}": ids["account_id"] for (m, kind), ids in moves.groupby(["month", "movement"])}
    groups.update({str(m): ids["account_id"] for m, ids in moves.groupby("month")})  # every account that moved
    return make(scope, period, columns, rows, groups=groups)


@figure("revenue.retention")
def retention(scope, period) -> dict:
    """NRR and GRR of each month (the accounts with MRR at the end of the month before, compared
    with the end of the month)."""
    columns = ["month", "starting_mrr", "expansion", "contraction", "churn", "ending_mrr", "nrr", "grr"]
    if scope.mrr.empty:
        return empty(scope, period, columns, no_revenue())
    shown = months(scope, period)
    table = revenue_retention(scope.mrr, window=1, end=shown[-1])
    table = table[_in(table.index, shown)]
    rows = [[str(month), *(finite(row[c]) for c in columns[1:])] for month, row in table.iterrows()]
    return make(scope, period, columns, rows)


@figure("revenue.cohort_retention")
def cohort_retention(scope, period) -> dict:
    """NRR and GRR over the period of each signup cohort (the quarter of an account's first MRR):
    the cohort's accounts with MRR when the period began, compared with the period's end."""
    columns = ["cohort", "accounts_at_start", "starting_mrr", "ending_mrr", "nrr", "grr"]
    if scope.mrr.empty:
        return empty(scope, period, columns, no_revenue())
    end_month = pd.Period(period.as_of(scope.today), "M")
    window = int(end_month.ordinal - (pd.Period(period.start, "M") - 1).ordinal)
    first = scope.mrr[scope.mrr["mrr"] > 0].groupby("account_id")["month"].min()
    quarter = pd.Series(pd.PeriodIndex(first.to_numpy(), freq="M").asfreq("Q").astype(str), index=first.index)
    table = revenue_retention_by(scope.mrr, quarter, window=window, end=end_month)
    rows = [[cohort, int(r.accounts_at_start), float(r.starting_mrr), float(r.ending_mrr), finite(r.nrr), finite(r.grr)]
            for cohort, r in zip(table.index, table.itertuples(index=False), strict=True)]
    groups = {cohort: quarter.index[quarter == cohort] for cohort in table.index}
    if not rows:
        return empty(scope, period, columns, no_history(period))
    return make(scope, period, columns, rows, groups=groups)


@figure("revenue.arr_segments")
def arr_segments(scope, period) -> dict:
    """ARR (12 × MRR at the period's end) by industry, region and value tier."""
    columns = ["dimension", "segment", "arr", "accounts"]
    if scope.mrr.empty:
        return empty(scope, period, columns, no_revenue())
    day = period.as_of(scope.today)
    arr = scope.mrr_at(day) * 12
    arr = arr[arr > 0]
    if arr.empty:
        return empty(scope, period, columns, _("No account has contract revenue at the end of %(period)s.")
                     % {"period": period.label})
    # every account of the scope, read once for all periods and languages (joined to those with
    # ARR below): a list of thousands of ids in the statement cost more than the rows it saved
    info = scope.memo("industry and region", lambda: pd.DataFrame(
        list(scope.accounts.order_by().values_list("pk", "industry", "region")),
        columns=["account_id", "industry", "region"]).set_index("account_id"))
    info = info.loc[info.index.intersection(arr.index)].copy()
    info["tier"] = _tiers(scope, day)
    frame = info.join(arr.rename("arr"), how="inner").fillna({"tier": ""})
    rows, groups = [], {}
    for dimension in ("industry", "region", "tier"):
        by = frame.groupby(frame[dimension].fillna(""))
        for segment, part in sorted(by, key=lambda kv: -kv[1]["arr"].sum()):
            rows.append([dimension, segment, float(part["arr"].sum()), len(part)])
            groups[f"{dimension}:{segment}"] = part.index
    return make(scope, period, columns, rows, groups=groups)


def _tiers(scope, day) -> pd.Series:
    """Each account's value tier on the latest tier day up to ``day`` (clm.value)."""
    assignments = scope.records(TierAssignment.objects.filter(as_of__lte=day))
    latest = assignments.aggregate(day=Max("as_of"))["day"]
    if latest is None:
        return pd.Series(dtype=object)
    rows = assignments.filter(as_of=latest).values_list("account_id", "tier")
    return pd.Series(dict(rows), dtype=object)
