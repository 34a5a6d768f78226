"""The demo's KPI targets: what a manager of a company like the demo's would aim for, set for the
last complete month, the current month and the current quarter, so the overview marks the KPIs
that miss them from the first start. The targets are fixed aims, not read from the results."""

import datetime as dt

from clm.reports.models import KpiTarget
from clm.reports.periods import Period

# KPI key → target (shares from 0 to 1)
TARGETS = {
    "nrr": 1.0,  # keep the base's revenue, expansion included
    "grr": 0.95,
    "logo_churn": 0.02,  # at most 2% of the customers lost in a month
    "healthy_share": 0.6,
    "win_rate": 0.3,
    "nps": 30,
    "active_rate_30d": 0.7,
    "reactivation_rate": 0.05,
}
QUARTER_SCALED = {"logo_churn": 3}  # a quarter's churn target is three months' worth


def set_targets(as_of: dt.date) -> int:
    month = Period.of("month", as_of)
    periods = [month.previous(), month, Period.of("quarter", as_of)]
    rows = [
        KpiTarget(kpi=key, period=period.label, value=value * (QUARTER_SCALED.get(key, 1) if period.kind == "quarter" else 1))
        for period in periods
        for key, value in TARGETS.items()
    ]
    KpiTarget.objects.filter(period__in=[p.label for p in periods], kpi__in=list(TARGETS)).delete()
    KpiTarget.objects.bulk_create(rows)
    return len(rows)
