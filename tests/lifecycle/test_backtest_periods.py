"""The backtest judges the early warning separately on the dates the flag threshold was chosen on
(in sample) and on the later, held-out dates (out of time): a worked example by hand."""

import datetime as dt

import pandas as pd
import pytest

from clm.lifecycle.backtest import _period, _training_end

D = dt.date


def test_a_period_is_judged_on_its_own_flags_and_churners():
    # Replayed 2024-01-01 – 06-30; a churner is in scope when it churned 90 days after the first
    # date at the earliest and 90 days after the last at the latest (03-31 – 09-28).
    # A: flagged 01-08 and 01-15, churned 05-01: first flag 114 days ahead, caught in time.
    # B: flagged 03-04, churned 05-15: 72 days ahead, too late. C: flagged 02-05, stayed (its
    # 180 days observed): a wrong flag. D: churned 08-01, never flagged. E: flagged 07-15, after
    # the period: not counted. F: churned 2023-12-01, before the period: not in scope.
    flags = pd.DataFrame({
        "account": ["A", "A", "B", "C", "E"],
        "date": pd.to_datetime(["2024-01-08", "2024-01-15", "2024-03-04", "2024-02-05", "2024-07-15"]),
    })  # fmt: skip
    churns = pd.DataFrame({
        "account": ["A", "B", "D", "F"],
        "date": pd.to_datetime(["2024-05-01", "2024-05-15", "2024-08-01", "2023-12-01"]),
        "event": "churn",
    })  # fmt: skip
    part = _period(flags, churns, D(2024, 1, 1), D(2024, 6, 30), min_lead_days=90, horizon_days=180,
                   observed_until=D(2025, 6, 30))  # fmt: skip
    assert (part["churners"], part["churners_flagged_in_time"]) == (3, 1)  # A, B, D; A in time
    assert part["recall_in_time"] == pytest.approx(1 / 3)
    assert (part["flagged"], part["flags_judged"]) == (3, 3)  # A, B, C
    assert part["precision"] == pytest.approx(2 / 3)  # A and B churned within 180 days of their flag
    # 95% Wilson intervals of 1/3 and 2/3 (three accounts say little)
    assert part["recall_in_time_ci"] == [0.0615, 0.7923] and part["precision_ci"] == [0.2077, 0.9385]
    assert part["flags_followed_by_churn"] == 2
    # point in time: 4 account-days flagged (A twice, B, C), 3 followed by churn within 180 days
    assert part["point_in_time"] == {"judged": 4, "precision": pytest.approx(3 / 4)}
    assert (part["from"], part["to"]) == ("2024-01-01", "2024-06-30")


def test_out_of_time_counts_each_accounts_first_flag_within_the_later_dates():
    # The same flags judged from 2024-02-01: A's flags (01-08, 01-15) are before the period, so
    # A counts as a churner not flagged within it; B (03-04, too late) and C (02-05) are flagged.
    flags = pd.DataFrame({
        "account": ["A", "A", "B", "C"],
        "date": pd.to_datetime(["2024-01-08", "2024-01-15", "2024-03-04", "2024-02-05"]),
    })  # fmt: skip
    churns = pd.DataFrame({"account": ["A", "B"], "date": pd.to_datetime(["2024-05-01", "2024-05-15"]), "event": "churn"})
    part = _period(flags, churns, D(2024, 2, 1), D(2024, 6, 30), min_lead_days=90, horizon_days=180,
                   observed_until=D(2025, 6, 30))  # fmt: skip
    assert (part["churners"], part["churners_flagged_in_time"], part["flagged"]) == (2, 0, 2)
    assert part["recall_in_time"] == 0 and part["precision"] == pytest.approx(1 / 2)


def test_an_empty_period_and_a_model_without_a_window_give_none():
    empty = pd.DataFrame({"account": [], "date": pd.to_datetime([])})
    churns = pd.DataFrame({"account": [], "date": pd.to_datetime([]), "event": []})
    assert _period(empty, churns, D(2024, 7, 1), D(2024, 6, 30), min_lead_days=90, horizon_days=180,
                   observed_until=None) is None  # fmt: skip
    assert _training_end(None) is None

    class Row:
        metadata = {"window": ["2023-05-01", "2024-03-31"]}

    assert _training_end(Row()) == D(2024, 3, 31)
