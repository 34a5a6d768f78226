"""Where the term end stands against the early warning's horizon (clm.lifecycle.terms), worked out
on the small world of conftest: Acme's logins are 63% below their busiest 30 days on 2024-06-30
(test_metrics: (30 / 19) / (90 / 21) − 1), and its term ends 2025-01-01, 185 days later."""

import numpy as np
import pandas as pd
import pytest

from clm.lifecycle import metrics, terms

from .conftest import AS_OF, D

FALL = 1 - (30 / 19) / (90 / 21)  # 0.632
COLUMNS = ["days_to_renewal", "renewal_within_180d", "renewal_in_90_180d", "logins_fall_before_renewal"]


def acme_row(world, end_date):
    sub = world["subscription"]
    sub.end_date = end_date
    sub.save()
    return metrics.compute(AS_OF).loc[world["acme"].pk, COLUMNS]


def test_a_term_ending_after_the_horizon_hides_the_usage_fall(world):
    """185 days to go: the customer cannot leave within 180 days, so its fall weighs nothing."""
    row = acme_row(world, D(2025, 1, 1))
    assert list(row) == [185, 0, 0, 0]


def test_a_term_ending_in_90_to_180_days_shows_the_fall_in_full(world):
    row = acme_row(world, D(2024, 12, 1))  # 154 days
    assert list(row[:3]) == [154, 1, 1]
    assert row["logins_fall_before_renewal"] == pytest.approx(FALL)


def test_a_term_ending_within_90_days_is_inside_the_horizon_but_too_late_for_a_timely_flag(world):
    row = acme_row(world, D(2024, 9, 1))  # 63 days
    assert list(row[:3]) == [63, 1, 0]
    assert row["logins_fall_before_renewal"] == pytest.approx(FALL)


def test_an_evergreen_contract_can_be_left_any_month(world):
    row = acme_row(world, None)
    assert np.isnan(row["days_to_renewal"]) and np.isnan(row["renewal_within_180d"])
    assert np.isnan(row["renewal_in_90_180d"])
    assert row["logins_fall_before_renewal"] == pytest.approx(FALL)


def test_without_a_live_contract_there_is_no_figure(world):
    frame = metrics.compute(AS_OF)
    for name in ("shop", "lead"):
        assert frame.loc[world[name].pk, COLUMNS[1:]].isna().all(), name


def test_the_boundaries_and_a_rise_in_usage():
    """90 and 180 days are inside the window, 181 is not; logins above their peak are no fall, a
    fall deeper than all is 1; no peak to fall from leaves the figure missing where it counts."""
    frame = pd.DataFrame(
        {
            "days_to_renewal": [89, 90, 180, 181, 30, 30, np.nan],
            "logins_30d_vs_peak": [-0.5, -0.5, 0.4, -0.5, np.nan, -1.0, np.nan],
            "subscriptions_active": [1, 1, 1, 1, 1, 1, 1],
        }
    )
    terms.renewal_window(frame)
    assert frame["renewal_within_180d"].tolist()[:6] == [1, 1, 1, 0, 1, 1]
    assert frame["renewal_in_90_180d"].tolist()[:6] == [0, 1, 1, 0, 0, 0]
    fall = frame["logins_fall_before_renewal"].tolist()
    assert fall[:4] == [0.5, 0.5, 0.0, 0.0] and np.isnan(fall[4]) and fall[5] == 1.0 and np.isnan(fall[6])
