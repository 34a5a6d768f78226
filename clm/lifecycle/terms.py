"""Contract terms as metrics as of a date: how far the end of the current fixed term is, and where
it stands against the early warning's horizon.

Part of the metrics source (clm.lifecycle.metrics), which joins these columns to its own.

Definitions.
- ``days_to_renewal``: days to the end of the current fixed term as it was known on the date (the
  nearest, over the account's live fixed-term contracts); missing for evergreen contracts.
- ``renewal_within_180d``: 1 when a fixed term ends in the next 180 days (the early warning's
  horizon: a flag is right when churn follows within it), 0 when every term ends later; missing
  for evergreen contracts.
- ``renewal_in_90_180d``: 1 when a fixed term ends in 90 to 180 days (a customer leaving at that
  term end can still be flagged 90 days ahead); missing for evergreen contracts.
- ``logins_fall_before_renewal``: the fall of logins from their peak (``-logins_30d_vs_peak``,
  clipped to 0–1) where the customer can leave within 180 days (a fixed term ends by then, or the
  account has a live evergreen contract, which can be cancelled any month); 0 where every term
  runs longer; missing without a live contract, or where there is no peak to fall from.

Why these: B2B customers leave when a term ends, so a churn within 180 days needs a term ending
by then, and a usage fall weighs most when a renewal is near. ``days_to_renewal`` itself is not
monotonic in that risk (30 and 400 days both say "not in time for a flag 90 days ahead"), so a
linear model cannot read it; these forms it can.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db.models import Min

from clm.commerce.models import Subscription, SubscriptionChange

HORIZON_DAYS = 180  # the early warning's horizon (clm.lifecycle.training.HORIZON_DAYS)
LEAD_DAYS = 90  # a flag in time comes 90 days ahead (clm.lifecycle.training.MIN_LEAD_DAYS)


def days_to_renewal(as_of: dt.date, live: pd.DataFrame) -> pd.Series:
    """Days to the end of each live fixed-term contract's term as it was known on the date, the
    nearest per account. ``live``: the contracts live on the date, indexed by subscription.

    The contract row holds today's end date, which a later renewal has moved on or a later
    cancellation has pulled in. So: a renewal recorded after the date happened at the term end
    known then; failing that, a contract cancelled after the date ran to its next yearly
    anniversary as far as anyone knew; otherwise its end (or renewal) date stands."""
    if live.empty:
        return pd.Series(dtype=float)
    subs = pd.DataFrame.from_records(
        list(
            Subscription.objects.filter(id__in=list(live.index), end_date__isnull=False).values_list(
                "id", "account_id", "start_date", "end_date", "renewal_date", "cancelled_on"
            )
        ),
        columns=["subscription", "account", "start", "end", "renewal", "cancelled_on"],
    ).set_index("subscription")
    if subs.empty:
        return pd.Series(dtype=float)
    stamp = pd.Timestamp(as_of)
    later_renewals = pd.DataFrame.from_records(
        list(
            SubscriptionChange.objects.filter(
                subscription_id__in=list(subs.index),
                kind=SubscriptionChange.Kind.RENEWAL,
                effective_date__gt=as_of,
            )
            .values("subscription_id")
            .annotate(first=Min("effective_date"))
            .values_list("subscription_id", "first")
        ),
        columns=["subscription", "first"],
    ).set_index("subscription")["first"]
    term_end = pd.to_datetime(subs["renewal"].where(subs["renewal"].notna(), subs["end"]))
    cancelled_later = pd.to_datetime(subs["cancelled_on"]) > stamp
    if cancelled_later.any():
        start = pd.to_datetime(subs["start"])
        years = np.maximum((stamp - start).dt.days // 365 + 1, 1)
        anniversary = pd.Series(
            [s + pd.DateOffset(years=int(y)) for s, y in zip(start, years, strict=True)], index=subs.index
        )
        anniversary = anniversary.where(anniversary > stamp, anniversary + pd.DateOffset(years=1))
        term_end = term_end.where(~cancelled_later, anniversary)
    renewed = pd.to_datetime(later_renewals.reindex(subs.index))
    term_end = renewed.where(renewed.notna(), term_end)
    days = (term_end - stamp).dt.days.astype(float)
    days = days.where(days >= 0)
    return days.groupby(subs["account"]).min()


def renewal_window(frame: pd.DataFrame) -> None:
    """Add renewal_within_180d, renewal_in_90_180d and logins_fall_before_renewal (see the module)
    to a metrics frame that has days_to_renewal, logins_30d_vs_peak and subscriptions_active."""
    days = frame["days_to_renewal"]
    fixed = days.notna()
    frame["renewal_within_180d"] = (days <= HORIZON_DAYS).astype(float).where(fixed)
    frame["renewal_in_90_180d"] = days.between(LEAD_DAYS, HORIZON_DAYS).astype(float).where(fixed)
    peak = frame["logins_30d_vs_peak"]
    later = fixed & (days > HORIZON_DAYS)
    can_leave = (fixed & ~later) | (~fixed & (frame["subscriptions_active"] > 0))
    fall = (-peak).clip(lower=0.0, upper=1.0)
    frame["logins_fall_before_renewal"] = fall.where(can_leave).where(~later, 0.0)
