"""The worklist's order: revenue at risk within 90 days, by a hand-made example."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.cache import cache
from django.utils import timezone, translation

from clm.analytics.uplift import share_saved
from clm.automation import ranking
from clm.automation.models import Enrollment
from clm.commerce.models import Subscription, SubscriptionChange
from clm.customers.models import Account
from clm.lifecycle.models import ChurnModel, ChurnPrediction, HealthScore
from tests.automation.conftest import playbook_doc

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


# -- expected revenue saved, once a play has proven uplift ---------------------------------------


def test_the_share_saved_is_the_relative_risk_reduction():
    # Laupacis, Sackett & Roberts, NEJM 318 (1988) 1728–1733: RRR = (CER − EER) / CER. Held-out
    # accounts retained 75% (25% churned), treated 78% (22%): (0.25 − 0.22) / 0.25 = 12%.
    assert share_saved(0.78, 0.75) == pytest.approx(0.12)
    assert share_saved(0.5, 1.0) == 0.0  # the held-out group lost no one: nothing to save
    with pytest.raises(ValueError, match="held_out_rate must lie in 0..1"):
        share_saved(0.5, 1.5)


def test_rank_puts_accounts_with_a_proven_play_first_by_expected_revenue_saved():
    frame = pd.DataFrame(
        {
            "account": [1, 2, 3, 4],
            "arr": [240_000.0, 600_000.0, 100_000.0, 50_000.0],
            "probability": [0.34, 0.5, 0.2, np.nan],
            "saved": [0.12, np.nan, 0.6, np.nan],
        }
    )
    ranked = ranking.rank(frame)
    # 240,000 × 34% × 12% = 9,792 and 100,000 × 20% × 60% = 12,000 saved come before 300,000 at risk
    assert list(ranked["account"]) == [3, 1, 2, 4]
    assert list(ranked["saved_value"][:2]) == pytest.approx([12_000, 9_792])
    assert np.isnan(ranked["saved_value"][2]) and ranked["at_risk"][2] == pytest.approx(300_000)


def _retention_history(playbook, accounts, *, treated, treated_kept, held, held_kept):
    """Matured enrollments (started 120 days ago, 90-day window) with churn 30 days in for the
    accounts that were not kept."""
    start = timezone.now() - dt.timedelta(days=120)
    churn_day = timezone.localdate(start) + dt.timedelta(days=30)
    groups = [(False, treated, treated_kept), (True, held, held_kept)]
    n = 0
    for held_out, size, kept in groups:
        for i in range(size):
            account = accounts[n]
            n += 1
            Enrollment.objects.create(
                playbook=playbook, version=playbook.current, account=account, held_out=held_out,
                dedupe_key=f"history:{account.pk}", started_at=start, status="completed",
            )  # fmt: skip
            sub = Subscription.objects.create(
                account=account, mrr=1, status="active", start_date=dt.date(2024, 1, 1)
            )
            ledger = {"subscription": sub, "account": account, "seats_before": 1, "seats_after": 1}
            SubscriptionChange.objects.create(**ledger, kind="new", effective_date=dt.date(2024, 1, 1),
                                              status_after="active", mrr_before=0, mrr_after=1)  # fmt: skip
            if i >= kept:
                SubscriptionChange.objects.create(**ledger, kind="churn", effective_date=churn_day,
                                                  status_after="cancelled", mrr_before=1, mrr_after=0)  # fmt: skip


@pytest.mark.django_db
def test_work_ranks_by_expected_revenue_saved_once_a_play_has_proven_uplift(owner, settings, save):
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    today = timezone.localdate()
    model = ChurnModel.objects.create(version="v1", kind="logit", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"", active=True)  # fmt: skip
    playbook = save(playbook_doc("winback", holdout=0.5, outcome={"kind": "retained", "days": 90},
                                 name={"zh": "流失挽回", "en": "Win-back"}))  # fmt: skip
    history = Account.objects.bulk_create([Account(name=f"History {i}") for i in range(100)])
    # treated kept 44 of 50 (12% lost), held out kept 35 of 50 (30% lost): saves (0.30 − 0.12)/0.30 = 60%
    _retention_history(playbook, history, treated=50, treated_kept=44, held=50, held_kept=35)

    def account(name, mrr, probability):
        a = Account.objects.create(name=name, sales_owner=owner, health_band="red")
        Subscription.objects.create(
            account=a, mrr=Decimal(mrr), status="active", start_date=dt.date(2025, 1, 1)
        )
        ChurnPrediction.objects.create(account=a, as_of=today, model=model, probability=probability)
        return a

    worked = account("Worked", 20_000, 0.34)  # ARR 240,000 × 34% × 60% = 48,960 saved
    big = account("Big", 50_000, 0.5)  # ARR 600,000 × 50% = 300,000 at risk, no play on it
    Enrollment.objects.create(playbook=playbook, version=playbook.current, account=worked,
                              dedupe_key="now", status="active")  # fmt: skip
    mine = Account.objects.filter(sales_owner=owner)

    stakes = ranking.accounts_at_stake(mine, today=today)
    assert [s.account_id for s in stakes] == [worked.pk, big.pk]
    assert stakes[0].saved_share == pytest.approx(0.6) and stakes[0].saved_value == pytest.approx(48_960)
    assert stakes[0].explanation == "ARR ¥240,000 × 34% risk × 60% saved by Win-back"
    assert stakes[1].explanation == "ARR ¥600,000 × 50% churn risk within 90 days (churn model)"
    with translation.override("zh-hans"):
        cache.clear()
        chinese = ranking.accounts_at_stake(mine, today=today)[0].explanation
    assert chinese == "ARR ¥240,000 × 34% 流失风险 × 流失挽回可挽回 60%"


@pytest.mark.django_db
def test_without_proven_uplift_work_stays_ranked_by_revenue_at_risk(owner, save):
    cache.clear()
    today = timezone.localdate()
    model = ChurnModel.objects.create(version="v1", kind="logit", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"", active=True)  # fmt: skip
    playbook = save(playbook_doc("winback", holdout=0.5, outcome={"kind": "retained", "days": 90}))
    history = Account.objects.bulk_create([Account(name=f"History {i}") for i in range(100)])
    # 44 of 50 against 40 of 50: the interval includes 0, so nothing is proven
    _retention_history(playbook, history, treated=50, treated_kept=44, held=50, held_kept=40)
    worked = Account.objects.create(name="Worked", sales_owner=owner)
    big = Account.objects.create(name="Big", sales_owner=owner)
    for a, mrr, p in ((worked, 20_000, 0.34), (big, 50_000, 0.5)):
        Subscription.objects.create(
            account=a, mrr=Decimal(mrr), status="active", start_date=dt.date(2025, 1, 1)
        )
        ChurnPrediction.objects.create(account=a, as_of=today, model=model, probability=p)
    Enrollment.objects.create(playbook=playbook, version=playbook.current, account=worked,
                              dedupe_key="now", status="active")  # fmt: skip
    stakes = ranking.accounts_at_stake(Account.objects.filter(sales_owner=owner), today=today)
    assert [s.account_id for s in stakes] == [big.pk, worked.pk]
    assert stakes[1].play == "" and stakes[1].saved_value is None
