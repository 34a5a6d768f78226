"""A small, hand-made customer base whose metrics can be worked out on paper.

"Acme" (a contract customer since 2024-01-01, 10 seats, 1,000/month until 2025-01-01) as of
2024-06-30: the 30 days are 2024-06-01 – 06-30, the baseline the 90 days 2024-03-03 – 05-31.
"Shop" buys without a contract. "Lead" has nothing yet.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Order, Payment, Product, Subscription
from clm.customers.models import Account, Contact, Interaction
from clm.sales.models import Opportunity, OpportunityStageChange
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature, UsageDaily, UsageDailyUser, UsageFeatureDaily
from tests.factories import ledger

AS_OF = dt.date(2024, 6, 30)
D = dt.date


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def days(first: dt.date, last: dt.date):
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def usage(account, day, users: int, core_minutes: float = 0.0, other_minutes: float = 0.0):
    UsageDaily.objects.create(
        account=account, day=day, events=users, active_users=users, minutes=core_minutes + other_minutes
    )
    UsageDailyUser.objects.bulk_create(
        UsageDailyUser(account=account, day=day, user_key=f"u{k}") for k in range(users)
    )
    if core_minutes:
        UsageFeatureDaily.objects.create(
            account=account, day=day, feature="tasks", events=1, minutes=core_minutes
        )
    if other_minutes:
        UsageFeatureDaily.objects.create(
            account=account, day=day, feature="export", events=1, minutes=other_minutes
        )


@pytest.fixture
def world(db):
    Feature.objects.create(key="tasks", is_core=True)
    Feature.objects.create(key="approvals", is_core=True)
    Feature.objects.create(key="export", is_core=False)
    plan = Product.objects.create(name="Pro plan")
    acme = Account.objects.create(name="Acme", industry="制造业", region="华东", employee_count=120)
    shop = Account.objects.create(name="Shop")
    lead = Account.objects.create(name="Lead")

    sub = Subscription.objects.create(
        account=acme,
        product=plan,
        start_date=D(2024, 1, 1),
        end_date=D(2025, 1, 1),
        seats=10,
        mrr=Decimal(1000),
    )
    ledger(sub, D(2024, 1, 1), "new", 800, 8)
    ledger(sub, D(2024, 5, 1), "expansion", 1000, 10)

    # baseline: 60 active days of 6 users and 20 core minutes; the last 30 days: 15 days of 3 users, 5 minutes
    for day in days(D(2024, 3, 3), D(2024, 5, 31)):
        if day.day % 3:  # two days in three: 60 of the 90
            usage(acme, day, 6, core_minutes=20, other_minutes=5)
    for day in days(D(2024, 6, 1), D(2024, 6, 30)):
        if day.day % 2:  # 15 odd days
            usage(acme, day, 3, core_minutes=5)

    Ticket.objects.create(
        account=acme,
        subject="a",
        priority="urgent",
        opened_at=at(D(2024, 6, 10)),
        first_response_at=at(D(2024, 6, 10), 20),
    )  # 10 h > 4 h: breach
    Ticket.objects.create(
        account=acme,
        subject="b",
        priority="normal",
        category="complaint",
        opened_at=at(D(2024, 6, 20)),
        first_response_at=at(D(2024, 6, 20), 12),
    )
    Ticket.objects.create(account=acme, subject="c", priority="low", opened_at=at(D(2024, 4, 1)),
                          first_response_at=at(D(2024, 4, 1), 11))  # fmt: skip
    SurveyResponse.objects.create(account=acme, kind="nps", score=9, responded_at=at(D(2024, 2, 1)))
    SurveyResponse.objects.create(account=acme, kind="nps", score=4, responded_at=at(D(2024, 6, 15)))
    Contact.objects.create(account=acme, name="冯雪", role="champion", status="left", left_on=D(2024, 6, 1))
    Contact.objects.create(account=acme, name="User", role="user", status="left", left_on=D(2024, 6, 2))
    Interaction.objects.create(
        account=acme, type="call", direction="outbound", summary="QBR prep", occurred_at=at(D(2024, 6, 20))
    )
    Interaction.objects.create(account=acme, type="email", direction="inbound", summary="reply",
                               occurred_at=at(D(2024, 6, 25)))  # fmt: skip
    Payment.objects.create(account=acme, due_on=D(2024, 6, 10), amount=1000)  # unpaid: 20 days overdue
    Payment.objects.create(account=acme, due_on=D(2024, 5, 10), paid_on=D(2024, 5, 9), amount=1000)
    deal = Opportunity.objects.create(
        account=acme, name="renewal", type="renewal", expected_close=D(2024, 9, 30)
    )
    OpportunityStageChange.objects.create(opportunity=deal, to_stage="qualify", changed_at=at(D(2024, 6, 1)))

    Order.objects.create(account=shop, ordered_on=D(2024, 2, 1), amount=Decimal(500))
    Order.objects.create(account=shop, ordered_on=D(2024, 6, 1), amount=Decimal(700))
    return {"acme": acme, "shop": shop, "lead": lead, "subscription": sub, "deal": deal}
