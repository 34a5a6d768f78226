"""A small company worked out by hand (the figures every KPI test checks), in November 2026 with
"today" on 2026-12-07. Each number below is derived in the test that reads it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from clm.automation.models import Case, Delivery
from clm.commerce.models import Subscription
from clm.customers.models import Account
from clm.lifecycle.models import HealthScore, StageTransition
from clm.sales.models import ChannelSpend, Lead, Opportunity
from clm.service.models import SurveyResponse
from clm.usage.models import Feature, UsageDaily, UsageFeatureDaily
from clm.value.models import CLVEstimate, TierAssignment
from tests.factories import ledger, new_subscription, order

TODAY = dt.date(2026, 12, 7)
NOV = dt.date(2026, 11, 1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def d(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


@pytest.fixture(autouse=True)
def _english():
    # the messages tests read are the English ones, whatever language an earlier test left active
    with translation.override("en"):
        yield


@pytest.fixture
def world(owner, outsider):
    return build_world(owner, outsider)


def build_world(owner, outsider):
    """Contracts: A 1000 → 1200 (expansion on Nov 10), B 500 → 400 (contraction Nov 12), C 200 →
    churned Nov 20 ("price"), D new on Nov 5 at 300 (referred by A). Orders: E (new Nov 3, channel
    "event") orders on Nov 10 and Nov 25; F ordered Aug 1 and Nov 15. G came back from dormant on
    Nov 12, H stays dormant. A and D belong to `owner`, the rest to `outsider`."""
    acc = {}
    for name, since, channel, holder in (
        ("A", d(1, 1), "web", owner), ("B", d(2, 1), "web", outsider), ("C", d(3, 1), "web", outsider),
        ("D", d(11, 5), "web", owner), ("E", d(11, 3), "event", outsider), ("F", d(8, 1), "event", outsider),
        ("G", d(1, 1), "web", outsider), ("H", d(1, 1), "web", outsider),
    ):
        acc[name] = Account.objects.create(
            name=name, customer_since=since, acquisition_channel=channel, sales_owner=holder,
            industry="制造" if name in "ABC" else "零售",
        )
    acc["D"].referred_by_account = acc["A"]
    acc["D"].save()

    a = new_subscription(acc["A"], d(9, 1), 1000)
    ledger(a, d(11, 10), "expansion", 1200, 1)
    b = new_subscription(acc["B"], d(9, 1), 500)
    ledger(b, d(11, 12), "contraction", 400, 1)
    c = new_subscription(acc["C"], d(9, 1), 200)
    ledger(c, d(11, 20), "churn", 0, 0, status="cancelled")
    Subscription.objects.filter(pk=c.pk).update(status="cancelled", cancelled_on=d(11, 20), cancel_reason="price")
    new_subscription(acc["D"], d(11, 5), 300)

    order(acc["E"], d(11, 10), 800)
    order(acc["E"], d(11, 25), 900)
    order(acc["F"], d(8, 1), 500)
    order(acc["F"], d(11, 15), 700)

    for name, stage, day in (
        ("A", "growth", d(10, 1)), ("B", "mature", d(10, 1)), ("C", "at_risk", d(10, 1)), ("C", "churned", d(11, 28)),
        ("D", "onboarding", d(11, 5)), ("E", "onboarding", d(11, 3)), ("G", "dormant", d(9, 1)),
        ("G", "reactivated", d(11, 12)), ("H", "dormant", d(8, 1)),
    ):
        StageTransition.objects.create(account=acc[name], date=day, to_stage=stage, rule="test")
    for name, band in (("A", "green"), ("B", "yellow"), ("D", "red"), ("E", "green")):
        HealthScore.objects.create(account=acc[name], as_of=d(11, 30), model="default", score=50, score_int=50,
                                   band=band, coverage=1, components=[])

    Feature.objects.create(key="reports", is_core=True)
    UsageDaily.objects.create(account=acc["D"], day=d(11, 8), active_users=2, events=5)
    UsageDaily.objects.create(account=acc["E"], day=d(11, 20), active_users=1, events=5)
    UsageFeatureDaily.objects.create(account=acc["D"], day=d(11, 8), feature="reports", events=3, minutes=10)
    UsageFeatureDaily.objects.create(account=acc["E"], day=d(11, 20), feature="reports", events=3, minutes=10)

    for i, score in enumerate((10, 10, 9, 8, 3)):
        SurveyResponse.objects.create(account=acc["A" if i < 3 else "B"], score=score, responded_at=at(d(11, 10 + i)))

    for i, (mql, sql, won) in enumerate(((True, True, True), (True, True, False), (True, False, False), (True, False, False))):
        Lead.objects.create(
            name=f"lead{i}", company=f"co{i}", mal_at=at(d(11, 1)), mql_at=at(d(11, 2)) if mql else None,
            sql_at=at(d(11, 3)) if sql else None, converted_at=at(d(11, 21)) if won else None,
            account=acc["D"] if won else None,
        )
    for i, stage in enumerate(("won", "won", "won", "lost")):
        Opportunity.objects.create(account=acc["ABDE"[i]], name=f"opp{i}", stage=stage, closed_on=d(11, 10 + i))

    ChannelSpend.objects.create(channel="web", month=NOV, amount=Decimal("6000"))
    ChannelSpend.objects.create(channel="event", month=NOV, amount=Decimal("4000"))
    for name, value, margin in (("D", 30000, 1000), ("E", 20000, 500)):
        CLVEstimate.objects.create(account=acc[name], as_of=d(11, 30), method="sbg", value=value,
                                   historical_value=0, future_value=value, inputs={"monthly_margin": margin})
    TierAssignment.objects.create(account=acc["E"], as_of=d(11, 30), tier="t", tier_label="t", tenure_years=0,
                                  total_revenue=1700, value_class="important_value")
    TierAssignment.objects.create(account=acc["F"], as_of=d(11, 30), tier="t", tier_label="t", tenure_years=0,
                                  total_revenue=1200, value_class="general_keep")

    for i, (opened, clicked) in enumerate(((True, True), (True, False), (False, False), (False, False))):
        Delivery.objects.create(channel="email", key=f"k{i}", status="sent", sent_at=at(d(11, 5)), account=acc["A"],
                                opened_at=at(d(11, 6)) if opened else None, clicked_at=at(d(11, 6)) if clicked else None)
    for i, outcome in enumerate(("closed_success", "closed_lost", "closed_lost")):
        Case.objects.create(account=acc["CGH"[i]], type="win_back", reason="r", status="closed", outcome=outcome,
                            closed_at=at(d(11, 15)))
    return acc
