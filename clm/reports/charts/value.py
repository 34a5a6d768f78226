"""Value and acquisition: the CLV distribution and customer equity (clm.value's estimates), value
tiers month by month, and CAC, LTV:CAC and payback by channel with the seed's 30% (warning) and
50% (alarm) CAC-share lines (clm.analytics.acquisition, as the economics KPIs read it)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from django.db.models import Max
from django.utils.translation import gettext as _

from clm.analytics.clv.formulas import ALARM_CAC_SHARE, HEALTHY_CAC_SHARE
from clm.core.frames import money, read_frame
from clm.value.models import CLVEstimate, TierAssignment

from ..figures import figure
from ..kpis import economics
from ..kpis.base import finite, not_computed_by
from .base import empty, make, months

STEPS = (1, 2, 5)


def bin_edges(values: np.ndarray) -> list[float]:
    """Edges on the 1-2-5 ladder, from the last rung at or below the smallest value (0 below 1) to
    the first above the largest: bins whose bounds read as round amounts, however skewed."""
    ladder = [step * 10.0**exponent for exponent in range(16) for step in STEPS]
    top, bottom = float(values.max()), float(values.min())
    lower = max([x for x in ladder if x <= bottom], default=0.0)
    upper = next(x for x in ladder if x > top)
    return ([0.0] if lower == 0 else []) + [x for x in ladder if lower <= x <= upper]


def bin_key(low, high) -> str:
    """The part of the CLV distribution a bin is (its accounts: the drill-down)."""
    return "negative" if low is None else f"{low:g}-{high:g}"


@figure("value.clv")
def clv_distribution(scope, period) -> dict:
    """Accounts and CLV per value bin on the latest estimate day up to the period's end; customer
    equity = the sum of the CLVs."""
    columns = ["low", "high", "accounts", "clv"]
    estimates = scope.records(CLVEstimate.objects.filter(as_of__lte=period.as_of(scope.today)))
    day = estimates.aggregate(day=Max("as_of"))["day"]
    if day is None:
        return empty(scope, period, columns, not_computed_by(CLVEstimate, scope, _("CLV")))
    frame = read_frame(estimates.filter(as_of=day).order_by().values_list("account_id", money("value")),
                       ["account_id", "value"])
    values = frame["value"].to_numpy(dtype=float)
    negative = values < 0
    edges = bin_edges(np.maximum(values, 0))
    where = np.clip(np.searchsorted(edges, np.maximum(values, 0), side="right") - 1, 0, len(edges) - 2)
    rows, groups = [], {}
    for i in range(len(edges) - 1):
        inside = (where == i) & ~negative
        rows.append([edges[i], edges[i + 1], int(inside.sum()), math.fsum(values[inside])])
        groups[bin_key(edges[i], edges[i + 1])] = frame["account_id"][inside]
    if negative.any():
        rows.insert(0, [None, 0.0, int(negative.sum()), math.fsum(values[negative])])
        groups["negative"] = frame["account_id"][negative]
    while rows and rows[-1][2] == 0:
        rows.pop()
    return make(scope, period, columns, rows, groups=groups, estimated_on=day.isoformat(),
                equity=math.fsum(values), accounts=len(values),  # whatever order the rows came in
                median=float(np.median(values)) if len(values) else None)


@figure("value.tiers")
def tiers(scope, period) -> dict:
    """Accounts per value tier on the last tier day of each month."""
    columns = ["month", "tier", "accounts"]
    shown = months(scope, period)
    # the months drawn decide the figure: the current month, quarter and year share one read
    found = scope.memo(("tiers by month", shown[0], shown[-1]), lambda: _tiers_by_month(scope, shown))
    if found is None:
        return empty(scope, period, columns, not_computed_by(TierAssignment, scope, _("Value tiers")))
    rows, groups = found
    return make(scope, period, columns, rows, groups=groups)


def _tiers_by_month(scope, shown):
    end = shown[-1].end_time.date()
    assignments = scope.records(TierAssignment.objects.filter(as_of__lte=end, as_of__gte=shown[0].start_time.date()))
    days = pd.Series(sorted(set(assignments.order_by().values_list("as_of", flat=True).distinct())), dtype=object)
    if days.empty:
        return None
    last = days.groupby([pd.Period(d, "M") for d in days]).max()
    frame = read_frame(assignments.filter(as_of__in=list(last)).order_by()
                       .values_list("as_of", "tier", "account_id"),
                       ["as_of", "tier", "account_id"])
    frame["month"] = pd.to_datetime(frame["as_of"]).dt.to_period("M")
    rows, groups = [], {}
    for (month, tier), part in frame.groupby(["month", "tier"], sort=True):
        rows.append([str(month), tier, len(part)])
        groups[f"{month}:{tier}"] = part["account_id"]
    return rows, groups


@figure("value.economics")
def unit_economics(scope, period) -> dict:
    """Per channel (and all channels): spend, new customers, CAC, LTV, LTV:CAC, CAC as a share of
    LTV with its band (healthy below 30%, warning to 50%, alarm above) and payback months."""
    columns = ["channel", "spend", "new_customers", "cac", "ltv", "ltv_to_cac", "cac_share_of_ltv", "health",
               "payback_months"]
    bands = {"warning": HEALTHY_CAC_SHARE, "alarm": ALARM_CAC_SHARE}
    found = economics._economics(scope, period)
    if isinstance(found, str):
        return empty(scope, period, columns, found, bands=bands)
    blended, channels, new = found
    rows = []
    for row in [*channels.itertuples(index=False), blended]:
        get = row.__getitem__ if isinstance(row, pd.Series) else lambda c, r=row: getattr(r, c)
        rows.append([get("channel"), finite(get("spend")), int(get("new_customers")),
                     *(finite(get(c)) for c in ("cac", "ltv", "ltv_to_cac", "cac_share_of_ltv")),
                     get("health") if isinstance(get("health"), str) else None, finite(get("payback_months"))])
    channel_of = dict(scope.accounts.filter(pk__in=new).values_list("pk", "acquisition_channel"))
    groups = {economics.BLENDED: new}
    for account, channel in channel_of.items():
        groups.setdefault(channel or "unattributed", []).append(account)
    return make(scope, period, columns, rows, groups=groups, bands=bands)


