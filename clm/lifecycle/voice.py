"""The customer's voice and its people, as metrics as of a date: survey answers (NPS, CSAT) over
a trailing year with their trend, and the key people of the decision chain who are gone.

Part of the metrics source (clm.lifecycle.metrics), which joins these frames to its own.

Definitions.
- ``nps_365d``: the account's Net Promoter Score over the NPS answers of the last 365 days
  (% promoters 9–10 − % detractors 0–6, Reichheld 2003), −100 to 100; missing without an answer.
- ``nps_trend``: the mean NPS answer of the last 180 days minus that of the 180 days before,
  in points of the 0–10 scale; missing unless both half-years have an answer.
- ``csat_365d`` / ``csat_trend``: the same for CSAT (1–5), on the mean answer.
- ``key_people_missing``: per decision-chain role held by key people (decision maker, economic
  buyer, champion, and key people without one of those roles), the key people who had left by the
  date beyond those of the role still there, summed: a champion who left and was replaced is not
  missing, one who left alone is, however long ago. Missing when the account has no key person
  on record: no data about the relationship is not a perfect relationship.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db.models import Count, Q

from clm.customers.models import Contact
from clm.service.models import SurveyResponse

TRAILING_DAYS = 365
TREND_DAYS = 180
KEY_ROLES = (Contact.Role.DECISION_MAKER, Contact.Role.ECONOMIC_BUYER, Contact.Role.CHAMPION)
PROMOTER_MIN, DETRACTOR_MAX = 9, 6


def surveys(w) -> pd.DataFrame:
    """``w``: the metrics source's Window. Latest, trailing and trend of NPS and CSAT per account."""
    rows = pd.DataFrame.from_records(
        list(
            SurveyResponse.objects.filter(responded_at__gte=w.instant(730), responded_at__lt=w.end)
            .order_by("responded_at", "id")
            .values_list("account_id", "kind", "score", "responded_at")
        ),
        columns=["account", "kind", "score", "responded_at"],
    )
    if rows.empty:
        return pd.DataFrame(index=pd.Index([], name="account"))
    rows["score"] = rows["score"].astype(float)
    answered = pd.to_datetime(rows["responded_at"], utc=True)
    latest = rows.groupby(["account", "kind"])["score"].last().unstack()
    out = pd.DataFrame(index=latest.index)
    out["nps_latest"] = latest["nps"] if "nps" in latest else np.nan
    out["csat_latest"] = latest["csat"] if "csat" in latest else np.nan
    out["last_survey"] = answered.groupby(rows["account"]).max()

    year = answered >= pd.Timestamp(w.instant(TRAILING_DAYS))
    recent = answered >= pd.Timestamp(w.instant(TREND_DAYS))
    before = ~recent & (answered >= pd.Timestamp(w.instant(2 * TREND_DAYS)))
    nps = rows["kind"].eq("nps")
    csat = rows["kind"].eq("csat")
    account = rows["account"]
    promoter = (rows["score"] >= PROMOTER_MIN).astype(float)
    detractor = (rows["score"] <= DETRACTOR_MAX).astype(float)
    in_year = nps & year
    counted = in_year.groupby(account).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        net = 100.0 * ((promoter - detractor).where(in_year, 0.0).groupby(account).sum() / counted)
    out["nps_365d"] = net.where(counted > 0)
    out["nps_trend"] = _mean(rows, nps & recent) - _mean(rows, nps & before)
    out["csat_365d"] = _mean(rows, csat & year)
    out["csat_trend"] = _mean(rows, csat & recent) - _mean(rows, csat & before)
    return out


def _mean(rows: pd.DataFrame, mask: pd.Series) -> pd.Series:
    return rows["score"].where(mask).groupby(rows["account"]).mean()


def key_people(w) -> pd.DataFrame:
    """``key_contacts_left_90d`` (the early-warning signal's count) and ``key_people_missing``."""
    gone = Q(left_on__lte=w.as_of) | Q(left_on__isnull=True, status=Contact.Status.LEFT)
    rows = (
        Contact.objects.filter(Q(is_key_person=True) | Q(role__in=KEY_ROLES))
        .values("account_id", "role")
        .annotate(
            left=Count("id", filter=gone),
            left_90d=Count("id", filter=Q(left_on__gt=w.day(90), left_on__lte=w.as_of)),
            staying=Count("id", filter=~gone),
        )
        .values_list("account_id", "role", "left", "left_90d", "staying")
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["account", "role", "left", "left_90d", "staying"])
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="account"))
    # key people without a key role (a KP who is a user or has no role) are one group
    frame["role"] = frame["role"].where(frame["role"].isin(KEY_ROLES), "kp")
    by_role = frame.groupby(["account", "role"])[["left", "left_90d", "staying"]].sum()
    by_role["missing"] = (by_role["left"] - by_role["staying"]).clip(lower=0)
    per_account = by_role.groupby(level="account").sum()
    return pd.DataFrame(
        {
            "key_contacts_left_90d": per_account["left_90d"].astype(float),
            "key_people_missing": per_account["missing"].astype(float),
        }
    )
