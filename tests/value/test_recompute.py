"""The daily value recomputation: CLV by the right model for each account, checked against the
published estimates; no data from after the as-of date; the same rows when repeated; tiers, RFM,
recommendations and loyalty earnings."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from clm.analytics.clv import ShiftedBetaGeometricModel
from clm.analytics.tiers import DEFAULT_TIERS
from clm.commerce.models import Order
from clm.core import workspace
from clm.core.models import Workspace
from clm.customers.models import Account
from clm.value import services
from clm.value.models import CLVEstimate, LoyaltyEntry, Recommendation, TierAssignment, TierRule

from .conftest import REGULAR, cdnow_orders, order, subscription_cohort

pytestmark = pytest.mark.django_db


def test_contract_accounts_are_valued_with_the_sbg_of_fader_and_hardie_2007():
    # One cohort whose survivors follow Fader & Hardie (2007) Table 1, "regular" segment, with a
    # month as the period: the fit must be the paper's α = 0.704, β = 1.182 (their Table 2).
    accounts = subscription_cohort(REGULAR)
    summary = services.recompute(dt.date(2024, 8, 15))  # 7 months after the start
    sbg = summary["models"]["sbg"]
    assert (round(sbg["alpha"], 3), round(sbg["beta"], 3)) == (0.704, 1.182)
    assert summary["clv_by_method"] == {"sbg": 1000}

    survivor = CLVEstimate.objects.get(account=accounts[-1])
    model = ShiftedBetaGeometricModel(sbg["alpha"], sbg["beta"])
    # 7 renewals made; no orders, so the margin rate is 1 and the monthly margin the MRR of 100
    expected = 100 * float(model.discounted_expected_residual_lifetime(workspace.clv_settings().monthly_discount_rate, 7))
    assert float(survivor.future_value) == pytest.approx(expected, abs=0.01)
    assert survivor.method == "sbg"
    assert survivor.inputs["active"] is True
    assert survivor.inputs["months_in_current_contract_spell"] == 7
    assert survivor.inputs["cohort"] == "2024-01"
    assert survivor.inputs["retention_next_month"] == pytest.approx(
        (1.182 + 7) / (0.704 + 1.182 + 7), abs=1e-3
    )

    first_to_leave = CLVEstimate.objects.get(account=accounts[0])
    assert first_to_leave.future_value == 0
    assert first_to_leave.inputs["active"] is False


def test_order_accounts_are_valued_with_bgnbd_fitted_as_in_fader_hardie_lee_2005():
    # CDNOW sample, calibration = the first 39 weeks of 1997 (to 1997-09-30): Fader, Hardie & Lee
    # (2005), "Counting your customers the easy way", Marketing Science 24(2), p. 279:
    # r = 0.243, α = 4.414, a = 0.793, b = 2.426. The file's later transactions (the paper's
    # holdout) are in the database too, and must not be used.
    accounts = cdnow_orders()
    summary = services.recompute(dt.date(1997, 9, 30))
    bg = summary["models"]["bgnbd"]
    assert [round(bg[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert summary["clv_by_method"] == {"bgnbd": 2357}
    assert Order.objects.filter(ordered_on__gt=dt.date(1997, 9, 30)).exists()

    estimate = CLVEstimate.objects.get(account=accounts[4])  # the paper's example file's first customer
    assert estimate.method == "bgnbd"
    assert 0 < estimate.inputs["p_alive"] <= 1
    assert estimate.inputs["horizon_months"] == 36  # the workspace's default
    # no cost recorded: the margin is the revenue, and the value adds what was earned so far
    assert estimate.historical_value == Decimal(str(estimate.inputs["revenue_to_date"]))
    assert float(estimate.future_value) == pytest.approx(
        estimate.inputs["expected_discounted_revenue"], abs=0.01
    )
    assert estimate.value == estimate.historical_value + estimate.future_value


def test_nothing_after_the_as_of_date_changes_the_figures():
    cohort = subscription_cohort(REGULAR[:5], prefix="s")
    buyers = [Account.objects.create(name=f"b{i}") for i in range(3)]
    for i, buyer in enumerate(buyers):
        order(buyer, dt.date(2024, 1, 10 + i), "500.00")
    as_of = dt.date(2024, 4, 20)
    services.recompute(as_of)
    before = list(
        CLVEstimate.objects.order_by("account_id").values_list("account_id", "method", "value", "inputs")
    )
    tiers_before = list(
        TierAssignment.objects.order_by("account_id").values_list("account_id", "tier", "rfm_code")
    )

    # the future arrives: a big order, churn of every survivor, a new customer
    order(buyers[0], dt.date(2024, 6, 1), "90000.00")
    for account in cohort[-3:]:
        sub = account.subscriptions.get()
        sub.changes.create(
            account=account, effective_date=dt.date(2024, 5, 2), kind="churn", mrr_before=100, mrr_after=0,
            seats_before=1, seats_after=0, status_after="cancelled",
        )  # fmt: skip
    Account.objects.create(name="later", customer_since=dt.date(2024, 9, 1))

    services.recompute(as_of)
    after = list(
        CLVEstimate.objects.order_by("account_id").values_list("account_id", "method", "value", "inputs")
    )
    assert after == before
    assert list(
        TierAssignment.objects.order_by("account_id").values_list("account_id", "tier", "rfm_code")
    ) == (tiers_before)
    assert not LoyaltyEntry.objects.filter(date__gt=as_of).exists()


def test_recompute_is_idempotent_for_a_date(products):
    subscription_cohort(REGULAR[:4])
    buyer = Account.objects.create(name="buyer")
    order(buyer, dt.date(2024, 1, 5), "1234.00", products=[products["Platform"]])
    first = services.recompute(dt.date(2024, 3, 31))
    rows = lambda: sorted(CLVEstimate.objects.values_list("account_id", "as_of", "value"))  # noqa: E731
    estimates = rows()
    ledger = sorted(LoyaltyEntry.objects.values_list("account_id", "kind", "points"))
    second = services.recompute(dt.date(2024, 3, 31))
    assert rows() == estimates
    assert sorted(LoyaltyEntry.objects.values_list("account_id", "kind", "points")) == ledger
    assert first["clv_estimates"] == second["clv_estimates"] == CLVEstimate.objects.count()
    assert second["loyalty_entries"] == {"purchase": 0, "referral": 0, "expiry": 0}


def test_an_unfittable_base_falls_back_to_historical_clv_and_says_why():
    buyer = Account.objects.create(name="one-off")
    order(buyer, dt.date(2024, 2, 1), "800.00", cost=Decimal("300.00"))
    summary = services.recompute(dt.date(2024, 6, 30))
    estimate = CLVEstimate.objects.get(account=buyer)
    assert estimate.method == "historical"
    assert estimate.value == Decimal("500.00")  # seed: historical CLV = total revenue − total cost
    assert "BG/NBD could not be fitted" in estimate.inputs["reason"]
    assert any("BG/NBD" in p for p in summary["problems"])
    assert estimate.inputs["not_enough_data"] == {
        "model": "BG/NBD", "customers": 1, "repeat_buyers": 0, "needed": 30, "needed_repeat_buyers": 10,
    }


def test_ten_order_accounts_get_their_value_so_far_not_an_absurd_forecast():
    """A ten-account demo once valued an account at 1.6e44 from a BG/NBD + Gamma-Gamma fit on
    ten customers: such a base is not enough data, and each account keeps its historical CLV."""
    rng = np.random.default_rng(7)
    buyers = [Account.objects.create(name=f"buyer {i}") for i in range(10)]
    for buyer in buyers:
        for day in sorted(rng.choice(150, size=int(rng.integers(1, 5)), replace=False)):
            order(buyer, dt.date(2024, 1, 1) + dt.timedelta(days=int(day)), f"{rng.uniform(100, 900):.2f}")
    summary = services.recompute(dt.date(2024, 6, 30))
    assert summary["clv_by_method"] == {"historical": 10}
    for estimate in CLVEstimate.objects.filter(account__in=buyers):
        assert estimate.future_value == 0 and estimate.value == estimate.historical_value
        assert estimate.inputs["not_enough_data"]["customers"] == 10


def test_tiers_follow_tenure_and_revenue_with_rfm():
    as_of = dt.date(2025, 6, 30)
    strategic = Account.objects.create(name="strategic", customer_since=dt.date(2020, 1, 1))
    key = Account.objects.create(name="key", customer_since=dt.date(2023, 6, 1))
    standard = Account.objects.create(name="standard", customer_since=dt.date(2021, 1, 1))
    order(strategic, dt.date(2025, 6, 1), "1200000.00")
    order(key, dt.date(2024, 6, 1), "400000.00")
    order(standard, dt.date(2022, 6, 1), "10000.00")
    Account.objects.create(name="prospect")  # no order, no contract, no customer-since date
    services.recompute(as_of)
    tiers = dict(TierAssignment.objects.values_list("account__name", "tier"))
    assert tiers == {"strategic": "strategic", "key": "key", "standard": "standard"}
    row = TierAssignment.objects.get(account=strategic)
    assert row.recency_days == 29 and row.frequency == 1 and row.monetary == Decimal("1200000.00")
    r_scores = dict(TierAssignment.objects.values_list("account__name", "rfm_code"))
    assert r_scores["strategic"][0] > r_scores["key"][0] > r_scores["standard"][0]  # recency ranks
    assert row.tenure_years == pytest.approx((as_of - dt.date(2020, 1, 1)).days / 365.2425, abs=1e-4)
    assert DEFAULT_TIERS[0].key == "strategic"

    # a company sets its own thresholds
    TierRule.objects.create(position=1, key="vip", label="VIP", min_total_revenue=Decimal("300000"))
    TierRule.objects.create(position=2, key="other", label="Other")
    services.recompute(as_of)
    assert dict(TierAssignment.objects.values_list("account__name", "tier")) == {
        "strategic": "vip",
        "key": "vip",
        "standard": "other",
    }


def test_misconfigured_tiers_are_reported_not_crashing_the_run():
    buyer = Account.objects.create(name="buyer", customer_since=dt.date(2024, 1, 1))
    order(buyer, dt.date(2024, 1, 2), "100.00")
    TierRule.objects.create(position=1, key="big", label="Big", min_total_revenue=Decimal("1000"))
    summary = services.recompute(dt.date(2024, 6, 30))  # no catch-all last tier
    assert any("tiers" in p and "last tier" in p for p in summary["problems"])
    assert not TierAssignment.objects.exists()
    assert CLVEstimate.objects.filter(account=buyer).exists()


def test_cross_sell_recommendation_with_due_window_and_reason(products):
    platform, iot = products["Platform"], products["IoT module"]
    # seed 002: customers who buy A buy B about half a year later
    for i in range(6):
        account = Account.objects.create(name=f"pattern {i}")
        order(account, dt.date(2023, 1, 1 + i), "1000.00", products=[platform])
        order(account, dt.date(2023, 7, 1 + i), "500.00", products=[iot])
    newcomer = Account.objects.create(name="newcomer")
    order(newcomer, dt.date(2024, 3, 1), "1000.00", products=[platform])
    for i in range(4):  # buyers of other things keep the lift above 1
        order(
            Account.objects.create(name=f"other {i}"),
            dt.date(2023, 3, 1),
            "100.00",
            products=[products["Training"]],
        )

    summary = services.recompute(dt.date(2024, 4, 1))
    rec = Recommendation.objects.get(account=newcomer)
    assert rec.product == iot and rec.because_of == platform
    assert rec.status == "open"
    assert "about 6 months later" in rec.reason and "IoT module" in rec.reason
    assert dt.date(2024, 8, 1) <= rec.due_from <= rec.due_to <= dt.date(2024, 9, 30)
    assert summary["recommendations"]["created"] >= 1

    # sales dismiss it: it is not reopened by the next run
    services.set_recommendation_status(rec, "dismissed")
    services.recompute(dt.date(2024, 4, 2))
    assert Recommendation.objects.get(pk=rec.pk).status == "dismissed"

    # reopened and then bought: converted
    services.set_recommendation_status(rec, "open")
    order(newcomer, dt.date(2024, 8, 20), "500.00", products=[iot])
    services.recompute(dt.date(2024, 8, 21))
    assert Recommendation.objects.get(pk=rec.pk).status == "converted"


def test_points_are_earned_on_purchases_and_referrals_once():
    referrer = Account.objects.create(name="referrer", customer_since=dt.date(2023, 1, 1))
    referred = Account.objects.create(name="referred", referred_by_account=referrer)
    order(referrer, dt.date(2024, 1, 5), "1234.56")  # ⌊1234.56 × 0.01⌋ = 12 points
    order(referrer, dt.date(2024, 1, 6), "99.99")  # 0 points: no entry
    order(referred, dt.date(2024, 2, 1), "300.00")  # the referred account becomes a customer
    services.recompute(dt.date(2024, 3, 1))
    assert services.balance(referrer) == 12 + 500  # the workspace's default referral points
    assert services.balance(referred) == 3
    entry = LoyaltyEntry.objects.get(kind="referral")
    assert (
        entry.account == referrer and entry.referred_account == referred and entry.date == dt.date(2024, 2, 1)
    )
    services.recompute(dt.date(2024, 3, 2))
    assert LoyaltyEntry.objects.count() == 3


def test_old_daily_history_is_thinned_to_month_starts():
    buyer = Account.objects.create(name="buyer")
    order(buyer, dt.date(2024, 1, 2), "100.00")
    for day in (dt.date(2024, 2, 1), dt.date(2024, 2, 2), dt.date(2024, 6, 30)):
        services.recompute(day)
    assert sorted(CLVEstimate.objects.values_list("as_of", flat=True)) == [
        dt.date(2024, 2, 1),
        dt.date(2024, 6, 30),
    ]
    assert np.all(np.diff([d.toordinal() for d in CLVEstimate.objects.values_list("as_of", flat=True)]) != 0)


def test_an_empty_database_recomputes_to_nothing():
    Account.objects.create(name="a lead, nothing bought yet")
    summary = services.recompute(dt.date(2024, 1, 1))
    assert summary["clv_estimates"] == summary["tier_assignments"] == 0
    assert summary["problems"] == [] and summary["loyalty_entries"] == {
        "purchase": 0,
        "referral": 0,
        "expiry": 0,
    }


def test_the_number_of_queries_does_not_grow_with_the_accounts(products):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def base(n, prefix):
        subscription_cohort([n, n - 1, n - 2], prefix=prefix)
        for i in range(n):
            buyer = Account.objects.create(
                name=f"{prefix} buyer {i}", referred_by_account=Account.objects.first()
            )
            order(buyer, dt.date(2024, 1, 1 + i % 20), "300.00", products=[products["Platform"]])
            order(buyer, dt.date(2024, 2, 1 + i % 20), "200.00", products=[products["Training"]])

    def queries(day):
        with CaptureQueriesContext(connection) as captured:
            services.recompute(day)
        return len(captured)

    base(30, "small")  # 30 buyers: the fewest BG/NBD is fitted on
    small = queries(dt.date(2024, 3, 1))
    assert CLVEstimate.objects.filter(as_of=dt.date(2024, 3, 1), method="bgnbd").count() == 30
    base(60, "large")
    assert queries(dt.date(2024, 3, 2)) == small


def test_points_expire_oldest_first_when_the_rules_say_so():
    settings = Workspace.current()
    settings.loyalty_expiry_months = 12  # a workspace setting an admin edits
    settings.save()
    buyer = Account.objects.create(name="buyer")
    order(buyer, dt.date(2023, 1, 10), "5000.00")  # 50 points, expire on 2024-01-10
    order(buyer, dt.date(2023, 9, 1), "2000.00")  # 20 points, still valid in March 2024
    services.recompute(dt.date(2023, 12, 1))
    services.redeem_points(buyer, 30, on=dt.date(2023, 12, 2))  # spends the oldest: 20 of the 50 left
    summary = services.recompute(dt.date(2024, 3, 1))
    assert summary["loyalty_entries"]["expiry"] == 1
    assert LoyaltyEntry.objects.get(kind="expiry").points == -20
    assert services.balance(buyer) == 20
    assert services.recompute(dt.date(2024, 3, 2))["loyalty_entries"]["expiry"] == 0
