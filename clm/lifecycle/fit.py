"""The lead and account fit in the daily run: who the best customers were (CLV from clm.value,
retention and churn from the record) teaches the lookalike model of clm.sales; then leads and
accounts are rescored, moved forward through the funnel, and assigned."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db.models import Max
from django.utils import timezone

from clm.analytics.fit import NotEnoughCustomers
from clm.customers.models import Account, LifecycleStage
from clm.sales import assignment, funnel, scoring
from clm.sales.models import FitModel
from clm.value.models import CLVEstimate

RETRAIN_DAYS = 7  # the lookalike learns again at most once a week


def outcomes(as_of: dt.date) -> pd.DataFrame:
    """account_id, clv, tenure_days, churned, for every account that has been a customer."""
    latest = CLVEstimate.objects.filter(as_of__lte=as_of).aggregate(day=Max("as_of"))["day"]
    clv = dict(CLVEstimate.objects.filter(as_of=latest).values_list("account_id", "value")) if latest else {}
    rows = [
        {"account_id": pk, "clv": float(clv[pk]) if pk in clv else None, "tenure_days": (as_of - since).days,
         "churned": stage == LifecycleStage.CHURNED}
        for pk, since, stage in Account.objects.filter(customer_since__isnull=False, customer_since__lte=as_of)
        .values_list("pk", "customer_since", "lifecycle_stage")
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "clv", "tenure_days", "churned"])
    return frame[frame["clv"].notna()].reset_index(drop=True)


def train(as_of: dt.date) -> FitModel:
    """Learn the lookalike as of a date (raises NotEnoughCustomers when history is short)."""
    return scoring.train_fit(outcomes(as_of), as_of)


def daily(as_of: dt.date, *, now: dt.datetime | None = None, retrain: bool = False) -> dict:
    """The fit step of the daily run: retrain when due (or asked), rescore, move and assign leads."""
    now = now or timezone.now()
    summary: dict = {}
    latest = FitModel.objects.defer("blob").first()
    if retrain or latest is None or (as_of - latest.as_of).days >= RETRAIN_DAYS:
        try:
            summary["model"] = train(as_of).report.get("model")
        except NotEnoughCustomers as exc:
            summary["model"] = str(exc)
    summary["accounts"] = scoring.score_accounts(now=now)
    summary.update(scoring.score_leads(now=now))
    summary["advanced"] = funnel.advance_leads(now=now)
    summary["reassigned"] = assignment.reassign_stale(now=now)
    summary["assigned"] = assignment.assign_leads(now=now)
    return summary
