"""Churn dates from the contract ledger: the days an account's last live contract ended, and the
days an account with none came back."""

import datetime as dt

import pandas as pd

from clm.commerce.models import Subscription, SubscriptionChange


def churn_events(until: dt.date | None = None) -> pd.DataFrame:
    """Every account-level churn and return in the ledger: the days an account's last live
    contract ended (churn) and the days an account with none came back (return).
    Columns: account, date, event ("churn" or "return")."""
    changes = SubscriptionChange.objects.order_by("effective_date", "id")
    if until is not None:
        changes = changes.filter(effective_date__lte=until)
    frame = pd.DataFrame.from_records(
        list(changes.values_list("subscription_id", "account_id", "effective_date", "status_after")),
        columns=["subscription", "account", "date", "status"],
    )
    return events_of(frame)


def events_of(frame: pd.DataFrame) -> pd.DataFrame:
    """``churn_events`` of a ledger already read: columns subscription, account, date, status
    (the status after each change), oldest first (by date, then as recorded)."""
    if frame.empty:
        return pd.DataFrame(
            {"account": pd.Series(dtype=int), "date": pd.Series(dtype="datetime64[ns]"), "event": []}
        )
    frame["date"] = pd.to_datetime(frame["date"])
    live = frame["status"].isin(Subscription.LIVE_STATUSES).astype(int)
    was_live = live.groupby(frame["subscription"]).shift(1, fill_value=0)
    frame["delta"] = live - was_live
    # several changes of one account on one day count as one net change
    daily = frame.groupby(["account", "date"], sort=True)["delta"].sum().reset_index()
    daily["live"] = daily.groupby("account")["delta"].cumsum()
    daily["before"] = daily.groupby("account")["live"].shift(1, fill_value=0)
    churn = daily[(daily["before"] > 0) & (daily["live"] == 0)].assign(event="churn")
    back = daily[(daily["before"] == 0) & (daily["live"] > 0) & daily.duplicated("account")].assign(
        event="return"
    )
    events = pd.concat([churn, back])[["account", "date", "event"]]
    return events.sort_values(["account", "date"], kind="stable").reset_index(drop=True)
