"""Timeline first page for an account with three years of history, among 1,000 other accounts
with the same density of records. Target: under 50 ms. Reference: one indexed query for the
newest 50 interactions of the same account, measured in the same run.

    python bench/bench_timeline.py            # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_timeline.py
"""

import datetime as dt
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, summary, timed  # noqa: E402

ACCOUNTS = 1000
DAYS = 3 * 365


def build():
    from django.db import transaction
    from django.utils import timezone

    from clm.commerce.models import Order, Payment, Subscription, SubscriptionChange
    from clm.customers.models import Account, Interaction
    from clm.service.models import SurveyResponse, Ticket
    from clm.usage.models import UsageDaily

    start = dt.date.today() - dt.timedelta(days=DAYS)
    tz = timezone.get_current_timezone()
    with transaction.atomic():
        accounts = Account.objects.bulk_create([Account(name=f"Account {i}") for i in range(ACCOUNTS)])
        for chunk in np.array_split(np.array([a.pk for a in accounts]), 20):
            interactions, orders, payments, tickets, surveys, usage, subs = [], [], [], [], [], [], []
            for account_id in chunk.tolist():
                for d in range(0, DAYS, 5):  # a touch every five days: ~220 interactions
                    at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(9 + d % 8), tzinfo=tz)
                    interactions.append(Interaction(account_id=account_id, type="call", occurred_at=at, summary="call"))
                for d in range(0, DAYS, 30):
                    day = start + dt.timedelta(days=d)
                    orders.append(Order(account_id=account_id, ordered_on=day, amount=100))
                    payments.append(Payment(account_id=account_id, due_on=day, amount=100))
                for d in range(0, DAYS, 14):
                    at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(11), tzinfo=tz)
                    tickets.append(Ticket(account_id=account_id, subject="ticket", opened_at=at))
                for d in range(0, DAYS, 90):
                    at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(15), tzinfo=tz)
                    surveys.append(SurveyResponse(account_id=account_id, score=8, responded_at=at))
                usage += [
                    UsageDaily(account_id=account_id, day=start + dt.timedelta(days=d), events=20, active_users=3, minutes=40)
                    for d in range(DAYS)
                ]
                subs.append(Subscription(account_id=account_id, start_date=start, mrr=1000))
            Interaction.objects.bulk_create(interactions, batch_size=5000)
            Order.objects.bulk_create(orders, batch_size=5000)
            Payment.objects.bulk_create(payments, batch_size=5000)
            Ticket.objects.bulk_create(tickets, batch_size=5000)
            SurveyResponse.objects.bulk_create(surveys, batch_size=5000)
            UsageDaily.objects.bulk_create(usage, batch_size=5000)
            for sub in Subscription.objects.bulk_create(subs):
                SubscriptionChange.objects.create(
                    subscription=sub, account_id=sub.account_id, effective_date=start, kind="new",
                    mrr_before=0, mrr_after=1000, seats_before=0, seats_after=10, status_after="active",
                )
    return accounts[ACCOUNTS // 2].pk


def main():
    label = setup_django("timeline")
    from django.db import connection, reset_queries

    from clm.customers.models import Interaction
    from clm.web.timeline import timeline

    print(f"database: {label}; building {ACCOUNTS} accounts x 3 years ...", flush=True)
    account_id = build()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    page = timeline(account_id, limit=50)
    print(f"history of the account: {Interaction.objects.filter(account_id=account_id).count()} interactions, "
          f"first page {len(page.items)} items of {len({i.kind for i in page.items})} kinds")

    first = timed(lambda: timeline(account_id, limit=50), 200)
    deep_cursor = page.next_cursor
    for _ in range(20):
        deep_cursor = timeline(account_id, cursor=deep_cursor, limit=50).next_cursor
    deep = timed(lambda: timeline(account_id, cursor=deep_cursor, limit=50), 200)
    reference = timed(
        lambda: list(Interaction.objects.filter(account_id=account_id).order_by("-occurred_at")[:50]), 200
    )
    reset_queries()
    import statistics

    ratio = statistics.median(first) / statistics.median(reference)
    print(f"timeline first page (50 items): {summary(first)}   target < 50 ms")
    print(f"timeline page 21:               {summary(deep)}")
    print(f"reference, one indexed query:   {summary(reference)}")
    print(f"ratio timeline / one query: {ratio:.1f}x (the timeline runs 7 source queries and merges)")


if __name__ == "__main__":
    main()
