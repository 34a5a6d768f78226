"""A churned account has no future value: the value step gives it future value 0 (its CLV is what
it brought), no tier and no offer, and value lists leave it out.

Worked example (CDNOW-free, by hand): three order-only customers as of 2025-06-30, bought with a
cost of 40% (margin 60%):
- "loyal"   since 2020, orders of 600,000 in 2024 and 2025 → revenue 1,200,000, historical CLV
  1,200,000 × 0.6 = 720,000;
- "gone"    since 2020, an order of 1,500,000 in 2021, churned → historical CLV 900,000, future 0;
- "small"   since 2024, an order of 10,000 in 2025 → historical CLV 6,000.
Without the churn, "gone" would be tiered strategic (tenure ≥ 3 years, revenue ≥ 1,000,000 by
the default tiers) and head the value list; churned, it has no tier and is not listed."""

import datetime as dt
from decimal import Decimal

import pytest

from clm.customers.models import Account, LifecycleStage
from clm.value import services
from clm.value.models import CLVEstimate, TierAssignment

from .conftest import REGULAR, order, subscription_cohort

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture
def book(owner):
    accounts = {
        name: Account.objects.create(name=name, customer_since=since, sales_owner=owner)
        for name, since in (("loyal", dt.date(2020, 1, 1)), ("gone", dt.date(2020, 1, 1)), ("small", dt.date(2024, 1, 1)))
    }  # fmt: skip
    order(accounts["loyal"], dt.date(2024, 6, 1), "600000.00", cost=Decimal("240000.00"))
    order(accounts["loyal"], dt.date(2025, 6, 1), "600000.00", cost=Decimal("240000.00"))
    order(accounts["gone"], dt.date(2021, 3, 1), "1500000.00", cost=Decimal("600000.00"))
    order(accounts["small"], dt.date(2025, 5, 1), "10000.00", cost=Decimal("4000.00"))
    return accounts


def test_before_the_churn_the_departed_account_is_tiered_and_ranks_first(book):
    services.recompute(AS_OF, churned=[])
    assert dict(TierAssignment.objects.values_list("account__name", "tier"))["gone"] == "strategic"
    gone = CLVEstimate.objects.get(account=book["gone"])
    assert gone.historical_value == Decimal("900000.00")


def test_a_churned_account_has_no_future_value_no_tier_and_no_place_in_value_lists(book, api_as, owner):
    summary = services.recompute(AS_OF, churned=[book["gone"].pk])
    assert summary["churned_without_future"] == 1
    gone = CLVEstimate.objects.get(account=book["gone"])
    assert (gone.historical_value, gone.future_value, gone.value) == (Decimal("900000.00"), 0, Decimal("900000.00"))
    assert gone.inputs["churned"] is True
    loyal = CLVEstimate.objects.get(account=book["loyal"])
    assert loyal.historical_value == Decimal("720000.00") and "churned" not in loyal.inputs
    tiers = dict(TierAssignment.objects.values_list("account__name", "tier"))
    assert "gone" not in tiers and set(tiers) == {"loyal", "small"}
    listed = api_as(owner).get("/value/clv", order="-value").json_body
    assert [row["account_id"] for row in listed["items"]] == [book["loyal"].pk, book["small"].pk]
    assert listed["count"] == 2


def test_without_the_runs_stages_the_stored_stage_says_who_churned(book):
    Account.objects.filter(pk=book["gone"].pk).update(lifecycle_stage=LifecycleStage.CHURNED)
    services.recompute(AS_OF)
    assert CLVEstimate.objects.get(account=book["gone"]).future_value == 0
    assert not TierAssignment.objects.filter(account=book["gone"]).exists()


def test_a_churned_contract_account_loses_the_future_value_the_sbg_gave_it():
    # Fader & Hardie (2007) Table 1 cohort, 7 months on (see test_recompute): a survivor paying
    # 100 a month is worth 100 × DERL(d, 7) to come; the lifecycle run finding it churned (its
    # contract ended today) leaves it the value it brought only.
    accounts = subscription_cohort(REGULAR)
    services.recompute(dt.date(2024, 8, 15), churned=[])
    alive = CLVEstimate.objects.get(account=accounts[-1])
    assert alive.future_value > 100 and alive.inputs["active"] is True
    services.recompute(dt.date(2024, 8, 15), churned=[accounts[-1].pk])
    gone = CLVEstimate.objects.get(account=accounts[-1])
    assert gone.future_value == 0 and gone.value == gone.historical_value and gone.inputs["churned"] is True
    assert not TierAssignment.objects.filter(account=accounts[-1]).exists()
    other = CLVEstimate.objects.get(account=accounts[-2])
    assert other.future_value == alive.future_value  # the others keep theirs
