"""Builders of customer histories in the database for the value tests: a subscription cohort from
survivor counts, and the CDNOW transaction sample as order-only accounts."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from clm.analytics.clv import read_cdnow
from clm.commerce.models import Order, Product, Subscription, SubscriptionChange
from clm.customers.models import Account
from tests.factories import order  # noqa: F401  (the value tests import it from here)

CDNOW_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
if not CDNOW_SAMPLE.exists():
    CDNOW_SAMPLE = Path("/work/shared/data/CDNOW_sample.txt")

# Fader & Hardie (2007), "How to project customer retention", Journal of Interactive Marketing
# 21(1), 76–90, Table 1: customers of the "regular" segment still active after years 0 … 7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def month_start(year: int, month_index: int) -> dt.date:
    """The first day of the month ``month_index`` months after January of ``year``."""
    return dt.date(year + month_index // 12, month_index % 12 + 1, 1)


def subscription_cohort(
    alive, *, start=dt.date(2024, 1, 1), mrr=Decimal("100.00"), prefix="c", **account_fields
):
    """A cohort of alive[0] accounts whose contracts start on ``start``; alive[t−1] − alive[t] of
    them churn at the end of month t (their MRR is 0 at the end of that month). Returns the
    accounts, the ones still active last."""
    n = alive[0]
    accounts = Account.objects.bulk_create(
        [Account(name=f"{prefix}{i:05d}", customer_since=start, **account_fields) for i in range(n)]
    )
    subs = Subscription.objects.bulk_create(
        [Subscription(account=a, start_date=start, mrr=mrr, status="active") for a in accounts]
    )
    changes = [
        SubscriptionChange(
            subscription=s, account_id=s.account_id, effective_date=start, kind="new",
            mrr_before=0, mrr_after=mrr, seats_before=0, seats_after=1, status_after="active",
        )
        for s in subs
    ]  # fmt: skip
    position = 0
    for t in range(1, len(alive)):
        for s in subs[position : position + alive[t - 1] - alive[t]]:
            changes.append(
                SubscriptionChange(
                    subscription=s, account_id=s.account_id, effective_date=month_start(start.year, start.month - 1 + t),
                    kind="churn", mrr_before=mrr, mrr_after=0, seats_before=1, seats_after=0, status_after="cancelled",
                )
            )  # fmt: skip
        position += alive[t - 1] - alive[t]
    SubscriptionChange.objects.bulk_create(changes)
    return accounts


def cdnow_orders(*, cost_share=Decimal("0")) -> dict[int, Account]:
    """The CDNOW 1/10 sample (Fader, Hardie & Lee 2005): one account per customer, one order per
    transaction (amount in dollars). Returns the accounts by CDNOW customer id."""
    transactions = read_cdnow(CDNOW_SAMPLE)
    ids = sorted(transactions["customer"].unique())
    accounts = dict(
        zip(ids, Account.objects.bulk_create([Account(name=f"cdnow {i}") for i in ids]), strict=True)
    )
    Order.objects.bulk_create(
        [
            Order(
                account=accounts[c], ordered_on=d.date(), amount=Decimal(f"{a:.2f}"),
                cost=(Decimal(f"{a:.2f}") * cost_share).quantize(Decimal("0.01")),
            )
            for c, d, a in zip(transactions["customer"], transactions["date"], transactions["amount"], strict=True)
        ],
        batch_size=2000,
    )  # fmt: skip
    return accounts


@pytest.fixture
def products(db):
    return {
        name: Product.objects.create(name=name, list_price=Decimal("1000"), is_recurring=False)
        for name in ("Platform", "IoT module", "Training")
    }

