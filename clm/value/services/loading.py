"""Reading the store into frames: the contract ledger and the orders as of a date (one loader each,
shared by the value recomputation, its reports and the lifecycle metrics), and ``Known``,
everything the value recomputation reads.

Rows are fetched through the driver without the ORM's per-value converters: dates come back as
'YYYY-MM-DD' text parsed by pandas in one pass, money as floats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, models
from django.db.models.functions import Cast

from clm.commerce.models import Order, OrderLine, SubscriptionChange
from clm.customers.models import Account

CHANGE_COLUMNS = (
    "account_id", "subscription_id", "effective_date", "kind", "mrr_before", "mrr_after", "seats_after",
    "status_after",
)  # fmt: skip
ORDER_COLUMNS = ("order_id", "account_id", "day", "amount", "cost")


def read_frame(queryset, columns) -> pd.DataFrame:
    """Rows of a values_list queryset as a frame with ``columns``."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(columns)
    return pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


def money(field_name: str):
    return Cast(field_name, models.FloatField())


def iso(field_name):
    """A date column as 'YYYY-MM-DD' text."""
    return Cast(field_name, models.CharField())


def day_numbers(values: pd.Series) -> np.ndarray:
    """Dates (or 'YYYY-MM-DD' text) as days since 1970-01-01."""
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.iloc[0], str):
        values = pd.to_datetime(values, format="%Y-%m-%d")
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


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


def purchases(orders: pd.DataFrame) -> pd.DataFrame:
    """An order frame as the analytics core's transactions: account_id, date, amount."""
    return pd.DataFrame(
        {
            "account_id": orders["account_id"].to_numpy(),
            "date": orders["day"].to_numpy().astype("datetime64[D]"),
            "amount": orders["amount"].to_numpy(),
        }
    )


@dataclass
class Known:
    """Everything recompute reads, restricted to what existed on ``as_of``."""

    as_of: dt.date
    accounts: pd.DataFrame  # account_id, customer_since (day or -1), referred_by
    orders: pd.DataFrame  # ORDER_COLUMNS
    changes: pd.DataFrame  # CHANGE_COLUMNS
    lines: pd.DataFrame  # account_id, day, product_id

    @classmethod
    def load(cls, as_of: dt.date) -> Known:
        accounts = read_frame(
            Account.objects.order_by().values_list("id", "customer_since", "referred_by_account_id"),
            ["account_id", "customer_since", "referred_by"],
        )
        since = pd.to_datetime(accounts["customer_since"])
        accounts["customer_since"] = np.where(
            since.notna() & (since <= pd.Timestamp(as_of)),
            since.to_numpy().astype("datetime64[D]").astype(np.int64),
            -1,
        )
        lines = read_frame(
            # first purchase of each product by each account: all the affinity rules look at
            OrderLine.objects.filter(order__ordered_on__lte=as_of, product__isnull=False)
            .order_by()
            .values_list("order__account_id", "product_id")
            .annotate(first=iso(models.Min("order__ordered_on")))
            .values_list("order__account_id", "first", "product_id"),
            ["account_id", "day", "product_id"],
        )
        lines["day"] = day_numbers(lines["day"])
        return cls(as_of, accounts, order_frame(as_of=as_of), change_frame(as_of=as_of), lines)

    @property
    def as_of_day(self) -> int:
        return int(np.datetime64(self.as_of, "D").astype(np.int64))
