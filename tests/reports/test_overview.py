"""The overview's figures on the small company: health bands week by week, red accounts by owner,
and renewals due with their expected renewal ARR, each worked out by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Subscription
from clm.lifecycle.models import ChurnModel, ChurnPrediction
from clm.reports import figures
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from clm.reports.services import kpi_table
from tests.factories import new_subscription

from .conftest import NOV, TODAY, d

MONTH = Period.of("month", NOV)


def test_the_last_weekly_point_is_the_healthy_share_breakdown(world):
    trend = figures.read("health_trend", Scope(None, today=TODAY), MONTH)["points"]
    # scores exist for Nov 30 only: A green, B yellow, D red, E green → one point, on the period's last day
    assert trend == [{"week": "2026-11-30", "scored_on": "2026-11-30", "green": 2, "yellow": 1, "red": 1}]
    healthy = next(r for r in kpi_table(None, MONTH, today=TODAY) if r.kpi.key == "healthy_share").result
    assert {b: healthy.breakdown[b] for b in ("green", "yellow", "red")} == {"green": 2, "yellow": 1, "red": 1}


def test_weeks_without_a_new_score_carry_the_latest_one(world):
    quarter = Period.parse("2026-Q4")
    points = figures.read("health_trend", Scope(None, today=TODAY), quarter)["points"]
    # Q4 as of Dec 7: 14 week ends back from Dec 7; those from Nov 30 on read the Nov 30 scores
    assert [p["week"] for p in points] == ["2026-11-30", "2026-12-07"]
    assert all(p["scored_on"] == "2026-11-30" and p["red"] == 1 for p in points)


def test_red_accounts_by_owner_add_up_to_the_red_band(world, owner):
    found = figures.read("red_by_owner", Scope(None, today=TODAY), MONTH)
    # D is red and belongs to owner, whose scored accounts are A (green) and D: 1 of 2
    assert found == {"owners": [{"owner": owner.pk, "red": 1, "scored": 2, "share": 0.5}], "red": 1}


@pytest.fixture
def renewing(world):
    # the contracts' MRR as their ledgers left it (the world writes the ledger rows only)
    for name, days, mrr in (("A", 20, 1200), ("B", 60, 400), ("D", 150, 300)):
        Subscription.objects.filter(account=world[name]).update(renewal_date=TODAY + dt.timedelta(days=days), mrr=mrr)
    Subscription.objects.filter(account=world["H"]).update(renewal_date=TODAY + dt.timedelta(days=200))
    model = ChurnModel.objects.create(version="v1", kind="logit", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"")
    ChurnPrediction.objects.create(account=world["A"], as_of=TODAY - dt.timedelta(days=1), model=model,
                                   probability=0.25, factors=[])
    return world


def test_renewals_expect_arr_times_one_minus_the_predicted_risk(renewing):
    found = figures.read("renewals", Scope(None, today=TODAY), MONTH)
    # A: MRR 1200 → ARR 14,400 × (1 − 0.25) = 10,800. B (400 → 4,800) and D (300 → 3,600) have no
    # prediction, and no contract was live through 2025: no retention rate, so no expectation.
    windows = {w["days"]: w for w in found["windows"]}
    assert (windows[30]["accounts"], windows[30]["arr"], windows[30]["expected_arr"]) == (1, 14400, 10800)
    assert (windows[90]["accounts"], windows[90]["arr"], windows[90]["expected_arr"]) == (2, 19200, 10800)
    assert windows[180]["arr"] == 22800 and windows[180]["rules"] == {"churn_model": 1, "unknown": 2}
    assert found["fallback"] == {"period": "2025", "rate": None}
    contracts = [dict(zip(found["columns"], c, strict=True)) for c in found["contracts"]]
    a = next(c for c in contracts if c["account"] == renewing["A"].pk)
    assert (a["arr"], a["probability"], a["rule"], a["expected_arr"]) == (14400, 0.75, "churn_model", 10800)


def test_without_a_prediction_the_last_years_logo_retention_is_used(renewing):
    from clm.customers.models import Account

    # two contract customers live through 2025, one of them lost on 2025-06-01: retention 1 of 2
    for name, ends in (("Y", None), ("Z", d(6, 1, 2025))):
        account = Account.objects.create(name=name, customer_since=d(1, 1, 2024))
        sub = new_subscription(account, d(1, 1, 2024), 100)
        if ends:
            from tests.factories import ledger

            ledger(sub, ends, "churn", 0, 0, status="cancelled")
            Subscription.objects.filter(pk=sub.pk).update(status="cancelled", mrr=Decimal("0"))
    found = figures.read("renewals", Scope(None, today=TODAY), MONTH)
    assert found["fallback"] == {"period": "2025", "rate": 0.5}
    windows = {w["days"]: w for w in found["windows"]}
    # B: 4,800 × 0.5 = 2,400 beside A's 10,800; D: 3,600 × 0.5 = 1,800
    assert windows[90]["expected_arr"] == 10800 + 2400
    assert windows[180]["expected_arr"] == 10800 + 2400 + 1800
    assert windows[180]["rules"] == {"churn_model": 1, "logo_retention": 2}
