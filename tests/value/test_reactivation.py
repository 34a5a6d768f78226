"""Reactivation potential of dormant customers from the records: P(alive) of the latest BG/NBD
estimate, past revenue, the days quiet and why they went quiet, ranked and explained."""

import datetime as dt
from decimal import Decimal

import pytest

from clm.customers.models import Contact
from clm.service.models import SurveyResponse
from clm.value.models import CLVEstimate, TierAssignment
from clm.value.services import reactivation
from tests.factories import make_account, order

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


def _dormant(name, revenue, last_order, p_alive=None):
    account = make_account(name, lifecycle_stage="dormant", lifecycle_stage_since=last_order + dt.timedelta(days=90))
    order(account, last_order, "100.00")
    TierAssignment.objects.create(account=account, as_of=TODAY, tier="t", tier_label="t", tenure_years=1,
                                  total_revenue=Decimal(revenue))
    if p_alive is not None:
        CLVEstimate.objects.create(account=account, as_of=TODAY, method="bgnbd", value=1, historical_value=0,
                                   future_value=1, inputs={"p_alive": p_alive})
    return account


def test_the_list_ranks_dormant_accounts_and_says_why(admin_user):
    a = _dormant("甲", 50000, TODAY - dt.timedelta(days=90), p_alive=0.8)
    b = _dormant("乙", 10000, TODAY - dt.timedelta(days=180))
    c = _dormant("丙", 90000, TODAY - dt.timedelta(days=360), p_alive=0.3)
    SurveyResponse.objects.create(account=c, kind="nps", score=3, responded_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    Contact.objects.create(account=b, name="张伟", is_key_person=True, status="left", left_on=dt.date(2025, 12, 1))
    make_account("活跃", lifecycle_stage="growth")
    rows = reactivation.dormant_list(admin_user, today=TODAY)
    # 甲 74.1 (the analytics worked example); 乙: recency 0.5 as P(alive), value 1/3, × 0.8 (key
    # person left) = 100 × 0.45 × 0.8 = 36.0; 丙: 100 × 0.5 × 0.6 (detractor) = 30.0
    assert [(r.account.name, r.score) for r in rows] == [("甲", 74.1), ("乙", 36.0), ("丙", 30.0)]
    assert rows[0].lines[0] == "P(alive) from their order history (BG/NBD): 80%"
    assert rows[1].reason == "a key person left" and rows[2].reason == "a detractor NPS answer (0–6)"
    assert "Quiet for 360 days" in rows[2].lines[2]
    assert reactivation.scores([a.pk, 999999], TODAY).tolist()[0] == 74.1


def test_a_restricted_user_sees_only_their_dormant_accounts(owner, outsider, team_visibility):
    mine = _dormant("我的", 100, TODAY - dt.timedelta(days=100))
    mine.sales_owner = owner
    mine.save()
    _dormant("别人的", 100, TODAY - dt.timedelta(days=100))
    assert [r.account.name for r in reactivation.dormant_list(owner, today=TODAY)] == ["我的"]
    assert reactivation.dormant_list(outsider, today=TODAY) == []
