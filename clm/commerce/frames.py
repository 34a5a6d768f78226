"""The contract ledger and the orders as frames, as of a date: one loader each, read by the
lifecycle metrics and by the value recomputation and its reports."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from clm.commerce.models import Order, SubscriptionChange
from clm.core.frames import day_numbers, iso, money, read_frame

CHANGE_COLUMNS = (
    "account_id", "subscription_id", "effective_date", "kind", "mrr_before", "mrr_after", "seats_after",
    "status_after",
)  # fmt: skip
ORDER_COLUMNS = ("order_id", "account_id", "day", "amount", "cost")


def change_frame(changes=None, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """The contract ledger (``changes``, a SubscriptionChange queryset, or all of it), up to
    ``as_of`` when given, oldest first (by date, then as recorded): columns ``CHANGE_COLUMNS``,
    effective_date as datetime64, MRR as floats."""
    changes = SubscriptionChange.objects.all() if changes is None else changes
    if as_of is not None:
        changes = changes.filter(effective_date__lte=as_of)
    frame = read_frame(
        changes.order_by("effective_date", "id").values_list(
            "account_id",
            "subscription_id",
            iso("effective_date"),
            "kind",
            money("mrr_before"),
            money("mrr_after"),
            "seats_after",
            "status_after",
        ),
        CHANGE_COLUMNS,
    )
    frame["effective_date"] = pd.to_datetime(frame["effective_date"], format="%Y-%m-%d")
    for column in ("mrr_before", "mrr_after"):
        frame[column] = frame[column].astype(float)
    return frame


def order_frame(orders=None, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """Orders (``orders``, an Order queryset, or all of them) up to ``as_of`` when given: columns
    ``ORDER_COLUMNS``, day as days since 1970-01-01, amount and cost as floats."""
    orders = Order.objects.all() if orders is None else orders
    if as_of is not None:
        orders = orders.filter(ordered_on__lte=as_of)
    frame = read_frame(
        orders.order_by().values_list("id", "account_id", iso("ordered_on"), money("amount"), money("cost")),
        ORDER_COLUMNS,
    )
    frame["day"] = day_numbers(frame["day"])
    for column in ("amount", "cost"):
        frame[column] = frame[column].astype(float)
    return frame
