"""``Known``, everything the value recomputation reads as of a date, and the order frame as the
analytics core's transactions. The ledger and order loaders are clm.commerce.frames', shared with
the lifecycle metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import models

from clm.commerce.frames import change_frame, order_frame
from clm.commerce.models import OrderLine
from clm.core.frames import day_numbers, iso, read_frame
from clm.customers.models import Account, LifecycleStage


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
    churned: frozenset = frozenset()  # accounts churned on as_of: no future value, no tier, no offer

    @classmethod
    def load(cls, as_of: dt.date, churned=None) -> Known:
        """``churned``: the accounts churned on as_of (the lifecycle run's stages); the accounts
        whose stored stage is churned when not given."""
        if churned is None:
            churned = Account.objects.filter(lifecycle_stage=LifecycleStage.CHURNED).values_list("id", flat=True)
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
        return cls(
            as_of, accounts, order_frame(as_of=as_of), change_frame(as_of=as_of), lines, frozenset(map(int, churned))
        )

    @property
    def as_of_day(self) -> int:
        return int(np.datetime64(self.as_of, "D").astype(np.int64))
