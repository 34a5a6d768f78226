"""The worklist's order: revenue at risk within 90 days, by a hand-made example."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from clm.automation import ranking
from clm.commerce.models import Subscription, SubscriptionChange
from clm.customers.models import Account
from clm.lifecycle.models import ChurnModel, ChurnPrediction, HealthScore

TODAY = dt.date(2026, 6, 30)


def test_a_probability_is_restated_over_90_days_with_a_constant_hazard():
    # 1 − (1 − 0.5)^(90/180) = 1 − √0.5
    assert ranking.within_horizon(0.5, 180) == pytest.approx(1 - 0.5**0.5)
    assert ranking.within_horizon(0.34, 90) == pytest.approx(0.34)


def test_band_rates_count_churn_within_90_days_after_the_snapshot():
    scores = pd.DataFrame({
        "account": [1, 2, 3, 4, 1],
        "as_of": pd.to_datetime(["2026-01-01"] * 4 + ["2026-02-01"]),
        "band": ["red", "red", "green", "green", "red"],
    })
    # account 1 churns 60 days after its first snapshot (and 29 after its second); account 2 only
    # after 120 days; green ones never.
    churns = pd.DataFrame({"account": [1, 2], "date": pd.to_datetime(["2026-03-02", "2026-05-01"])})
    rates = ranking.band_churn_rates(scores, churns)
    assert rates == {"red": (pytest.approx(2 / 3), 3), "green": (0.0, 2)}


def test_rank_orders_by_arr_times_risk_and_puts_unknown_risks_last():
    frame = pd.DataFrame({
        "account": [1, 2, 3, 4],
        "arr": [240_000.0, 1_000_000.0, 50_000.0, 2_000_000.0],
        "probability": [0.34, 0.05, 0.9, np.nan],
    })
    ranked = ranking.rank(frame)
    # 81,600 > 50,000 > 45,000, then the unknown one
    assert list(ranked["account"]) == [1, 2, 3, 4]
    assert list(ranked["at_risk"][:3]) == pytest.approx([81_600, 50_000, 45_000])


@pytest.mark.django_db
def test_accounts_at_stake_uses_the_model_else_the_band_and_explains_each(owner, settings):
    settings.LANGUAGE_CODE = "en"
    model = ChurnModel.objects.create(version="v1", kind="logit", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"", active=True)

    def account(name, mrr, band):
        a = Account.objects.create(name=name, sales_owner=owner, health_band=band)
        Subscription.objects.create(account=a, mrr=Decimal(mrr), status="active", start_date=dt.date(2025, 1, 1))
        return a

    modelled = account("Modelled", 20_000, "yellow")  # ARR 240,000 × 34%
    ChurnPrediction.objects.create(account=modelled, as_of=TODAY - dt.timedelta(days=1), model=model, probability=0.34)
    red = account("Red", 50_000, "red")  # ARR 600,000 × observed red rate 50% = 300,000
    unknown = account("Unscored", 1_000_000, "")
    # history: two red accounts 100 days ago, one of which churned 40 days later
    past = TODAY - dt.timedelta(days=100)
    for i, churns in enumerate((True, False)):
        old = Account.objects.create(name=f"Old {i}")
        HealthScore.objects.create(account=old, as_of=past, model="m", score=40, score_int=40, band="red", coverage=1,
                                   components=[])
        if churns:
            sub = Subscription.objects.create(account=old, mrr=1, status="cancelled", start_date=dt.date(2024, 1, 1))
            ledger = {"subscription": sub, "account": old, "seats_before": 1, "seats_after": 1}
            SubscriptionChange.objects.create(**ledger, kind="new", effective_date=dt.date(2024, 1, 1),
                                              status_after="active", mrr_before=0, mrr_after=1)
            SubscriptionChange.objects.create(**ledger, kind="churn", effective_date=past + dt.timedelta(days=40),
                                              status_after="cancelled", mrr_before=1, mrr_after=0)
    stakes = ranking.accounts_at_stake(Account.objects.filter(sales_owner=owner), today=TODAY)
    assert [s.account_id for s in stakes] == [red.pk, modelled.pk, unknown.pk]
    assert [s.basis for s in stakes] == ["band", "model", ""]
    assert stakes[0].at_risk == pytest.approx(300_000)
    assert stakes[1].explanation == "ARR ¥240,000 × 34% churn risk within 90 days (churn model)"
    assert stakes[0].explanation == "ARR ¥600,000 × 50% churn risk within 90 days (observed in health band At risk)"
    assert stakes[2].explanation == "ARR ¥12,000,000 · no churn risk estimate yet"
