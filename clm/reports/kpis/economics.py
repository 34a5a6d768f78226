"""Unit economics for the company: CAC (by channel), LTV:CAC with the seed's 30% / 50% CAC-share
lines, CAC payback months (clm.analytics.acquisition over clm.value's frames), and customer
equity, the sum of the customers' CLV (clm.value's estimates)."""

from __future__ import annotations

import math

import pandas as pd
from django.db.models import Max
from django.utils.translation import gettext as _

from clm.analytics.acquisition import unit_economics
from clm.core.frames import money
from clm.value.models import CLVEstimate
from clm.value.services.reports import acquisition_frames

from .base import Result, Scope, finite, missing, not_computed_by

BLENDED = "all"


def company_only() -> str:
    return _(
        "CAC divides the company's whole spend by all its new customers: it is shown for the whole "
        "company, without a segment, to those who see every account."
    )


def _economics(scope: Scope, period):
    """(the period's blended row, its rows per channel, the period's new customers) or a reason."""

    def compute():
        as_of = period.as_of(scope.today)
        spend, customers, values, _day = acquisition_frames(as_of, since=period.start, valued_on=scope.today)
        if spend.empty and customers.empty:
            return _("No spend and no new customer in %(period)s.") % {"period": period.label}
        if spend.empty:  # CAC would read 0: the spend is missing, not free
            return _("No marketing or sales spend is recorded for %(period)s (channel spend).") % {
                "period": period.label}
        blended = unit_economics(
            spend.assign(channel=BLENDED), customers.assign(acquisition_channel=BLENDED), values,
            period=period.kind, as_of=as_of,
        )
        by_channel = unit_economics(spend, customers, values, period=period.kind, as_of=as_of)
        key = pd.Period(period.start, {"month": "M", "quarter": "Q", "year": "Y"}[period.kind])
        row = blended[blended["period"] == key]
        if row.empty:
            return _("No spend and no new customer in %(period)s.") % {"period": period.label}
        since = pd.to_datetime(customers["customer_since"]).dt.date
        new = customers[(since >= period.start) & (since <= as_of)]["account_id"]
        return row.iloc[0], by_channel[by_channel["period"] == key], sorted(int(i) for i in new)

    if not scope.company_wide:
        return company_only()
    return scope.memo(("economics", period.label), compute)


def cac(scope: Scope, period) -> Result:
    found = _economics(scope, period)
    if isinstance(found, str):
        return missing(found)
    row, channels, new = found
    if finite(row["cac"]) is None:
        return missing(_("No new customer was won in %(period)s: CAC is undefined.") % {"period": period.label})
    return Result(
        value=float(row["cac"]), numerator=float(row["spend"]), denominator=float(row["new_customers"]),
        account_ids=new,
        breakdown={str(r.channel): round(float(r.cac), 2) for r in channels.itertuples() if finite(r.cac) is not None},
    )


def _ratio(scope: Scope, period, column: str, reason) -> Result:
    found = _economics(scope, period)
    if isinstance(found, str):
        return missing(found)
    row, channels, new = found
    value = finite(row[column])
    if value is None:
        return missing(reason)
    parts = {
        "ltv": finite(row["ltv"]), "cac": finite(row["cac"]), "monthly_margin": finite(row["monthly_margin"]),
        "cac_share_of_ltv": finite(row["cac_share_of_ltv"]),
    }
    return Result(
        value=value,
        numerator=parts["ltv"] if column == "ltv_to_cac" else parts["cac"],
        denominator=parts["cac"] if column == "ltv_to_cac" else parts["monthly_margin"],
        account_ids=new, breakdown={k: v for k, v in parts.items() if v is not None},
    )


def ltv_to_cac(scope: Scope, period) -> Result:
    return _ratio(scope, period, "ltv_to_cac", _(
        "LTV:CAC needs the CLV of the period's new customers and a CAC above 0 (run “clm clv”)."))


def payback_months(scope: Scope, period) -> Result:
    return _ratio(scope, period, "payback_months", _(
        "Payback needs a CAC and the new customers' monthly margin (run “clm clv”)."))


def customer_equity(scope: Scope, period) -> Result:
    """Sum of the customers' CLV (historical + future) on the latest estimate day up to the period's end."""
    estimates = scope.records(CLVEstimate.objects.filter(as_of__lte=period.as_of(scope.today)))
    day = estimates.aggregate(day=Max("as_of"))["day"]
    if day is None:
        return missing(not_computed_by(CLVEstimate, scope, _("CLV")))
    rows = list(estimates.filter(as_of=day).values_list("account_id", money("value")))
    total = math.fsum(v for _a, v in rows)  # the same whatever order the rows came in
    return Result(value=total, numerator=total, denominator=float(len(rows)),
                  account_ids=sorted(a for a, _v in rows))
