"""Cohort tables by start month: worked examples computed by hand, unobserved cells left blank,
properties of retention shares, and bad inputs refused."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import cohorts
from clm.analytics.value_frames import AnalyticsInputError

NAN = np.nan


def activity() -> pd.DataFrame:
    # a and b start in January, c in February, d in March; data runs to March
    rows = [
        ("a", "2024-01", 100), ("a", "2024-02", 150), ("a", "2024-03", 120),
        ("b", "2024-01", 50), ("b", "2024-03", 50),  # away in February, back in March
        ("c", "2024-02", 30),
        ("d", "2024-03", 10),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["account_id", "month", "revenue"])


def matrix(rows, months=("2024-01", "2024-02", "2024-03")) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        index=pd.PeriodIndex(months[: len(rows)], freq="M", name="cohort"),
        columns=pd.RangeIndex(len(rows[0]), name="months_since_start"),
        dtype=float,
    )


def test_logo_and_revenue_retention_match_the_worked_example():
    tables = cohorts.cohort_retention(activity())
    assert tables.sizes.tolist() == [2, 1, 1]
    # January cohort (a, b): month 1 only a is active (1/2), month 2 both (2/2)
    # February cohort (c): gone in March; March cohort (d): only month 0 observed
    pd.testing.assert_frame_equal(tables.retention, matrix([[1, 0.5, 1], [1, 0, NAN], [1, NAN, NAN]]))
    # January revenue 150 → 150 → 170: revenue retention 1, 1, 170/150
    pd.testing.assert_frame_equal(tables.revenue, matrix([[150, 150, 170], [30, 0, NAN], [10, NAN, NAN]]))
    pd.testing.assert_frame_equal(
        tables.revenue_retention, matrix([[1, 1, 170 / 150], [1, 0, NAN], [1, NAN, NAN]])
    )


def test_activity_without_revenue_counts_rows():
    tables = cohorts.cohort_retention(activity().drop(columns="revenue"), value=None)
    assert tables.revenue is None
    assert tables.active.loc["2024-01"].tolist() == [2, 1, 2]


def test_months_with_zero_revenue_are_not_activity_and_end_extends_observation():
    frame = pd.concat([activity(), pd.DataFrame([("e", "2024-02", 0)], columns=activity().columns)])
    tables = cohorts.cohort_retention(frame, end="2024-04")
    assert "e" not in set(frame[frame["revenue"] > 0]["account_id"])
    assert tables.sizes.sum() == 4
    assert tables.retention.loc["2024-01"].tolist() == [1, 0.5, 1, 0]  # April observed, nobody active


def test_repurchase_cohorts_match_the_worked_example():
    orders = pd.DataFrame(
        [
            ("a", "2024-01-03", 10), ("a", "2024-01-03", 5),  # two orders, one day: one occasion
            ("a", "2024-01-20", 20),  # a's repurchase, in its first month
            ("b", "2024-01-05", 30), ("b", "2024-03-01", 40),  # b comes back in month 2
            ("c", "2024-02-01", 50),
        ],
        columns=["account_id", "date", "amount"],
    )  # fmt: skip
    tables = cohorts.repurchase_cohorts(orders, as_of="2024-04-10")
    months = ("2024-01", "2024-02")
    assert tables.sizes.tolist() == [2, 1]
    # share ordering in month k: January cohort 2/2, 0, 1/2 (b), 0; February cohort c once
    pd.testing.assert_frame_equal(tables.retention, matrix([[1, 0, 0.5, 0], [1, 0, 0, NAN]], months))
    # cumulative share who came back: a in month 0, b by month 2
    pd.testing.assert_frame_equal(tables.repurchase, matrix([[0.5, 0.5, 1, 1], [0, 0, 0, NAN]], months))
    # January cohort revenue: 65 in month 0, 40 in month 2
    pd.testing.assert_frame_equal(
        tables.revenue_retention, matrix([[1, 0, 40 / 65, 0], [1, 0, 0, NAN]], months)
    )


def test_repurchase_cohorts_refuse_orders_after_the_as_of_date():
    orders = pd.DataFrame({"account_id": ["a"], "date": ["2024-05-01"], "amount": [10]})
    with pytest.raises(
        AnalyticsInputError, match="orders row 0, date = '2024-05-01': is after the as-of date 2024-04-30"
    ):
        cohorts.repurchase_cohorts(orders, as_of="2024-04-30")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("revenue", -1, "revenue cannot be negative"),
        ("month", "soon", "is not a date"),
        ("account_id", " ", "is missing"),
    ],
)
def test_it_rejects_bad_activity_rows(column, value, message):
    frame = activity().astype({column: object})
    frame.loc[3, column] = value
    with pytest.raises(AnalyticsInputError, match=f"activity row 3, {column}.*{message}"):
        cohorts.cohort_retention(frame)


def test_empty_frames_give_empty_tables():
    tables = cohorts.cohort_retention(pd.DataFrame(columns=["account_id", "month", "revenue"]))
    assert tables.sizes.empty and tables.retention.empty and tables.revenue.empty
    tables = cohorts.repurchase_cohorts(
        pd.DataFrame(columns=["account_id", "date", "amount"]), as_of="2024-01-01"
    )
    assert tables.repurchase.empty


@settings(deadline=None, max_examples=50)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abcdefg"), st.integers(0, 8), st.sampled_from([0, 1, 20, 55.5])),
        min_size=1,
        max_size=40,
    )
)
def test_retention_shares_start_at_one_and_stay_between_zero_and_one(rows):
    frame = pd.DataFrame(
        [(a, str(pd.Period("2024-01", "M") + k), v) for a, k, v in rows],
        columns=["account_id", "month", "revenue"],
    )
    tables = cohorts.cohort_retention(frame)
    if tables.sizes.empty:
        return
    assert (tables.retention[0] == 1).all()
    observed = tables.retention.stack().dropna()
    assert ((observed >= 0) & (observed <= 1)).all()
    assert tables.sizes.sum() == frame[frame["revenue"] > 0]["account_id"].nunique()
    # cells past the last month of the data (zero rows count: they were looked at) are blank
    last = max(pd.Period(m, "M") for m in frame["month"])
    for cohort, row in tables.retention.iterrows():
        assert row.notna().sum() == (last - cohort).n + 1
