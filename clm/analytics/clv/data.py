"""Turn a transaction log into the per-customer summary (x, t_x, T, m_x) the CLV models fit on.

The convention is lifetimes' (``summary_data_from_transaction_data``) and Fader & Hardie's:
the first purchase starts the customer's clock and is not counted, purchases on the same
occasion (day by default) collapse into one whose value is their sum, and the monetary value
is the mean value of the repeat occasions.
"""

from __future__ import annotations

from os import PathLike

import numpy as np
import pandas as pd

from .errors import CLVInputError

DAYS_PER_PERIOD = {"day": 1.0, "week": 7.0, "month": 365.2425 / 12}
_PANDAS_PERIOD = {"week": "W", "month": "M"}


def read_cdnow(path: str | PathLike) -> pd.DataFrame:
    """Read the CDNOW transaction file (master: id, date, CDs, dollars; the 1/10 sample has a
    sample id after the customer id) into columns customer, date, cds, amount."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    if not raw.iloc[0, 0].isdigit():  # the master file has a header line
        raw = raw.iloc[1:]
    if raw.shape[1] == 5:
        raw = raw.drop(columns=1)
    raw.columns = ["customer", "date", "cds", "amount"]
    return pd.DataFrame(
        {
            "customer": raw["customer"].astype(int).to_numpy(),
            "date": pd.to_datetime(raw["date"], format="%Y%m%d").to_numpy(),
            "cds": raw["cds"].astype(int).to_numpy(),
            "amount": raw["amount"].astype(float).to_numpy(),
        }
    )


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end,
    *,
    period: str = "week",
    occasion: str = "day",
    customer: str = "customer",
    date: str = "date",
    amount: str | None = "amount",
) -> pd.DataFrame:
    """Per customer: frequency x (repeat occasions), recency t_x (first to last occasion),
    age T (first occasion to ``calibration_end``), and monetary_value (mean value of the repeat
    occasions; 0 without any, or with ``amount=None``), with t_x and T measured in ``period``.

    ``occasion`` is the granularity at which purchases collapse into one: "day" gives the
    fractional weeks of Fader, Hardie & Lee's CDNOW data (t_x = 30.43 for a customer who came
    back 213 days later); ``occasion=period`` gives lifetimes' whole periods.
    Transactions after the day ``calibration_end`` are ignored; customers first seen after it
    are absent.
    """
    occasions, end = _occasions(transactions, calibration_end, period, occasion, customer, date, amount)
    occasions = occasions[occasions["date"] <= end]
    if occasions.empty:
        raise CLVInputError("calibration_end", str(end.date()), "no transaction on or before this date")
    return _summarise(occasions, end, DAYS_PER_PERIOD[period])


def calibration_and_holdout(
    transactions: pd.DataFrame,
    calibration_end,
    holdout_end,
    *,
    period: str = "week",
    occasion: str = "day",
    customer: str = "customer",
    date: str = "date",
    amount: str | None = "amount",
) -> pd.DataFrame:
    """The calibration summary (``rfm_summary``) of customers first seen by ``calibration_end``,
    with what they did after it, up to ``holdout_end``: frequency_holdout (occasions),
    monetary_value_holdout (their mean value) and duration_holdout (in ``period``)."""
    occasions, cal_end = _occasions(transactions, calibration_end, period, occasion, customer, date, amount)
    hold_end = _truncate(pd.Series([pd.Timestamp(holdout_end)]), occasion).iloc[0]
    if hold_end <= cal_end:
        raise CLVInputError(
            "holdout_end", str(pd.Timestamp(holdout_end).date()), "must be after calibration_end"
        )
    days = DAYS_PER_PERIOD[period]
    summary = _summarise(occasions[occasions["date"] <= cal_end], cal_end, days)

    later = occasions[(occasions["date"] > cal_end) & (occasions["date"] <= hold_end)]
    later = later[later["customer"].isin(summary.index)].groupby("customer")["amount"]
    summary["frequency_holdout"] = later.size().reindex(summary.index, fill_value=0).astype(float)
    summary["monetary_value_holdout"] = later.mean().reindex(summary.index, fill_value=0.0)
    summary["duration_holdout"] = (hold_end - cal_end) / pd.Timedelta(days=1) / days
    return summary


def _occasions(transactions, calibration_end, period, occasion, customer, date, amount):
    for argument, value in (("period", period), ("occasion", occasion)):
        if value not in DAYS_PER_PERIOD:
            raise CLVInputError(argument, value, f"must be one of {sorted(DAYS_PER_PERIOD)}")
    frame = pd.DataFrame(
        {
            "customer": transactions[customer].to_numpy(),
            "date": _truncate(pd.to_datetime(transactions[date]), occasion).to_numpy(),
            "amount": transactions[amount].to_numpy(dtype=float) if amount else 0.0,
        }
    )
    if frame["date"].isna().any():
        raise CLVInputError(date, "NaT", "every transaction needs a date")
    end = _truncate(pd.Series([pd.Timestamp(calibration_end)]), occasion).iloc[0]
    occasions = frame.groupby(["customer", "date"], sort=True, as_index=False)["amount"].sum()
    return occasions, end


def _summarise(occasions: pd.DataFrame, end: pd.Timestamp, days_per_period: float) -> pd.DataFrame:
    by_customer = occasions.groupby("customer", sort=True)
    first = by_customer["date"].transform("min")
    repeat = occasions[occasions["date"] > first]
    stats = by_customer["date"].agg(["min", "max", "size"])
    one_period = pd.Timedelta(days=1) * days_per_period
    summary = pd.DataFrame(
        {
            "frequency": (stats["size"] - 1).astype(float),
            "recency": (stats["max"] - stats["min"]) / one_period,
            "T": (end - stats["min"]) / one_period,
            "monetary_value": repeat.groupby("customer")["amount"]
            .mean()
            .reindex(stats.index, fill_value=0.0),
        }
    )
    summary.index.name = "customer"
    return summary


def _truncate(dates: pd.Series, occasion: str) -> pd.Series:
    dates = dates.dt.normalize()
    if occasion == "day":
        return dates
    return dates.dt.to_period(_PANDAS_PERIOD[occasion]).dt.start_time


def summary_arrays(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) as float arrays from a summary frame."""
    return tuple(summary[column].to_numpy(dtype=float) for column in ("frequency", "recency", "T"))
