"""Building the (x, t_x, T, m_x) summary from a transaction log."""

from pathlib import Path

import pandas as pd
import pytest

from clm.analytics.clv.data import calibration_and_holdout, read_cdnow, rfm_summary
from clm.analytics.clv.errors import CLVInputError

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow"


def transactions(*rows):
    return pd.DataFrame(rows, columns=["customer", "date", "amount"]).assign(
        date=lambda f: pd.to_datetime(f["date"])
    )


def test_the_first_purchase_starts_the_clock_and_is_not_counted():
    log = transactions(
        ("ann", "2024-01-01", 10.0),
        ("ann", "2024-01-15", 20.0),
        ("ann", "2024-01-29", 40.0),
        ("bob", "2024-01-08", 99.0),
    )
    summary = rfm_summary(log, "2024-02-05", period="week")
    assert summary.loc["ann"].to_dict() == {"frequency": 2, "recency": 4, "T": 5, "monetary_value": 30}
    assert summary.loc["bob"].to_dict() == {"frequency": 0, "recency": 0, "T": 4, "monetary_value": 0}


def test_purchases_on_the_same_occasion_collapse_into_one_of_their_summed_value():
    log = transactions(
        ("ann", "2024-01-01", 10.0),
        ("ann", "2024-01-03", 5.0),
        ("ann", "2024-01-03", 7.0),
    )
    by_day = rfm_summary(log, "2024-01-08", period="day")
    assert by_day.loc["ann", "frequency"] == 1
    assert by_day.loc["ann", "monetary_value"] == 12
    by_week = rfm_summary(log, "2024-01-08", period="week", occasion="week")  # 2024-01-01 is a Monday
    assert by_week.loc["ann"].to_dict() == {"frequency": 0, "recency": 0, "T": 1, "monetary_value": 0}


def test_transactions_after_the_calibration_end_are_ignored():
    log = transactions(("ann", "2024-01-01", 10.0), ("ann", "2024-03-01", 10.0), ("cy", "2024-03-01", 1.0))
    summary = rfm_summary(log, "2024-01-31", period="day")
    assert list(summary.index) == ["ann"]
    assert summary.loc["ann", "frequency"] == 0
    assert summary.loc["ann", "T"] == 30


def test_the_holdout_counts_later_occasions_of_calibration_customers_only():
    log = transactions(
        ("ann", "2024-01-01", 10.0),
        ("ann", "2024-02-10", 30.0),
        ("ann", "2024-02-20", 50.0),
        ("cy", "2024-02-01", 1.0),
    )
    summary = calibration_and_holdout(log, "2024-01-31", "2024-03-01", period="day")
    assert list(summary.index) == ["ann"]
    assert summary.loc["ann", "frequency_holdout"] == 2
    assert summary.loc["ann", "monetary_value_holdout"] == 40
    assert summary.loc["ann", "duration_holdout"] == 30


def test_cdnow_sample_matches_the_papers_data():
    # 2,357 customers (Fader, Hardie & Lee 2005), 946 of whom bought again in the 39-week
    # calibration period (Fader & Hardie's Gamma-Gamma note); the first customer has x = 2,
    # t_x = 30.43, T = 38.86 weeks, as in the summary lifetimes ships (cdnow_customers_summary.csv).
    summary = rfm_summary(read_cdnow(CDNOW / "CDNOW_sample.txt"), "1997-09-30", period="week")
    assert len(summary) == 2357
    assert (summary["frequency"] > 0).sum() == 946
    first = summary.loc[4]
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (2, 30.43, 38.86)


def test_cdnow_master_has_every_customer():
    log = read_cdnow(CDNOW / "CDNOW_master.txt")
    assert len(log) == 69_659
    assert log["customer"].nunique() == 23_570


def test_unknown_periods_and_holdouts_before_the_calibration_end_are_refused():
    log = transactions(("ann", "2024-01-01", 10.0))
    with pytest.raises(CLVInputError, match="period"):
        rfm_summary(log, "2024-01-31", period="fortnight")
    with pytest.raises(CLVInputError, match="holdout_end"):
        calibration_and_holdout(log, "2024-01-31", "2024-01-01")
    with pytest.raises(CLVInputError, match="calibration_end"):
        rfm_summary(log, "2023-12-31")
